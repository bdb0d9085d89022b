#include "rtnl.h"

#include <linux/if.h>
#include <linux/if_addr.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>

#include "args.h"
#include "errors.h"

namespace kl {

namespace {

// Datagrams read per readiness callback; the rest is read on the next loop iteration.
constexpr int kMaxReadsPerWakeup = 64;
// Kernel dump chunks are at most 32 KiB; a larger buffer never truncates one.
constexpr size_t kBufferSize = 65536;
// A dump whose data changed while it ran (NLM_F_DUMP_INTR) is run again, this many times at
// most.
constexpr int kMaxDumpAttempts = 5;
// Default receive buffer of the event socket: room for bursts of changes (a flapping link, a
// few hundred addresses) while JS is busy; beyond it the kernel drops events and we report an
// overrun.
constexpr int kDefaultEventBuffer = 4 << 20;

}  // namespace

Napi::Function Rtnl::Define(Napi::Env env) {
  return DefineClass(env, "Rtnl",
                     {
                         InstanceMethod<&Rtnl::ListAddresses>("listAddresses"),
                         InstanceMethod<&Rtnl::AddAddress>("addAddress"),
                         InstanceMethod<&Rtnl::DeleteAddress>("deleteAddress"),
                         InstanceMethod<&Rtnl::ListLinks>("listLinks"),
                         InstanceMethod<&Rtnl::GetLink>("getLink"),
                         InstanceMethod<&Rtnl::Subscribe>("subscribe"),
                         InstanceMethod<&Rtnl::Close>("close"),
                     });
}

Rtnl::Rtnl(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Rtnl>(info),
      addon_(&AddonData::Of(info.Env())),
      command_poll_(addon_, this, OnCommandPoll),
      monitor_poll_(addon_, this, OnMonitorPoll) {
  Napi::Env env = info.Env();
  try {
    command_.reset(OpenNetlinkSocket(NETLINK_ROUTE, "rtnetlink socket", {}, 0));
  } catch (const SysError& e) {
    throw e.ToJs(env);
  }
  const int rc = command_poll_.Open(command_.get());
  if (rc < 0) throw MakeSysError(env, -rc, "uv_poll_init", "poll rtnetlink socket");
  command_buffer_.resize(kBufferSize);
  async_.emplace(env, "kubelived:Rtnl", info.This().As<Napi::Object>());
  addon_->Track(this);
  tracked_ = true;
}

Rtnl::~Rtnl() { Release(); }

void Rtnl::Teardown() {
  // No JS may run now: pending promises are dropped with the env.
  inflight_.clear();
  queued_dumps_.clear();
  Release();
}

void Rtnl::Release() {
  command_poll_.Close();
  command_.reset();
  monitor_poll_.Close();
  monitor_.reset();
  if (tracked_) {
    addon_->Untrack(this);
    tracked_ = false;
  }
}

Napi::Value Rtnl::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!tracked_) return env.Undefined();
  FailAll(env, ECANCELED, "Rtnl closed");
  Release();
  on_event_.Reset();
  on_error_.Reset();
  SyncActivity();
  return env.Undefined();
}

// The command poll runs only while replies are due, so an idle Rtnl does not keep the event
// loop alive; the wrapper is pinned while replies are due or events are subscribed, since the
// kernel will call back whether or not JS still holds it.
void Rtnl::SyncActivity() {
  const bool busy = !inflight_.empty();
  if (busy) {
    command_poll_.Start();
  } else {
    command_poll_.Stop();
  }
  const bool pin = busy || static_cast<bool>(monitor_);
  if (pin && !pinned_) Ref();
  if (!pin && pinned_) Unref();
  pinned_ = pin;
}

// listAddresses(filter?: {ifindex?, family?: 4 | 6})
Napi::Value Rtnl::ListAddresses(const Napi::CallbackInfo& info) {
  const Options filter(info, 0, "listAddresses", true, "filter");
  Request request(Reply::kAddresses, true, AddressDumpRequest(filter.Family("family", false)),
                  "RTM_GETADDR", "RTM_GETADDR dump");
  request.ifindex_filter = filter.OptUint("ifindex", 1, INT_MAX).value_or(0);
  return Submit(info.Env(), std::move(request));
}

// addAddress({ifindex, address, prefixLen, validLft?, preferredLft?, replace?, proto?})
Napi::Value Rtnl::AddAddress(const Napi::CallbackInfo& info) {
  const Options options(info, 0, "addAddress");
  AddressChange change;
  change.ifindex = options.Uint("ifindex", 1, INT_MAX);
  change.address = options.Address("address");
  change.prefix_len = options.Uint("prefixLen", 0, change.address.maxPrefix());
  change.valid_lft = options.OptUint("validLft", 0, UINT32_MAX);
  change.preferred_lft = options.OptUint("preferredLft", 0, UINT32_MAX);
  change.replace = options.Bool("replace", false);
  if (std::optional<uint32_t> proto = options.OptUint("proto", 0, 255)) {
    change.proto = static_cast<uint8_t>(*proto);
  }
  const std::string what =
      "RTM_NEWADDR " + DescribeAddress(change.ifindex, change.address, change.prefix_len);
  return Submit(info.Env(),
                Request(Reply::kAck, false, NewAddressRequest(change), "RTM_NEWADDR", what));
}

// deleteAddress({ifindex, address, prefixLen})
Napi::Value Rtnl::DeleteAddress(const Napi::CallbackInfo& info) {
  const Options options(info, 0, "deleteAddress");
  const unsigned ifindex = options.Uint("ifindex", 1, INT_MAX);
  const InetAddr address = options.Address("address");
  const unsigned prefix_len = options.Uint("prefixLen", 0, address.maxPrefix());
  const std::string what = "RTM_DELADDR " + DescribeAddress(ifindex, address, prefix_len);
  return Submit(info.Env(), Request(Reply::kAck, false,
                                    DeleteAddressRequest(ifindex, address, prefix_len),
                                    "RTM_DELADDR", what));
}

Napi::Value Rtnl::ListLinks(const Napi::CallbackInfo& info) {
  return Submit(info.Env(),
                Request(Reply::kLinks, true, LinkDumpRequest(), "RTM_GETLINK", "RTM_GETLINK dump"));
}

// getLink(nameOrIndex: string | number)
Napi::Value Rtnl::GetLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value key = info[0];
  unsigned ifindex = 0;
  std::string name;
  if (key.IsNumber()) {
    const double n = key.As<Napi::Number>().DoubleValue();
    if (!(n >= 1 && n <= INT_MAX && n == static_cast<double>(static_cast<int64_t>(n)))) {
      ThrowInvalidArg(env, "getLink: ifindex must be a positive integer, got " + Describe(key));
    }
    ifindex = static_cast<unsigned>(n);
    name = "ifindex " + std::to_string(ifindex);
  } else if (key.IsString()) {
    name = key.As<Napi::String>().Utf8Value();
    if (name.empty() || name.size() >= IFNAMSIZ) {
      ThrowInvalidArg(env, "getLink: name must be an interface name, got " + Describe(key));
    }
  } else {
    ThrowInvalidArg(env, "getLink: expected an interface name or index, got " + Describe(key));
  }
  return Submit(env, Request(Reply::kLink, false, GetLinkRequest(ifindex, name), "RTM_GETLINK",
                             "RTM_GETLINK " + name));
}

Napi::Value Rtnl::Submit(Napi::Env env, Request request) {
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &request.deferred, &promise), Napi::Value());
  if (!command_) {
    Settle(env, request.deferred, false,
           MakeSysError(env, EBADF, request.syscall, request.what, "Rtnl closed").Value());
  } else if (request.dump && dump_running_) {
    queued_dumps_.push_back(std::move(request));
  } else {
    Transmit(env, std::move(request));
  }
  return Napi::Value(env, promise);
}

void Rtnl::Transmit(Napi::Env env, Request request) {
  if (++seq_ == 0) seq_ = 1;
  request.message.header().nlmsg_seq = seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  const ssize_t n = sendto(command_.get(), request.message.data(), request.message.size(), 0,
                           reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  if (n < 0) {
    Settle(env, request.deferred, false,
           MakeSysError(env, errno, request.syscall, request.what).Value());
    return;
  }
  if (request.dump) dump_running_ = true;
  inflight_.emplace(seq_, std::move(request));
  SyncActivity();
}

void Rtnl::StartQueuedDumps(Napi::Env env) {
  while (!dump_running_ && !queued_dumps_.empty() && command_) {
    Request next = std::move(queued_dumps_.front());
    queued_dumps_.pop_front();
    Transmit(env, std::move(next));
  }
}

void Rtnl::Finish(Napi::Env env, std::map<uint32_t, Request>::iterator it, const SysError* error) {
  Request request = std::move(it->second);
  inflight_.erase(it);
  if (request.dump) {
    dump_running_ = false;
    if (request.interrupted && !error && ++request.attempts < kMaxDumpAttempts) {
      // The data changed under the dump; what we got may be inconsistent. Run it again.
      request.interrupted = false;
      request.addresses.clear();
      request.links.clear();
      Transmit(env, std::move(request));
      return;
    }
    StartQueuedDumps(env);
  }
  if (error != nullptr) {
    Settle(env, request.deferred, false, error->ToJs(env).Value());
  } else if (request.interrupted) {
    Settle(env, request.deferred, false,
           MakeSysError(env, EINTR, request.syscall, request.what, "the dump kept changing")
               .Value());
  } else {
    Settle(env, request.deferred, true, Result(env, request));
  }
  SyncActivity();
}

Napi::Value Rtnl::Result(Napi::Env env, const Request& request) {
  switch (request.reply) {
    case Reply::kAck:
      return env.Undefined();
    case Reply::kLink:
      // An ACK after exactly one RTM_NEWLINK; a missing link is an ENODEV error instead.
      return request.links.empty() ? env.Undefined() : LinkToJs(env, request.links.front());
    case Reply::kLinks: {
      Napi::Array links = Napi::Array::New(env, request.links.size());
      for (uint32_t i = 0; i < request.links.size(); i++) links[i] = LinkToJs(env, request.links[i]);
      return links;
    }
    case Reply::kAddresses: {
      Napi::Array addresses = Napi::Array::New(env, request.addresses.size());
      for (uint32_t i = 0; i < request.addresses.size(); i++) {
        addresses[i] = AddressToJs(env, request.addresses[i]);
      }
      return addresses;
    }
  }
  return env.Undefined();
}

void Rtnl::FailAll(Napi::Env env, int err, const std::string& detail) {
  std::vector<Request> failed;
  for (auto& [seq, request] : inflight_) failed.push_back(std::move(request));
  for (Request& request : queued_dumps_) failed.push_back(std::move(request));
  inflight_.clear();
  queued_dumps_.clear();
  dump_running_ = false;
  for (const Request& request : failed) {
    Settle(env, request.deferred, false,
           MakeSysError(env, err, request.syscall, request.what, detail).Value());
  }
  SyncActivity();
}

void Rtnl::OnCommandPoll(void* owner, int err) {
  auto* self = static_cast<Rtnl*>(owner);
  Napi::Env env = self->Env();
  JsScope scope(env, *self, *self->async_);
  try {
    // ENOBUFS: replies were dropped, so the requests waiting for them would wait forever.
    if (err != 0) self->FailAll(env, err, "replies lost");
    self->ReadReplies(env);
  } catch (const Napi::Error& e) {
    ReportUncaught(env, e.Value());
  }
}

void Rtnl::ReadReplies(Napi::Env env) {
  for (int i = 0; i < kMaxReadsPerWakeup && command_ && !inflight_.empty(); i++) {
    sockaddr_nl from{};
    iovec iov{command_buffer_.data(), command_buffer_.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = recvmsg(command_.get(), &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno != EINTR) FailAll(env, errno, "replies lost");
      continue;
    }
    if (msg.msg_flags & MSG_TRUNC) {
      FailAll(env, EMSGSIZE, "reply truncated");
      continue;
    }
    if (from.nl_pid != 0) continue;  // only the kernel answers our requests
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(command_buffer_.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      HandleReply(env, h);
    }
  }
}

void Rtnl::HandleReply(Napi::Env env, const nlmsghdr* header) {
  auto it = inflight_.find(header->nlmsg_seq);
  if (it == inflight_.end()) return;
  Request& request = it->second;
  if (header->nlmsg_flags & NLM_F_DUMP_INTR) request.interrupted = true;
  switch (header->nlmsg_type) {
    case NLMSG_ERROR: {
      const NlAck ack = ParseAck(header);
      if (ack.err == 0) {
        Finish(env, it, nullptr);
      } else {
        const SysError error{ack.err, request.syscall, request.what, ack.message};
        Finish(env, it, &error);
      }
      return;
    }
    case NLMSG_DONE: {
      // A dump that failed part-way ends with a negative errno here.
      int status = 0;
      if (header->nlmsg_len >= NLMSG_LENGTH(sizeof status)) {
        memcpy(&status, NLMSG_DATA(header), sizeof status);
      }
      if (status < 0) {
        const SysError error{-status, request.syscall, request.what, {}};
        Finish(env, it, &error);
      } else {
        Finish(env, it, nullptr);
      }
      return;
    }
    case RTM_NEWADDR:
      if (request.reply == Reply::kAddresses) {
        std::optional<AddressInfo> address = ParseAddress(header);
        if (address && (request.ifindex_filter == 0 || address->ifindex == request.ifindex_filter)) {
          request.addresses.push_back(std::move(*address));
        }
      }
      return;
    case RTM_NEWLINK:
      if (request.reply == Reply::kLinks || request.reply == Reply::kLink) {
        if (std::optional<LinkInfo> link = ParseLink(header)) request.links.push_back(std::move(*link));
      }
      return;
    default:
      return;
  }
}

// subscribe(onEvent, onError, options?: {receiveBufferBytes?})
Napi::Value Rtnl::Subscribe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Function on_event = FunctionArg(info, 0, "subscribe", "onEvent");
  Napi::Function on_error = FunctionArg(info, 1, "subscribe", "onError");
  const Options options(info, 2, "subscribe", true);
  const int buffer_bytes =
      static_cast<int>(options.OptUint("receiveBufferBytes", 1024, 1 << 30).value_or(kDefaultEventBuffer));
  if (!command_) throw MakeSysError(env, EBADF, "subscribe", "subscribe", "Rtnl closed");
  if (monitor_) throw MakeSysError(env, EALREADY, "subscribe", "subscribe");
  try {
    monitor_.reset(
        OpenNetlinkSocket(NETLINK_ROUTE, "rtnetlink socket", {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR}, buffer_bytes));
  } catch (const SysError& e) {
    throw e.ToJs(env);
  }
  int rc = monitor_poll_.Open(monitor_.get());
  if (rc == 0) rc = monitor_poll_.Start();
  if (rc < 0) {
    monitor_poll_.Close();
    monitor_.reset();
    throw MakeSysError(env, -rc, "uv_poll_start", "subscribe");
  }
  monitor_buffer_.resize(kBufferSize);
  on_event_ = Napi::Persistent(on_event);
  on_error_ = Napi::Persistent(on_error);
  SyncActivity();
  return env.Undefined();
}

void Rtnl::OnMonitorPoll(void* owner, int err) {
  auto* self = static_cast<Rtnl*>(owner);
  Napi::Env env = self->Env();
  JsScope scope(env, *self, *self->async_);
  try {
    if (err == ENOBUFS) {
      // The kernel dropped events because our receive buffer was full: whatever the caller
      // derived from events is stale until it lists again.
      Napi::Object event = Napi::Object::New(env);
      event.Set("kind", "overrun");
      self->Emit(env, event);
    } else if (err != 0) {
      self->EmitError(env, err);
    }
    self->ReadEvents(env);
  } catch (const Napi::Error& e) {
    ReportUncaught(env, e.Value());
  }
}

void Rtnl::ReadEvents(Napi::Env env) {
  for (int i = 0; i < kMaxReadsPerWakeup && monitor_; i++) {
    sockaddr_nl from{};
    iovec iov{monitor_buffer_.data(), monitor_buffer_.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = recvmsg(monitor_.get(), &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      if (errno == ENOBUFS || errno == EMSGSIZE) {
        Napi::Object event = Napi::Object::New(env);
        event.Set("kind", "overrun");
        Emit(env, event);
        continue;
      }
      EmitError(env, errno);
      return;
    }
    if (from.nl_pid != 0) continue;  // kernel notifications only
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(monitor_buffer_.data());
         NLMSG_OK(h, len) && monitor_; h = NLMSG_NEXT(h, len)) {
      HandleEvent(env, h);
    }
  }
}

void Rtnl::HandleEvent(Napi::Env env, const nlmsghdr* header) {
  Napi::Object event;
  switch (header->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
      std::optional<LinkInfo> link = ParseLink(header);
      if (!link) return;
      event = LinkToJs(env, *link);
      event.Set("kind", "link");
      event.Set("action", header->nlmsg_type == RTM_NEWLINK ? "update" : "del");
      break;
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      std::optional<AddressInfo> address = ParseAddress(header);
      if (!address) return;
      event = AddressToJs(env, *address);
      event.Set("kind", "addr");
      event.Set("action", header->nlmsg_type == RTM_NEWADDR ? "add" : "del");
      break;
    }
    default:
      return;
  }
  Emit(env, event);
}

void Rtnl::Emit(Napi::Env env, Napi::Object event) {
  if (!on_event_.IsEmpty()) CallJs(env, on_event_.Value(), {event});
}

void Rtnl::EmitError(Napi::Env env, int err) {
  if (!on_error_.IsEmpty()) {
    CallJs(env, on_error_.Value(), {MakeSysError(env, err, "recvmsg", "rtnetlink events").Value()});
  }
}

}  // namespace kl
