// VrrpSocket: a raw IPPROTO_VRRP (112) socket for one interface and one address family.
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loop.h"

namespace kl {

class VrrpSocket : public Napi::ObjectWrap<VrrpSocket>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env);

  // new VrrpSocket({family: 4 | 6, ifname, multicast}, onMessage, onError)
  explicit VrrpSocket(const Napi::CallbackInfo& info);
  ~VrrpSocket() override;

  void Teardown() override;

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ifindex(const Napi::CallbackInfo& info);

  void SetUp4(Napi::Env env, bool multicast);
  void SetUp6(Napi::Env env, bool multicast);
  static void OnPoll(void* owner, int err);
  void Drain(Napi::Env env);
  Napi::Object Message(Napi::Env env, size_t len, const msghdr& msg) const;
  void EmitError(Napi::Env env, int err, const char* syscall);
  void Release();

  AddonData* addon_;
  int family_;
  unsigned ifindex_ = 0;
  std::string ifname_;
  std::string label_;  // "VrrpSocket eth0/IPv4", for messages
  UniqueFd fd_;
  Poll poll_;
  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_error_;
  std::optional<Napi::AsyncContext> async_;
  bool tracked_ = false;
  std::vector<uint8_t> buffer_;
};

}  // namespace kl
