#include "ipvs_js.h"

#include <netinet/in.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

#include "args.h"
#include "errors.h"
#include "netlink.h"

namespace kl {

namespace {

// The fields of one JS object, read with messages naming the path to each:
// "apply: ops[3].destination.weight must be an integer from 0 to 2147483647, got -1".
class Fields {
 public:
  Fields(Napi::Env env, Napi::Value value, std::string path) : env_(env), path_(std::move(path)) {
    if (!value.IsObject() || value.IsArray() || value.IsFunction()) {
      ThrowInvalidArg(env_, path_ + " must be an object, got " + Describe(value));
    }
    obj_ = value.As<Napi::Object>();
  }

  Napi::Env env() const { return env_; }
  Napi::Value Get(const char* key) const { return obj_.Get(key); }
  bool Has(const char* key) const { return !obj_.Get(key).IsUndefined(); }
  std::string Path(const char* key) const { return path_ + "." + key; }

  [[noreturn]] void Fail(const char* key, const std::string& expected) const {
    ThrowInvalidArg(env_, Path(key) + " must be " + expected + ", got " + Describe(obj_.Get(key)));
  }

  std::string String(const char* key) const {
    Napi::Value value = obj_.Get(key);
    if (!value.IsString()) Fail(key, "a string");
    return value.As<Napi::String>().Utf8Value();
  }

  std::optional<uint32_t> OptUint(const char* key, uint32_t min, uint32_t max) const {
    Napi::Value value = obj_.Get(key);
    if (value.IsUndefined()) return std::nullopt;
    const double n = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
    // Written so that NaN (and so any non-number) fails.
    if (!(n >= min && n <= max && std::floor(n) == n)) {
      Fail(key, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return static_cast<uint32_t>(n);
  }

  uint32_t Uint(const char* key, uint32_t min, uint32_t max) const {
    std::optional<uint32_t> n = OptUint(key, min, max);
    if (!n) Fail(key, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return *n;
  }

  // 4 or 6 as AF_INET / AF_INET6.
  int Family(const char* key) const {
    Napi::Value value = obj_.Get(key);
    const double n = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0;
    if (n != 4 && n != 6) Fail(key, "4 or 6");
    return n == 4 ? AF_INET : AF_INET6;
  }

  InetAddr Address(const char* key, int family) const {
    Napi::Value value = obj_.Get(key);
    std::optional<InetAddr> addr;
    if (value.IsString()) addr = ParseInet(value.As<Napi::String>().Utf8Value());
    if (!addr || addr->family != family) {
      Fail(key, family == AF_INET ? "an IPv4 address string (family 4)"
                                  : "an IPv6 address string (family 6)");
    }
    return *addr;
  }

 private:
  Napi::Env env_;
  Napi::Object obj_;
  std::string path_;
};

int FamilyNumber(int af) { return af == AF_INET6 ? 6 : 4; }

IpvsServiceKey ServiceKeyFromJs(Napi::Env env, Napi::Value value, const std::string& path) {
  const Fields f(env, value, path);
  IpvsServiceKey key;
  key.family = f.Family("family");
  if (f.Has("fwmark")) {
    key.fwmark = f.Uint("fwmark", 1, UINT32_MAX);
    for (const char* other : {"protocol", "address", "port"}) {
      if (f.Has(other)) f.Fail(other, "absent on a fwmark service");
    }
    return key;
  }
  const std::string protocol = f.Has("protocol") ? f.String("protocol") : std::string();
  if (protocol == "TCP") {
    key.protocol = IPPROTO_TCP;
  } else if (protocol == "UDP") {
    key.protocol = IPPROTO_UDP;
  } else if (protocol == "SCTP") {
    key.protocol = IPPROTO_SCTP;
  } else {
    f.Fail("protocol", "\"TCP\", \"UDP\" or \"SCTP\" (or set fwmark)");
  }
  key.address = f.Address("address", key.family);
  key.port = static_cast<uint16_t>(f.Uint("port", 0, 65535));
  return key;
}

IpvsService ServiceFromJs(Napi::Env env, Napi::Value value, const std::string& path) {
  const Fields f(env, value, path);
  IpvsService service;
  service.key = ServiceKeyFromJs(env, f.Get("key"), f.Path("key"));
  service.scheduler = f.String("scheduler");
  if (service.scheduler.empty() || service.scheduler.size() >= IP_VS_SCHEDNAME_MAXLEN ||
      service.scheduler.find('\0') != std::string::npos) {
    f.Fail("scheduler", "a scheduler name of 1 to " +
                            std::to_string(IP_VS_SCHEDNAME_MAXLEN - 1) + " characters");
  }
  service.flags = f.Uint("flags", 0, UINT32_MAX);
  if ((service.flags & ~kIpvsServiceFlagsMask) != 0) {
    f.Fail("flags", "IP_VS_SVC_F_* bits among 0x01 (persistent), 0x04 (one-packet), 0x08, 0x10, "
                    "0x20 (scheduler flags 1-3)");
  }
  service.timeout = f.Uint("timeout", 0, UINT32_MAX);
  // The kernel refuses IPv6 prefix lengths outside 1..128.
  service.netmask = service.key.family == AF_INET ? f.Uint("netmask", 0, 32)
                                                  : f.Uint("netmask", 1, 128);
  return service;
}

IpvsDest DestKeyFromJs(const Fields& f) {
  IpvsDest dest;
  const int family = f.Family("family");
  dest.address = f.Address("address", family);
  dest.port = static_cast<uint16_t>(f.Uint("port", 0, 65535));
  return dest;
}

IpvsDest DestFromJs(Napi::Env env, Napi::Value value, const std::string& path) {
  const Fields f(env, value, path);
  IpvsDest dest = DestKeyFromJs(f);
  const std::string forwarding = f.Has("forwarding") ? f.String("forwarding") : std::string();
  if (forwarding == "NAT") {
    dest.fwd = IP_VS_CONN_F_MASQ;
  } else if (forwarding == "DR") {
    dest.fwd = IP_VS_CONN_F_DROUTE;
  } else if (forwarding == "TUN") {
    dest.fwd = IP_VS_CONN_F_TUNNEL;
  } else {
    f.Fail("forwarding", "\"NAT\", \"DR\" or \"TUN\"");
  }
  // The kernel keeps the weight in an int and refuses negative ones.
  dest.weight = f.Uint("weight", 0, INT32_MAX);
  // u32 on the wire, but the kernel refuses thresholds above INT_MAX (EINVAL), as ipvsadm does.
  dest.u_threshold = f.Uint("upperThreshold", 0, INT32_MAX);
  dest.l_threshold = f.Uint("lowerThreshold", 0, INT32_MAX);
  // Tunnel encapsulation (kernels from 5.3), for TUN only; IPIP when absent.
  if (f.Has("tunType")) {
    const std::string type = f.String("tunType");
    if (type == "ipip") {
      dest.tun_type = IP_VS_CONN_F_TUNNEL_TYPE_IPIP;
    } else if (type == "gue") {
      dest.tun_type = IP_VS_CONN_F_TUNNEL_TYPE_GUE;
    } else if (type == "gre") {
      dest.tun_type = IP_VS_CONN_F_TUNNEL_TYPE_GRE;
    } else {
      f.Fail("tunType", "\"ipip\", \"gue\" or \"gre\"");
    }
  }
  if (std::optional<uint32_t> port = f.OptUint("tunPort", 0, 65535)) {
    dest.tun_port = static_cast<uint16_t>(*port);
  }
  if (std::optional<uint32_t> flags = f.OptUint("tunFlags", 0, 65535)) {
    dest.tun_flags = static_cast<uint16_t>(*flags);
  }
  return dest;
}

IpvsRequest MakeRequest(GenlMessage message, const std::string& object) {
  IpvsRequest request{std::move(message), {}, {}, false, false, {}, {}};
  request.syscall = IpvsCommandName(request.message.cmd());
  request.what = object.empty() ? request.syscall : request.syscall + " " + object;
  return request;
}

Napi::Object StatsToJs(Napi::Env env, const IpvsStats& stats) {
  // Counters are u64 in the kernel; doubles hold them exactly up to 2^53.
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("conns", static_cast<double>(stats.conns));
  obj.Set("inPkts", static_cast<double>(stats.inpkts));
  obj.Set("outPkts", static_cast<double>(stats.outpkts));
  obj.Set("inBytes", static_cast<double>(stats.inbytes));
  obj.Set("outBytes", static_cast<double>(stats.outbytes));
  obj.Set("cps", static_cast<double>(stats.cps));
  obj.Set("inPps", static_cast<double>(stats.inpps));
  obj.Set("outPps", static_cast<double>(stats.outpps));
  obj.Set("inBps", static_cast<double>(stats.inbps));
  obj.Set("outBps", static_cast<double>(stats.outbps));
  return obj;
}

Napi::Object ServiceKeyToJs(Napi::Env env, const IpvsServiceKey& key) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("family", FamilyNumber(key.family));
  if (key.fwmark != 0) {
    obj.Set("fwmark", key.fwmark);
    return obj;
  }
  // Services only ipvsadm-less tools can make (AH, ESP) keep a name outside IpvsProtocol.
  const char* name = ProtocolName(key.protocol);
  obj.Set("protocol", name != nullptr ? std::string(name) : "proto-" + std::to_string(key.protocol));
  obj.Set("address", FormatInet(key.address));
  obj.Set("port", key.port);
  return obj;
}

const char* ForwardingName(uint32_t fwd) {
  switch (fwd) {
    case IP_VS_CONN_F_MASQ: return "NAT";
    case IP_VS_CONN_F_TUNNEL: return "TUN";
    case IP_VS_CONN_F_DROUTE: return "DR";
    // Never set by kubelived; old kernels report a local real server this way.
    case IP_VS_CONN_F_LOCALNODE: return "Local";
    case IP_VS_CONN_F_BYPASS: return "Bypass";
    default: return "Unknown";
  }
}

const char* TunTypeName(uint8_t type) {
  switch (type) {
    case IP_VS_CONN_F_TUNNEL_TYPE_IPIP: return "ipip";
    case IP_VS_CONN_F_TUNNEL_TYPE_GUE: return "gue";
    case IP_VS_CONN_F_TUNNEL_TYPE_GRE: return "gre";
    default: return "unknown";
  }
}

}  // namespace

IpvsRequest OperationFromJs(Napi::Env env, Napi::Value op, const std::string& where) {
  const Fields f(env, op, where);
  const std::string kind = f.Has("op") ? f.String("op") : std::string();
  if (kind == "addService" || kind == "editService") {
    const IpvsService service = ServiceFromJs(env, f.Get("service"), f.Path("service"));
    const uint8_t cmd = kind == "addService" ? IPVS_CMD_NEW_SERVICE : IPVS_CMD_SET_SERVICE;
    IpvsRequest request = MakeRequest(ServiceRequest(cmd, service), DescribeServiceKey(service.key));
    request.service = service.key;
    request.scheduler = service.scheduler;
    return request;
  }
  if (kind == "deleteService") {
    const IpvsServiceKey key = ServiceKeyFromJs(env, f.Get("key"), f.Path("key"));
    IpvsRequest request =
        MakeRequest(ServiceKeyRequest(IPVS_CMD_DEL_SERVICE, key), DescribeServiceKey(key));
    request.service = key;
    return request;
  }
  if (kind == "addDestination" || kind == "editDestination" || kind == "deleteDestination") {
    const IpvsServiceKey key = ServiceKeyFromJs(env, f.Get("service"), f.Path("service"));
    IpvsDest dest;
    GenlMessage message(0, 0, 0);
    if (kind == "deleteDestination") {
      dest = DestKeyFromJs(Fields(env, f.Get("destination"), f.Path("destination")));
      message = DestKeyRequest(key, dest);
    } else {
      dest = DestFromJs(env, f.Get("destination"), f.Path("destination"));
      message = DestRequest(kind == "addDestination" ? IPVS_CMD_NEW_DEST : IPVS_CMD_SET_DEST, key,
                            dest);
    }
    IpvsRequest request = MakeRequest(
        std::move(message),
        DescribeServiceKey(key) + " -> " + DescribeEndpoint(dest.address, dest.port));
    request.service = key;
    return request;
  }
  f.Fail("op",
         "one of \"addService\", \"editService\", \"deleteService\", \"addDestination\", "
         "\"editDestination\", \"deleteDestination\"");
}

IpvsRequest DestsDumpFromJs(const IpvsServiceKey& key) {
  IpvsRequest request = MakeRequest(DestsDumpRequest(key), DescribeServiceKey(key));
  request.dump = true;
  request.service = key;
  return request;
}

IpvsRequest SetConfigFromJs(Napi::Env env, Napi::Value value, const std::string& where) {
  const Fields f(env, value, where);
  IpvsTimeouts timeouts;
  // Seconds; 0 (or absent) leaves a timeout unchanged. The kernel stores them in jiffies in an
  // int, and refuses what does not fit.
  timeouts.tcp = f.OptUint("tcp", 0, INT32_MAX);
  timeouts.tcp_fin = f.OptUint("tcpFin", 0, INT32_MAX);
  timeouts.udp = f.OptUint("udp", 0, INT32_MAX);
  return MakeRequest(SetConfigRequest(timeouts), "");
}

IpvsRequest PlainRequest(GenlMessage message, bool dump) {
  IpvsRequest request = MakeRequest(std::move(message), dump ? "dump" : "");
  request.dump = dump;
  return request;
}

std::string IpvsErrorDetail(const IpvsRequest& request, int err) {
  const uint8_t cmd = request.message.cmd();
  if (request.control) return {};
  if (err == ESRCH) return "no such service";
  if (err == EEXIST && cmd == IPVS_CMD_NEW_SERVICE) return "service exists";
  if (err == EEXIST && cmd == IPVS_CMD_NEW_DEST) return "destination exists";
  if (err == ENOENT && (cmd == IPVS_CMD_SET_DEST || cmd == IPVS_CMD_DEL_DEST)) {
    return "no such destination";
  }
  if (err == ENOENT && (cmd == IPVS_CMD_NEW_SERVICE || cmd == IPVS_CMD_SET_SERVICE)) {
    return "no scheduler \"" + request.scheduler + "\" in this kernel";
  }
  return {};
}

Napi::Object ServiceToJs(Napi::Env env, const DumpedIpvsService& dumped) {
  const IpvsService& service = dumped.service;
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("key", ServiceKeyToJs(env, service.key));
  obj.Set("scheduler", service.scheduler);
  obj.Set("flags", service.flags);
  obj.Set("timeout", service.timeout);
  obj.Set("netmask", service.netmask);
  if (!service.pe_name.empty()) obj.Set("persistenceEngine", service.pe_name);
  obj.Set("stats", StatsToJs(env, dumped.stats));
  return obj;
}

Napi::Object DestToJs(Napi::Env env, const DumpedIpvsDest& dumped) {
  const IpvsDest& dest = dumped.dest;
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("address", FormatInet(dest.address));
  obj.Set("family", FamilyNumber(dest.address.family));
  obj.Set("port", dest.port);
  obj.Set("forwarding", ForwardingName(dest.fwd));
  obj.Set("weight", dest.weight);
  obj.Set("upperThreshold", dest.u_threshold);
  obj.Set("lowerThreshold", dest.l_threshold);
  if (dest.fwd == IP_VS_CONN_F_TUNNEL) {
    // Every destination carries them in dumps (kernels from 5.3); they mean something for TUN.
    if (dest.tun_type) obj.Set("tunType", TunTypeName(*dest.tun_type));
    if (dest.tun_port) obj.Set("tunPort", *dest.tun_port);
    if (dest.tun_flags) obj.Set("tunFlags", *dest.tun_flags);
  }
  obj.Set("activeConns", dumped.active_conns);
  obj.Set("inactiveConns", dumped.inactive_conns);
  obj.Set("persistConns", dumped.persist_conns);
  obj.Set("stats", StatsToJs(env, dumped.stats));
  return obj;
}

Napi::Object InfoToJs(Napi::Env env, const IpvsInfo& info) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("version", std::to_string(info.version >> 16 & 0xff) + "." +
                         std::to_string(info.version >> 8 & 0xff) + "." +
                         std::to_string(info.version & 0xff));
  obj.Set("versionCode", info.version);
  obj.Set("connTableSize", info.conn_tab_size);
  return obj;
}

Napi::Object TimeoutsToJs(Napi::Env env, const IpvsTimeouts& timeouts) {
  Napi::Object obj = Napi::Object::New(env);
  if (timeouts.tcp) obj.Set("tcp", *timeouts.tcp);
  if (timeouts.tcp_fin) obj.Set("tcpFin", *timeouts.tcp_fin);
  if (timeouts.udp) obj.Set("udp", *timeouts.udp);
  return obj;
}

Napi::Value IpvsEncode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string where = "ipvsEncode: request";
  const Fields f(env, info[0], where);
  const double seq = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  const double family = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
  if (!(seq >= 0 && seq <= UINT32_MAX && std::floor(seq) == seq)) {
    ThrowInvalidArg(env, "ipvsEncode: seq must be an integer from 0 to 4294967295, got " +
                             Describe(info[1]));
  }
  if (!(family >= GENL_MIN_ID && family <= 0xffff && std::floor(family) == family)) {
    ThrowInvalidArg(env, "ipvsEncode: familyId must be an integer from 16 to 65535, got " +
                             Describe(info[2]));
  }
  const std::string kind = f.Has("op") ? f.String("op") : std::string();
  uint16_t type = static_cast<uint16_t>(family);
  GenlMessage message(0, 0, 0);
  if (kind == "getFamily") {
    message = FamilyRequest(IPVS_GENL_NAME);
    type = GENL_ID_CTRL;
  } else if (kind == "dumpServices") {
    message = ServicesDumpRequest();
  } else if (kind == "dumpDestinations") {
    message = DestsDumpRequest(ServiceKeyFromJs(env, f.Get("service"), f.Path("service")));
  } else if (kind == "getInfo") {
    message = InfoRequest();
  } else if (kind == "getConfig") {
    message = ConfigRequest();
  } else if (kind == "setConfig") {
    message = SetConfigFromJs(env, f.Get("timeouts"), f.Path("timeouts")).message;
  } else {
    message = OperationFromJs(env, info[0], where).message;
  }
  message.SetTypeAndSeq(type, static_cast<uint32_t>(seq));
  return Napi::Buffer<uint8_t>::Copy(env, message.data(), message.size());
}

Napi::Value IpvsDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowInvalidArg(env, "ipvsDecode: bytes must be a Uint8Array, got " + Describe(info[0]));
  }
  int service_family = AF_INET;
  if (!info[1].IsUndefined()) {
    const double n = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
    if (n != 4 && n != 6) {
      ThrowInvalidArg(env, "ipvsDecode: serviceFamily must be 4 or 6, got " + Describe(info[1]));
    }
    service_family = n == 4 ? AF_INET : AF_INET6;
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  // A copy: netlink parsing needs 4-byte alignment, which a Buffer slice need not have.
  std::vector<uint8_t> buffer(bytes.Data(), bytes.Data() + bytes.ElementLength());

  Napi::Array out = Napi::Array::New(env);
  int len = static_cast<int>(buffer.size());
  uint32_t i = 0;
  for (auto* h = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(h, len);
       h = NLMSG_NEXT(h, len)) {
    Napi::Object msg = Napi::Object::New(env);
    msg.Set("type", h->nlmsg_type);
    msg.Set("flags", h->nlmsg_flags);
    msg.Set("seq", h->nlmsg_seq);
    std::string kind = "other";
    if (h->nlmsg_type == NLMSG_ERROR) {
      const NlAck ack = ParseAck(h);
      kind = ack.err == 0 ? "ack" : "error";
      msg.Set("errno", ack.err);
      if (!ack.message.empty()) msg.Set("message", ack.message);
    } else if (h->nlmsg_type == NLMSG_DONE) {
      kind = "done";
      int status = 0;
      if (h->nlmsg_len >= NLMSG_LENGTH(sizeof status)) memcpy(&status, NLMSG_DATA(h), sizeof status);
      msg.Set("status", status);
    } else if (h->nlmsg_type == GENL_ID_CTRL) {
      if (std::optional<uint16_t> id = ParseFamilyId(h)) {
        kind = "family";
        msg.Set("familyId", *id);
      }
    } else if (h->nlmsg_type >= GENL_MIN_ID) {
      msg.Set("cmd", GenlCommand(h));
      if (std::optional<DumpedIpvsService> service = ParseService(h)) {
        kind = "service";
        msg.Set("service", ServiceToJs(env, *service));
      } else if (std::optional<DumpedIpvsDest> dest = ParseDest(h, service_family)) {
        kind = "destination";
        msg.Set("destination", DestToJs(env, *dest));
      } else if (std::optional<IpvsInfo> ipvs_info = ParseInfo(h)) {
        kind = "info";
        msg.Set("info", InfoToJs(env, *ipvs_info));
      } else if (std::optional<IpvsTimeouts> timeouts = ParseConfig(h)) {
        kind = "config";
        msg.Set("timeouts", TimeoutsToJs(env, *timeouts));
      }
    }
    msg.Set("kind", kind);
    out[i++] = msg;
  }
  return out;
}

}  // namespace kl
