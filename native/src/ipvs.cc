#include "ipvs.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "args.h"
#include "netlink.h"

namespace kl {

namespace {

// Kernel dump chunks are at most 32 KiB; a larger buffer never truncates one.
constexpr size_t kBufferSize = 65536;
// Requests per sendmsg are capped by bytes: the kernel refuses a message larger than the
// socket's send buffer (212992 bytes by default).
constexpr size_t kMaxBatchBytes = 32768;
// Receive buffer: the answers to a whole window of requests must fit, or the kernel drops
// them (and we would wait forever).
constexpr int kReceiveBuffer = 4 << 20;
// What one answer can occupy in the receive buffer: an ack is a ~40-byte skb whose true size
// is 700-900 bytes.
constexpr size_t kAnswerBytes = 1024;
constexpr size_t kMinWindow = 8;
constexpr size_t kMaxWindow = 1024;
// Answers handled per Drive() before yielding to the event loop (the rest is read on the next
// iteration): a 10,000-object plan does not hold the thread for its whole duration.
constexpr size_t kDriveBudget = 2048;

// The generic netlink socket, and the receive buffer it got: SO_RCVBUFFORCE needs
// CAP_NET_ADMIN (which IPVS needs anyway); without it rmem_max caps the buffer, and the window
// of unanswered requests shrinks to match. Throws SysError.
int OpenGenericSocket(int& receive_buffer) {
  const int fd = OpenNetlinkSocket(NETLINK_GENERIC, "generic netlink socket", {}, kReceiveBuffer);
  socklen_t len = sizeof receive_buffer;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, &len) < 0) {
    const int err = errno;
    close(fd);
    throw SysError{err, "getsockopt", "SO_RCVBUF on generic netlink socket", {}};
  }
  return fd;
}

Napi::Error FailureToJs(Napi::Env env, const SysError& error, bool unavailable) {
  if (!unavailable) return error.ToJs(env);
  Napi::Error js = Napi::Error::New(env, "IPVS is not available in this kernel (modprobe ip_vs)");
  Napi::Object obj = js.Value();
  obj.Set("errno", Napi::Number::New(env, error.err));
  const char* name = strerrorname_np(error.err);
  std::string code = name != nullptr ? name : "E";
  if (name == nullptr) code += std::to_string(error.err);
  obj.Set("code", Napi::String::New(env, code));
  obj.Set("syscall", Napi::String::New(env, error.syscall));
  return js;
}

}  // namespace

Napi::Function Ipvs::Define(Napi::Env env) {
  return DefineClass(env, "Ipvs",
                     {
                         InstanceMethod<&Ipvs::Apply>("apply"),
                         InstanceMethod<&Ipvs::Dump>("dump"),
                         InstanceMethod<&Ipvs::Info>("info"),
                         InstanceMethod<&Ipvs::GetConfig>("getConfig"),
                         InstanceMethod<&Ipvs::SetConfig>("setConfig"),
                         InstanceMethod<&Ipvs::Close>("close"),
                     });
}

Ipvs::Ipvs(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Ipvs>(info), addon_(&AddonData::Of(info.Env())), poll_(addon_, this, OnPoll) {
  Napi::Env env = info.Env();
  int receive_buffer = 0;
  try {
    fd_.reset(OpenGenericSocket(receive_buffer));
  } catch (const SysError& e) {
    throw e.ToJs(env);
  }
  // The kernel reports the doubled value it accounts with; keep the answers of a window
  // within half of it.
  window_ = std::clamp(static_cast<size_t>(receive_buffer) / 2 / kAnswerBytes, kMinWindow,
                       kMaxWindow);
  const int rc = poll_.Open(fd_.get());
  if (rc < 0) throw MakeSysError(env, -rc, "uv_poll_init", "poll generic netlink socket");
  buffer_.resize(kBufferSize);
  async_.emplace(env, "kubelived:Ipvs", info.This().As<Napi::Object>());
  addon_->Track(this);
  tracked_ = true;
}

Ipvs::~Ipvs() { Release(); }

void Ipvs::Teardown() {
  // No JS may run now: pending promises are dropped with the env.
  inflight_.clear();
  jobs_.clear();
  Release();
}

void Ipvs::Release() {
  poll_.Close();
  fd_.reset();
  if (tracked_) {
    addon_->Untrack(this);
    tracked_ = false;
  }
}

Napi::Value Ipvs::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!tracked_) return env.Undefined();
  // Requests already sent may have been carried out; the caller dumps to find out.
  RejectAll(env, ECANCELED, "Ipvs closed");
  Release();
  SyncActivity();
  return env.Undefined();
}

// The poll runs only while answers are due, so an idle Ipvs does not keep the event loop
// alive; the wrapper is pinned while calls are open, since the kernel answers whether or not
// JS still holds it.
void Ipvs::SyncActivity() {
  if (!inflight_.empty() && fd_) {
    poll_.Start();
  } else {
    poll_.Stop();
  }
  const bool pin = !jobs_.empty();
  if (pin && !pinned_) Ref();
  if (!pin && pinned_) Unref();
  pinned_ = pin;
}

// apply(ops: IpvsOperation[]) -> Promise<(NetError | undefined)[]>
Napi::Value Ipvs::Apply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    ThrowInvalidArg(env, "apply: ops must be an array, got " + Describe(info[0]));
  }
  Napi::Array ops = info[0].As<Napi::Array>();
  auto job = std::make_unique<Job>();
  job->kind = JobKind::kApply;
  // Every operation is checked before any is sent: a malformed plan changes nothing.
  job->requests.reserve(ops.Length());
  for (uint32_t i = 0; i < ops.Length(); i++) {
    job->requests.push_back(
        OperationFromJs(env, ops.Get(i), "apply: ops[" + std::to_string(i) + "]"));
  }
  job->errors.resize(job->requests.size());
  return Submit(env, std::move(job));
}

// dump() -> Promise<DumpedService[]>
Napi::Value Ipvs::Dump(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<Job>();
  job->kind = JobKind::kDump;
  job->requests.push_back(PlainRequest(ServicesDumpRequest(), true));
  return Submit(info.Env(), std::move(job));
}

// info() -> Promise<{version, versionCode, connTableSize}>
Napi::Value Ipvs::Info(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<Job>();
  job->kind = JobKind::kInfo;
  job->requests.push_back(PlainRequest(InfoRequest(), false));
  return Submit(info.Env(), std::move(job));
}

// getConfig() -> Promise<{tcp, tcpFin, udp}>
Napi::Value Ipvs::GetConfig(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<Job>();
  job->kind = JobKind::kGetConfig;
  job->requests.push_back(PlainRequest(ConfigRequest(), false));
  return Submit(info.Env(), std::move(job));
}

// setConfig({tcp?, tcpFin?, udp?}) -> Promise<void>
Napi::Value Ipvs::SetConfig(const Napi::CallbackInfo& info) {
  auto job = std::make_unique<Job>();
  job->kind = JobKind::kSetConfig;
  job->requests.push_back(SetConfigFromJs(info.Env(), info[0], "setConfig: timeouts"));
  return Submit(info.Env(), std::move(job));
}

Napi::Value Ipvs::Submit(Napi::Env env, std::unique_ptr<Job> job) {
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &job->deferred, &promise), Napi::Value());
  if (!fd_) {
    const bool any = !job->requests.empty();
    const SysError closed{EBADF, any ? job->requests.front().syscall : "IPVS",
                          any ? job->requests.front().what : "IPVS", "Ipvs closed"};
    Settle(env, job->deferred, false, closed.ToJs(env).Value());
    return Napi::Value(env, promise);
  }
  jobs_.push_back(std::move(job));
  // Sends at once, and when the kernel's answers are already there (it handles a request
  // inside sendmsg), settles before returning: one change costs no event-loop turn.
  Drive(env);
  return Napi::Value(env, promise);
}

void Ipvs::Drive(Napi::Env env) {
  size_t handled = 0;
  while (fd_ && handled < kDriveBudget) {
    const size_t answered = ReadReplies(kDriveBudget - handled);
    handled += answered;
    const size_t sent = Pump();
    if (answered == 0 && sent == 0) break;
  }
  SettleFinished(env);
  SyncActivity();
}

void Ipvs::LookUpFamily() {
  GenlMessage message = FamilyRequest(IPVS_GENL_NAME);
  if (++seq_ == 0) seq_ = 1;
  message.SetTypeAndSeq(GENL_ID_CTRL, seq_);
  family_state_ = FamilyState::kResolving;
  family_answer_.reset();
  const std::vector<uint8_t> bytes(message.data(), message.data() + message.size());
  if (!Send(bytes)) {
    const SysError error{errno, "CTRL_CMD_GETFAMILY", "CTRL_CMD_GETFAMILY " IPVS_GENL_NAME, {}};
    FamilyAnswered(&error);
    return;
  }
  inflight_.emplace(seq_, Pending{nullptr, 0});
}

void Ipvs::FamilyAnswered(const SysError* error) {
  if (error == nullptr && family_answer_) {
    family_state_ = FamilyState::kResolved;
    family_id_ = *family_answer_;
    return;
  }
  // Look again on the next call: ip_vs may be loaded by then.
  family_state_ = FamilyState::kUnknown;
  Failure failure{error != nullptr ? *error
                                   : SysError{EPROTO, "CTRL_CMD_GETFAMILY",
                                              "CTRL_CMD_GETFAMILY " IPVS_GENL_NAME,
                                              "no family id in the answer"},
                  error != nullptr && error->err == ENOENT};
  // Nothing of these calls has been sent: they all fail as a whole.
  for (auto& job : jobs_) {
    if (!job->failure) job->failure = failure;
    job->next = job->requests.size();
  }
}

bool Ipvs::Send(const std::vector<uint8_t>& batch) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    const ssize_t n = sendto(fd_.get(), batch.data(), batch.size(), 0,
                             reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

// Sends what may be sent now; returns the number of requests sent.
size_t Ipvs::Pump() {
  if (!fd_) return 0;
  const bool unsent = std::any_of(jobs_.begin(), jobs_.end(), [](const std::unique_ptr<Job>& job) {
    return job->next < job->requests.size();
  });
  if (!unsent) return 0;
  if (family_state_ == FamilyState::kUnknown) {
    LookUpFamily();
    return 1;
  }
  if (family_state_ != FamilyState::kResolved) return 0;

  std::vector<uint8_t> batch;
  std::vector<uint32_t> batch_seqs;
  size_t sent = 0;
  // Sends the batch; when the kernel refuses it, none of it was carried out.
  auto flush = [&]() {
    if (batch.empty()) return;
    if (!Send(batch)) {
      const int err = errno;
      for (uint32_t seq : batch_seqs) {
        const Pending& pending = inflight_.at(seq);
        const IpvsRequest& request = pending.job->requests[pending.index];
        const SysError error{err, request.syscall, request.what, "sendmsg"};
        Complete(seq, &error);
      }
    }
    sent += batch_seqs.size();
    batch.clear();
    batch_seqs.clear();
  };

  bool stop = false;
  for (size_t j = 0; j < jobs_.size() && !stop; j++) {
    Job& job = *jobs_[j];
    // A running dump holds back everything after it: its answer decides what comes next, and
    // the kernel runs one dump per socket at a time.
    if (job.dump_running) break;
    while (job.next < job.requests.size()) {
      if (inflight_.size() >= window_) {
        stop = true;
        break;
      }
      const size_t index = job.next;
      if (++seq_ == 0) seq_ = 1;
      const uint32_t seq = seq_;
      GenlMessage& message = job.requests[index].message;
      message.SetTypeAndSeq(family_id_, seq);
      if (job.requests[index].dump) {
        // Alone in its sendmsg, so nothing else is handled while the kernel dumps.
        flush();
        batch.assign(message.data(), message.data() + message.size());
        batch_seqs.push_back(seq);
        inflight_.emplace(seq, Pending{&job, index});
        job.outstanding++;
        job.next++;
        job.dump_running = true;
        flush();
        stop = true;
        break;
      }
      if (!batch.empty() && batch.size() + message.size() > kMaxBatchBytes) flush();
      batch.insert(batch.end(), message.data(), message.data() + message.size());
      batch_seqs.push_back(seq);
      inflight_.emplace(seq, Pending{&job, index});
      job.outstanding++;
      job.next++;
    }
    // Not everything of this call went out: later calls wait their turn.
    if (job.next < job.requests.size()) stop = true;
  }
  flush();
  return sent;
}

size_t Ipvs::ReadReplies(size_t budget) {
  size_t answered = 0;
  while (fd_ && !inflight_.empty() && answered < budget) {
    sockaddr_nl from{};
    iovec iov{buffer_.data(), buffer_.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = recvmsg(fd_.get(), &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      // ENOBUFS: answers were dropped, so the requests waiting for them would wait forever.
      FailInflight(errno, "answers lost");
      answered++;
      continue;
    }
    if (msg.msg_flags & MSG_TRUNC) {
      FailInflight(EMSGSIZE, "answer truncated");
      answered++;
      continue;
    }
    if (from.nl_pid != 0) continue;  // only the kernel answers our requests
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buffer_.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      HandleReply(h);
      answered++;
    }
  }
  return answered;
}

void Ipvs::HandleReply(const nlmsghdr* header) {
  auto it = inflight_.find(header->nlmsg_seq);
  if (it == inflight_.end()) return;
  const Pending pending = it->second;
  switch (header->nlmsg_type) {
    case NLMSG_ERROR: {
      const NlAck ack = ParseAck(header);
      if (ack.err == 0) {
        Complete(header->nlmsg_seq, nullptr);
      } else {
        const IpvsRequest* request =
            pending.job != nullptr ? &pending.job->requests[pending.index] : nullptr;
        const SysError error{ack.err,
                             request != nullptr ? request->syscall : "CTRL_CMD_GETFAMILY",
                             request != nullptr ? request->what
                                                : "CTRL_CMD_GETFAMILY " IPVS_GENL_NAME,
                             ack.message};
        Complete(header->nlmsg_seq, &error);
      }
      return;
    }
    case NLMSG_DONE: {
      // A dump that failed part-way ends with a negative errno here.
      int status = 0;
      if (header->nlmsg_len >= NLMSG_LENGTH(sizeof status)) {
        memcpy(&status, NLMSG_DATA(header), sizeof status);
      }
      if (status < 0 && pending.job != nullptr) {
        const IpvsRequest& request = pending.job->requests[pending.index];
        const SysError error{-status, request.syscall, request.what, {}};
        Complete(header->nlmsg_seq, &error);
      } else {
        Complete(header->nlmsg_seq, nullptr);
      }
      return;
    }
    case NLMSG_NOOP:
    case NLMSG_OVERRUN:
      return;
    default:
      break;
  }
  if (pending.job == nullptr) {
    if (header->nlmsg_type == GENL_ID_CTRL) family_answer_ = ParseFamilyId(header);
    return;
  }
  if (header->nlmsg_type != family_id_) return;
  Job& job = *pending.job;
  switch (job.kind) {
    case JobKind::kDump:
      if (pending.index == 0) {
        if (std::optional<DumpedIpvsService> service = ParseService(header)) {
          job.services.push_back(std::move(*service));
        }
      } else {
        const IpvsRequest& request = job.requests[pending.index];
        if (std::optional<DumpedIpvsDest> dest = ParseDest(header, request.service.family)) {
          job.dests[pending.index - 1].push_back(std::move(*dest));
        }
      }
      break;
    case JobKind::kInfo:
      if (std::optional<IpvsInfo> info = ParseInfo(header)) job.info = *info;
      break;
    case JobKind::kGetConfig:
      if (std::optional<IpvsTimeouts> timeouts = ParseConfig(header)) job.timeouts = *timeouts;
      break;
    default:
      break;
  }
  return;
}

void Ipvs::Complete(uint32_t seq, const SysError* error) {
  auto it = inflight_.find(seq);
  if (it == inflight_.end()) return;
  const Pending pending = it->second;
  inflight_.erase(it);
  if (pending.job == nullptr) {
    FamilyAnswered(error);
    return;
  }
  Job& job = *pending.job;
  job.outstanding--;
  const bool dump = job.requests[pending.index].dump;
  if (dump) job.dump_running = false;
  if (error != nullptr) {
    SysError described = *error;
    if (described.detail.empty()) {
      described.detail = IpvsErrorDetail(job.requests[pending.index], error->err);
    }
    if (job.kind == JobKind::kApply) {
      job.errors[pending.index] = std::move(described);
    } else {
      if (!job.failure) job.failure = Failure{std::move(described), false};
      job.next = job.requests.size();  // nothing more of a failed dump
    }
    return;
  }
  if (job.kind == JobKind::kDump && pending.index == 0) {
    // The services are known: list the destinations of each.
    job.dests.resize(job.services.size());
    for (const DumpedIpvsService& service : job.services) {
      job.requests.push_back(DestsDumpFromJs(service.service.key));
    }
  }
}

void Ipvs::FailInflight(int err, const std::string& detail) {
  std::vector<uint32_t> seqs;
  seqs.reserve(inflight_.size());
  for (const auto& [seq, pending] : inflight_) seqs.push_back(seq);
  std::sort(seqs.begin(), seqs.end());
  for (uint32_t seq : seqs) {
    auto it = inflight_.find(seq);
    if (it == inflight_.end()) continue;
    const Pending pending = it->second;
    const IpvsRequest* request =
        pending.job != nullptr ? &pending.job->requests[pending.index] : nullptr;
    const SysError error{err, request != nullptr ? request->syscall : "CTRL_CMD_GETFAMILY",
                         request != nullptr ? request->what : "CTRL_CMD_GETFAMILY " IPVS_GENL_NAME,
                         detail};
    Complete(seq, &error);
  }
}

void Ipvs::SettleFinished(Napi::Env env) {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    Job& job = **it;
    if (job.next < job.requests.size() || job.outstanding > 0) {
      ++it;
      continue;
    }
    const std::unique_ptr<Job> done = std::move(*it);
    it = jobs_.erase(it);
    if (done->failure) {
      Reject(env, *done, *done->failure);
      continue;
    }
    Napi::Value result;
    try {
      result = Result(env, *done);
    } catch (const Napi::Error& e) {
      Settle(env, done->deferred, false, e.Value());
      continue;
    }
    Settle(env, done->deferred, true, result);
  }
}

void Ipvs::Reject(Napi::Env env, Job& job, const Failure& failure) {
  Settle(env, job.deferred, false, FailureToJs(env, failure.error, failure.unavailable).Value());
}

Napi::Value Ipvs::Result(Napi::Env env, Job& job) {
  switch (job.kind) {
    case JobKind::kApply: {
      Napi::Array results = Napi::Array::New(env, job.errors.size());
      for (uint32_t i = 0; i < job.errors.size(); i++) {
        const std::optional<SysError>& error = job.errors[i];
        results[i] = error ? error->ToJs(env).Value() : env.Undefined();
      }
      return results;
    }
    case JobKind::kDump: {
      Napi::Array services = Napi::Array::New(env, job.services.size());
      for (uint32_t i = 0; i < job.services.size(); i++) {
        Napi::Object service = ServiceToJs(env, job.services[i]);
        const std::vector<DumpedIpvsDest>& dests = job.dests[i];
        Napi::Array destinations = Napi::Array::New(env, dests.size());
        for (uint32_t d = 0; d < dests.size(); d++) destinations[d] = DestToJs(env, dests[d]);
        service.Set("destinations", destinations);
        services[i] = service;
      }
      return services;
    }
    case JobKind::kInfo:
      if (!job.info) {
        throw MakeSysError(env, EPROTO, "IPVS_CMD_GET_INFO", "IPVS_CMD_GET_INFO", "no answer");
      }
      return InfoToJs(env, *job.info);
    case JobKind::kGetConfig:
      if (!job.timeouts) {
        throw MakeSysError(env, EPROTO, "IPVS_CMD_GET_CONFIG", "IPVS_CMD_GET_CONFIG", "no answer");
      }
      return TimeoutsToJs(env, *job.timeouts);
    case JobKind::kSetConfig:
      return env.Undefined();
  }
  return env.Undefined();
}

void Ipvs::RejectAll(Napi::Env env, int err, const std::string& detail) {
  std::deque<std::unique_ptr<Job>> jobs = std::move(jobs_);
  jobs_.clear();
  inflight_.clear();
  for (auto& job : jobs) {
    const std::string syscall = job->requests.empty() ? "IPVS" : job->requests.front().syscall;
    const std::string what = job->requests.empty() ? "IPVS" : job->requests.front().what;
    Reject(env, *job, Failure{SysError{err, syscall, what, detail}, false});
  }
}

void Ipvs::OnPoll(void* owner, int err) {
  auto* self = static_cast<Ipvs*>(owner);
  Napi::Env env = self->Env();
  JsScope scope(env, *self, *self->async_);
  try {
    if (err != 0) self->FailInflight(err, "answers lost");
    self->Drive(env);
  } catch (const Napi::Error& e) {
    ReportUncaught(env, e.Value());
  }
}

}  // namespace kl
