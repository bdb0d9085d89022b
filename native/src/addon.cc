// The kubelived native module: every kernel interaction of the agent (VRRP sockets,
// rtnetlink, gratuitous ARP, unsolicited NA, timerfd timers, per-thread signal watchers,
// generic-netlink IPVS).
// Context-aware: it holds no mutable global state, so it loads in any number of worker
// threads at once.
#include <napi.h>

#include "arp_na.h"
#include "ipvs.h"
#include "ipvs_js.h"
#include "loop.h"
#include "rtnl.h"
#include "signal_watch.h"
#include "timer.h"
#include "vrrp_socket.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new kl::AddonData(env));
  exports.Set("VrrpSocket", kl::VrrpSocket::Define(env));
  exports.Set("Rtnl", kl::Rtnl::Define(env));
  exports.Set("Announcer", kl::Announcer::Define(env));
  exports.Set("Timer", kl::Timer::Define(env));
  exports.Set("SignalWatch", kl::SignalWatch::Define(env));
  exports.Set("Ipvs", kl::Ipvs::Define(env));
  // Pure IPVS message encoding and decoding, for golden-byte tests.
  exports.Set("ipvsEncode", Napi::Function::New<kl::IpvsEncode>(env, "ipvsEncode"));
  exports.Set("ipvsDecode", Napi::Function::New<kl::IpvsDecode>(env, "ipvsDecode"));
  return exports;
}

NODE_API_MODULE(kubelived_native, Init)
