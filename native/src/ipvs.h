// Ipvs: the kernel's IPVS tables over generic netlink, every request answered by a Promise.
//
// - The "IPVS" family id is looked up (CTRL_CMD_GETFAMILY) on first use; when the kernel has
//   no IPVS every call rejects with ENOENT, "IPVS is not available in this kernel (modprobe
//   ip_vs)", and the next call looks again.
// - apply(ops) sends a whole plan pipelined on one socket: many requests per sendmsg, each
//   with NLM_F_ACK and its own sequence number, at most a window of them unanswered (so the
//   kernel's answers always fit the receive buffer). Replies are matched by sequence number.
//   The kernel handles every request on its own, in order, so a failed one does not stop the
//   ones after it; the result names each failure.
// - dump() is one service dump and then one destination dump per service (the kernel lists
//   destinations per service only), each sent as soon as the previous one ends.
// - Calls are served in the order they were made: a call's requests go out only after those of
//   earlier calls.
// - There is no flush: kubelived never removes what it does not own.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "errors.h"
#include "ipvs_js.h"
#include "ipvs_msg.h"
#include "loop.h"

namespace kl {

class Ipvs : public Napi::ObjectWrap<Ipvs>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit Ipvs(const Napi::CallbackInfo& info);
  ~Ipvs() override;

  void Teardown() override;

 private:
  enum class JobKind { kApply, kDump, kInfo, kGetConfig, kSetConfig };

  // A failure with the message to show; `unavailable` gives the "modprobe ip_vs" one.
  struct Failure {
    SysError error;
    bool unavailable = false;
  };

  // One JS call and everything needed to answer it.
  struct Job {
    JobKind kind;
    napi_deferred deferred = nullptr;
    std::vector<IpvsRequest> requests;
    size_t next = 0;          // the first request not sent yet
    size_t outstanding = 0;   // sent and not answered yet
    bool dump_running = false;
    std::vector<std::optional<SysError>> errors;  // kApply: per request
    std::optional<Failure> failure;              // the whole call failed
    std::vector<DumpedIpvsService> services;     // kDump
    std::vector<std::vector<DumpedIpvsDest>> dests;
    std::optional<IpvsInfo> info;                // kInfo
    std::optional<IpvsTimeouts> timeouts;        // kGetConfig
  };

  // A request the kernel has not answered yet. job == nullptr: the family lookup.
  struct Pending {
    Job* job;
    size_t index;
  };

  enum class FamilyState { kUnknown, kResolving, kResolved };

  Napi::Value Apply(const Napi::CallbackInfo& info);
  Napi::Value Dump(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value GetConfig(const Napi::CallbackInfo& info);
  Napi::Value SetConfig(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  Napi::Value Submit(Napi::Env env, std::unique_ptr<Job> job);
  // Reads answers and sends more until neither makes progress (or a budget is spent), then
  // settles the calls that are complete.
  void Drive(Napi::Env env);
  size_t Pump();
  void LookUpFamily();
  void FamilyAnswered(const SysError* error);
  bool Send(const std::vector<uint8_t>& batch);
  // Returns the number of messages read that belonged to a pending request.
  size_t ReadReplies(size_t budget);
  void HandleReply(const nlmsghdr* header);
  void Complete(uint32_t seq, const SysError* error);
  void FailInflight(int err, const std::string& detail);
  void SettleFinished(Napi::Env env);
  void Reject(Napi::Env env, Job& job, const Failure& failure);
  Napi::Value Result(Napi::Env env, Job& job);
  void RejectAll(Napi::Env env, int err, const std::string& detail);

  static void OnPoll(void* owner, int err);
  void SyncActivity();
  void Release();

  AddonData* addon_;
  UniqueFd fd_;
  Poll poll_;
  std::optional<Napi::AsyncContext> async_;
  FamilyState family_state_ = FamilyState::kUnknown;
  uint16_t family_id_ = 0;
  std::optional<uint16_t> family_answer_;
  uint32_t seq_ = 0;
  size_t window_ = 0;
  std::deque<std::unique_ptr<Job>> jobs_;
  std::unordered_map<uint32_t, Pending> inflight_;
  std::vector<uint8_t> buffer_;
  bool pinned_ = false;
  bool tracked_ = false;
};

}  // namespace kl
