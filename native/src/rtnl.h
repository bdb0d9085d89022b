// Rtnl: rtnetlink requests (addresses, links) answered by Promises, and a subscription to link
// and address changes.
#pragma once

#include <napi.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loop.h"
#include "netlink.h"
#include "rtnl_addr.h"
#include "rtnl_link.h"

namespace kl {

class Rtnl : public Napi::ObjectWrap<Rtnl>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit Rtnl(const Napi::CallbackInfo& info);
  ~Rtnl() override;

  void Teardown() override;

 private:
  enum class Reply { kAck, kAddresses, kLinks, kLink };

  struct Request {
    Request(Reply reply, bool dump, NlMessage message, std::string syscall, std::string what)
        : reply(reply),
          dump(dump),
          message(std::move(message)),
          syscall(std::move(syscall)),
          what(std::move(what)) {}

    Reply reply;
    bool dump;
    NlMessage message;
    std::string syscall;  // "RTM_NEWADDR"
    std::string what;     // "RTM_NEWADDR 198.18.0.100/24 on eth0"
    unsigned ifindex_filter = 0;
    napi_deferred deferred = nullptr;
    int attempts = 0;
    bool interrupted = false;  // the dump saw NLM_F_DUMP_INTR
    std::vector<AddressInfo> addresses;
    std::vector<LinkInfo> links;
  };

  Napi::Value ListAddresses(const Napi::CallbackInfo& info);
  Napi::Value AddAddress(const Napi::CallbackInfo& info);
  Napi::Value DeleteAddress(const Napi::CallbackInfo& info);
  Napi::Value ListLinks(const Napi::CallbackInfo& info);
  Napi::Value GetLink(const Napi::CallbackInfo& info);
  Napi::Value Subscribe(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  Napi::Value Submit(Napi::Env env, Request request);
  void Transmit(Napi::Env env, Request request);
  void StartQueuedDumps(Napi::Env env);
  void Finish(Napi::Env env, std::map<uint32_t, Request>::iterator it, const SysError* error);
  void FailAll(Napi::Env env, int err, const std::string& detail);
  Napi::Value Result(Napi::Env env, const Request& request);

  static void OnCommandPoll(void* owner, int err);
  void ReadReplies(Napi::Env env);
  void HandleReply(Napi::Env env, const nlmsghdr* header);

  static void OnMonitorPoll(void* owner, int err);
  void ReadEvents(Napi::Env env);
  void HandleEvent(Napi::Env env, const nlmsghdr* header);
  void Emit(Napi::Env env, Napi::Object event);
  void EmitError(Napi::Env env, int err);

  void SyncActivity();
  void Release();

  AddonData* addon_;
  UniqueFd command_;
  Poll command_poll_;
  UniqueFd monitor_;
  Poll monitor_poll_;
  Napi::FunctionReference on_event_;
  Napi::FunctionReference on_error_;
  std::optional<Napi::AsyncContext> async_;
  uint32_t seq_ = 0;
  std::map<uint32_t, Request> inflight_;
  // The kernel runs one dump per socket at a time (a second one gets EBUSY): dumps wait here
  // while another is in flight. Other requests are answered within sendmsg and never wait.
  std::deque<Request> queued_dumps_;
  bool dump_running_ = false;
  bool pinned_ = false;
  bool tracked_ = false;
  std::vector<uint8_t> command_buffer_;
  std::vector<uint8_t> monitor_buffer_;
};

}  // namespace kl
