// Announcer: gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6), which move
// clients' ARP / neighbour entries for a VIP to a MAC address at once.
#pragma once

#include <napi.h>

#include "inet.h"
#include "loop.h"

namespace kl {

class Announcer : public Napi::ObjectWrap<Announcer>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit Announcer(const Napi::CallbackInfo& info);
  ~Announcer() override;

  void Teardown() override;

 private:
  Napi::Value SendGratuitousArp(const Napi::CallbackInfo& info);
  Napi::Value SendUnsolicitedNa(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // The interface's own Ethernet address; throws when it has none.
  Mac InterfaceMac(Napi::Env env, int fd, unsigned ifindex, const std::string& what) const;
  void Release();

  // Both sockets only send, and are opened on first use.
  UniqueFd packet_;
  UniqueFd icmp6_;
  bool closed_ = false;
  AddonData* addon_;
  bool tracked_ = false;
};

}  // namespace kl
