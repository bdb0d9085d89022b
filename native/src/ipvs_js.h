// IPVS requests from JS objects (the IpvsOperation shapes of src/ipvs/types.ts) and IPVS
// replies as JS objects; the pure entry points ipvsEncode / ipvsDecode used by the golden-byte
// tests.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "ipvs_msg.h"

namespace kl {

// One request ready to send, with what error messages say about it.
struct IpvsRequest {
  GenlMessage message;
  std::string syscall;  // "IPVS_CMD_NEW_DEST"
  std::string what;     // "IPVS_CMD_NEW_DEST TCP 10.0.0.1:80 -> 198.18.1.2:8080"
  bool dump = false;
  bool control = false;     // a CTRL_CMD_* request, sent with nlmsg_type GENL_ID_CTRL
  IpvsServiceKey service;   // the service it is about, if any (dest dumps need its family)
  std::string scheduler;    // new / set service: for the "no such scheduler" explanation
};

// `op` is one IpvsOperation; `where` names it in TypeError messages ("apply: ops[3]").
// Throws a TypeError (code ERR_INVALID_ARG_VALUE) for anything malformed.
IpvsRequest OperationFromJs(Napi::Env env, Napi::Value op, const std::string& where);
IpvsRequest DestsDumpFromJs(const IpvsServiceKey& key);
IpvsRequest SetConfigFromJs(Napi::Env env, Napi::Value timeouts, const std::string& where);
IpvsRequest PlainRequest(GenlMessage message, bool dump);

// Words for a kernel error that came without an extended-ack message: IPVS answers a missing
// service with ESRCH ("No such process") and a missing destination or scheduler with ENOENT.
std::string IpvsErrorDetail(const IpvsRequest& request, int err);

Napi::Object ServiceToJs(Napi::Env env, const DumpedIpvsService& service);
Napi::Object DestToJs(Napi::Env env, const DumpedIpvsDest& dest);
Napi::Object InfoToJs(Napi::Env env, const IpvsInfo& info);
Napi::Object TimeoutsToJs(Napi::Env env, const IpvsTimeouts& timeouts);

// ipvsEncode(request, seq, familyId) -> Buffer: one whole request as the kernel would receive
// it (nlmsg_pid 0). request: an IpvsOperation, or {op: 'getFamily' | 'dumpServices' |
// 'getInfo' | 'getConfig'}, {op: 'dumpDestinations', service: ServiceKey},
// {op: 'setConfig', timeouts: {tcp?, tcpFin?, udp?}}.
Napi::Value IpvsEncode(const Napi::CallbackInfo& info);
// ipvsDecode(bytes, serviceFamily?: 4 | 6) -> objects, one per netlink message in `bytes`
// (what one recvmsg returns): {type, flags, seq, kind, ...}.
Napi::Value IpvsDecode(const Napi::CallbackInfo& info);

}  // namespace kl
