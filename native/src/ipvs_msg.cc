#include "ipvs_msg.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "netlink.h"

namespace kl {

namespace {

// nlattr and rtattr share one layout, so NlAttrs (netlink.h) indexes generic-netlink
// attributes too.
const rtattr* FirstAttr(const void* data) { return static_cast<const rtattr*>(data); }

// The attributes after the genlmsghdr of a whole message.
NlAttrs TopAttrs(const nlmsghdr* header, size_t max_type) {
  const size_t offset = NLMSG_HDRLEN + GENL_HDRLEN;
  if (header->nlmsg_len < offset) return NlAttrs(nullptr, 0, max_type);
  return NlAttrs(FirstAttr(reinterpret_cast<const uint8_t*>(header) + offset),
                 static_cast<int>(header->nlmsg_len - offset), max_type);
}

// The attributes inside nested attribute `type` of `outer`; empty when absent.
NlAttrs Nested(const NlAttrs& outer, uint16_t type, size_t max_type) {
  const rtattr* nest = outer.Get(type);
  if (nest == nullptr) return NlAttrs(nullptr, 0, max_type);
  return NlAttrs(FirstAttr(RTA_DATA(nest)), static_cast<int>(RTA_PAYLOAD(nest)), max_type);
}

uint16_t Be16(const NlAttrs& attrs, uint16_t type) {
  return ntohs(attrs.As<uint16_t>(type, 0));
}

// A counter that is u32 in IPVS_*_ATTR_STATS and u64 in IPVS_*_ATTR_STATS64.
uint64_t Counter(const NlAttrs& attrs, uint16_t type) {
  if (attrs.Len(type) >= sizeof(uint64_t)) return attrs.As<uint64_t>(type, 0);
  return attrs.As<uint32_t>(type, 0);
}

IpvsStats ParseStats(const NlAttrs& outer, uint16_t stats_type, uint16_t stats64_type) {
  // STATS64 (kernels from 4.1) carries every counter in 64 bits; STATS truncates them.
  const bool wide = outer.Has(stats64_type);
  const NlAttrs attrs = Nested(outer, wide ? stats64_type : stats_type, IPVS_STATS_ATTR_MAX);
  IpvsStats stats;
  stats.conns = Counter(attrs, IPVS_STATS_ATTR_CONNS);
  stats.inpkts = Counter(attrs, IPVS_STATS_ATTR_INPKTS);
  stats.outpkts = Counter(attrs, IPVS_STATS_ATTR_OUTPKTS);
  stats.inbytes = Counter(attrs, IPVS_STATS_ATTR_INBYTES);
  stats.outbytes = Counter(attrs, IPVS_STATS_ATTR_OUTBYTES);
  stats.cps = Counter(attrs, IPVS_STATS_ATTR_CPS);
  stats.inpps = Counter(attrs, IPVS_STATS_ATTR_INPPS);
  stats.outpps = Counter(attrs, IPVS_STATS_ATTR_OUTPPS);
  stats.inbps = Counter(attrs, IPVS_STATS_ATTR_INBPS);
  stats.outbps = Counter(attrs, IPVS_STATS_ATTR_OUTBPS);
  return stats;
}

// An address attribute: 4 or 16 bytes on requests, always 16 (union nf_inet_addr) in dumps.
bool ReadAddress(const NlAttrs& attrs, uint16_t type, int family, InetAddr& out) {
  out.family = family;
  const size_t need = out.size();
  if (attrs.Len(type) < need) return false;
  memcpy(&out.v6, attrs.Data(type), need);
  return true;
}

void PutServiceKey(GenlMessage& message, const IpvsServiceKey& key) {
  message.PutU16(IPVS_SVC_ATTR_AF, static_cast<uint16_t>(key.family));
  if (key.fwmark != 0) {
    message.PutU32(IPVS_SVC_ATTR_FWMARK, key.fwmark);
  } else {
    message.PutU16(IPVS_SVC_ATTR_PROTOCOL, key.protocol);
    message.Put(IPVS_SVC_ATTR_ADDR, key.address.data(), key.address.size());
    message.PutBe16(IPVS_SVC_ATTR_PORT, key.port);
  }
}

void PutServiceNest(GenlMessage& message, const IpvsServiceKey& key) {
  const size_t nest = message.BeginNest(IPVS_CMD_ATTR_SERVICE);
  PutServiceKey(message, key);
  message.EndNest(nest);
}

void PutDestKey(GenlMessage& message, const IpvsDest& dest) {
  message.Put(IPVS_DEST_ATTR_ADDR, dest.address.data(), dest.address.size());
  message.PutBe16(IPVS_DEST_ATTR_PORT, dest.port);
  // Always explicit: without it the kernel assumes the service's family, and a destination's
  // family is part of what names it.
  message.PutU16(IPVS_DEST_ATTR_ADDR_FAMILY, static_cast<uint16_t>(dest.address.family));
}

constexpr uint16_t kRequestAck = NLM_F_REQUEST | NLM_F_ACK;

}  // namespace

GenlMessage::GenlMessage(uint16_t flags, uint8_t cmd, uint8_t version) {
  Grow(NLMSG_HDRLEN + GENL_HDRLEN);
  header().nlmsg_flags = flags;
  auto* genl = reinterpret_cast<genlmsghdr*>(buffer_.data() + NLMSG_HDRLEN);
  genl->cmd = cmd;
  genl->version = version;
}

void GenlMessage::Grow(size_t len) {
  buffer_.resize(buffer_.size() + len, 0);
  header().nlmsg_len = static_cast<uint32_t>(buffer_.size());
}

void GenlMessage::Put(uint16_t type, const void* data, size_t len) {
  const size_t offset = buffer_.size();
  Grow(NLA_ALIGN(NLA_HDRLEN + len));
  auto* nla = reinterpret_cast<nlattr*>(buffer_.data() + offset);
  nla->nla_type = type;
  nla->nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  if (len > 0) memcpy(buffer_.data() + offset + NLA_HDRLEN, data, len);
}

void GenlMessage::PutBe16(uint16_t type, uint16_t host_value) {
  const uint16_t value = htons(host_value);
  Put(type, &value, sizeof value);
}

size_t GenlMessage::BeginNest(uint16_t type) {
  const size_t start = buffer_.size();
  Put(static_cast<uint16_t>(type | NLA_F_NESTED), nullptr, 0);
  return start;
}

void GenlMessage::EndNest(size_t start) {
  auto* nla = reinterpret_cast<nlattr*>(buffer_.data() + start);
  nla->nla_len = static_cast<uint16_t>(buffer_.size() - start);
}

void GenlMessage::SetTypeAndSeq(uint16_t type, uint32_t seq) {
  header().nlmsg_type = type;
  header().nlmsg_seq = seq;
}

GenlMessage FamilyRequest(const char* name) {
  GenlMessage message(kRequestAck, CTRL_CMD_GETFAMILY, 1);
  message.PutString(CTRL_ATTR_FAMILY_NAME, name);
  return message;
}

GenlMessage ServiceRequest(uint8_t cmd, const IpvsService& service) {
  GenlMessage message(kRequestAck, cmd, IPVS_GENL_VERSION);
  const size_t nest = message.BeginNest(IPVS_CMD_ATTR_SERVICE);
  PutServiceKey(message, service.key);
  message.PutString(IPVS_SVC_ATTR_SCHED_NAME, service.scheduler);
  // mask ~0: the flags given are the whole set (the kernel keeps the others of an existing
  // service otherwise).
  const ip_vs_flags flags{service.flags, 0xffffffff};
  message.Put(IPVS_SVC_ATTR_FLAGS, &flags, sizeof flags);
  message.PutU32(IPVS_SVC_ATTR_TIMEOUT, service.timeout);
  message.PutU32(IPVS_SVC_ATTR_NETMASK, NetmaskAttr(service.key.family, service.netmask));
  message.EndNest(nest);
  return message;
}

GenlMessage ServiceKeyRequest(uint8_t cmd, const IpvsServiceKey& key) {
  GenlMessage message(kRequestAck, cmd, IPVS_GENL_VERSION);
  PutServiceNest(message, key);
  return message;
}

GenlMessage DestRequest(uint8_t cmd, const IpvsServiceKey& key, const IpvsDest& dest) {
  GenlMessage message(kRequestAck, cmd, IPVS_GENL_VERSION);
  PutServiceNest(message, key);
  const size_t nest = message.BeginNest(IPVS_CMD_ATTR_DEST);
  PutDestKey(message, dest);
  message.PutU32(IPVS_DEST_ATTR_FWD_METHOD, dest.fwd);
  message.PutU32(IPVS_DEST_ATTR_WEIGHT, dest.weight);
  message.PutU32(IPVS_DEST_ATTR_U_THRESH, dest.u_threshold);
  message.PutU32(IPVS_DEST_ATTR_L_THRESH, dest.l_threshold);
  if (dest.tun_type) message.PutU8(IPVS_DEST_ATTR_TUN_TYPE, *dest.tun_type);
  if (dest.tun_port) message.PutBe16(IPVS_DEST_ATTR_TUN_PORT, *dest.tun_port);
  if (dest.tun_flags) message.PutU16(IPVS_DEST_ATTR_TUN_FLAGS, *dest.tun_flags);
  message.EndNest(nest);
  return message;
}

GenlMessage DestKeyRequest(const IpvsServiceKey& key, const IpvsDest& dest) {
  GenlMessage message(kRequestAck, IPVS_CMD_DEL_DEST, IPVS_GENL_VERSION);
  PutServiceNest(message, key);
  const size_t nest = message.BeginNest(IPVS_CMD_ATTR_DEST);
  PutDestKey(message, dest);
  message.EndNest(nest);
  return message;
}

// Dumps carry no NLM_F_ACK: the kernel ends them with NLMSG_DONE (or an NLMSG_ERROR).
GenlMessage ServicesDumpRequest() {
  return GenlMessage(NLM_F_REQUEST | NLM_F_DUMP, IPVS_CMD_GET_SERVICE, IPVS_GENL_VERSION);
}

GenlMessage DestsDumpRequest(const IpvsServiceKey& key) {
  GenlMessage message(NLM_F_REQUEST | NLM_F_DUMP, IPVS_CMD_GET_DEST, IPVS_GENL_VERSION);
  PutServiceNest(message, key);
  return message;
}

GenlMessage InfoRequest() { return GenlMessage(kRequestAck, IPVS_CMD_GET_INFO, IPVS_GENL_VERSION); }

GenlMessage ConfigRequest() {
  return GenlMessage(kRequestAck, IPVS_CMD_GET_CONFIG, IPVS_GENL_VERSION);
}

GenlMessage SetConfigRequest(const IpvsTimeouts& timeouts) {
  // An absent attribute (or 0) leaves that timeout as it is.
  GenlMessage message(kRequestAck, IPVS_CMD_SET_CONFIG, IPVS_GENL_VERSION);
  if (timeouts.tcp) message.PutU32(IPVS_CMD_ATTR_TIMEOUT_TCP, *timeouts.tcp);
  if (timeouts.tcp_fin) message.PutU32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, *timeouts.tcp_fin);
  if (timeouts.udp) message.PutU32(IPVS_CMD_ATTR_TIMEOUT_UDP, *timeouts.udp);
  return message;
}

int GenlCommand(const nlmsghdr* header) {
  if (header->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) return -1;
  return reinterpret_cast<const genlmsghdr*>(reinterpret_cast<const uint8_t*>(header) +
                                             NLMSG_HDRLEN)
      ->cmd;
}

std::optional<uint16_t> ParseFamilyId(const nlmsghdr* header) {
  if (GenlCommand(header) != CTRL_CMD_NEWFAMILY) return std::nullopt;
  const NlAttrs attrs = TopAttrs(header, CTRL_ATTR_MAX);
  if (attrs.Len(CTRL_ATTR_FAMILY_ID) < sizeof(uint16_t)) return std::nullopt;
  return attrs.As<uint16_t>(CTRL_ATTR_FAMILY_ID, 0);
}

std::optional<DumpedIpvsService> ParseService(const nlmsghdr* header) {
  if (GenlCommand(header) != IPVS_CMD_NEW_SERVICE) return std::nullopt;
  const NlAttrs top = TopAttrs(header, IPVS_CMD_ATTR_MAX);
  if (!top.Has(IPVS_CMD_ATTR_SERVICE)) return std::nullopt;
  const NlAttrs attrs = Nested(top, IPVS_CMD_ATTR_SERVICE, IPVS_SVC_ATTR_MAX);

  DumpedIpvsService out;
  IpvsService& svc = out.service;
  svc.key.family = attrs.As<uint16_t>(IPVS_SVC_ATTR_AF, 0);
  if (svc.key.family != AF_INET && svc.key.family != AF_INET6) return std::nullopt;
  if (attrs.Has(IPVS_SVC_ATTR_FWMARK)) {
    svc.key.fwmark = attrs.As<uint32_t>(IPVS_SVC_ATTR_FWMARK, 0);
  }
  if (svc.key.fwmark == 0) {
    svc.key.protocol = attrs.As<uint16_t>(IPVS_SVC_ATTR_PROTOCOL, 0);
    if (!ReadAddress(attrs, IPVS_SVC_ATTR_ADDR, svc.key.family, svc.key.address)) {
      return std::nullopt;
    }
    svc.key.port = Be16(attrs, IPVS_SVC_ATTR_PORT);
  }
  svc.scheduler = attrs.String(IPVS_SVC_ATTR_SCHED_NAME);
  svc.pe_name = attrs.String(IPVS_SVC_ATTR_PE_NAME);
  const ip_vs_flags flags = attrs.As<ip_vs_flags>(IPVS_SVC_ATTR_FLAGS, ip_vs_flags{0, 0});
  svc.flags = flags.flags & ~static_cast<uint32_t>(IP_VS_SVC_F_HASHED);
  svc.timeout = attrs.As<uint32_t>(IPVS_SVC_ATTR_TIMEOUT, 0);
  svc.netmask = NetmaskPrefix(svc.key.family, attrs.As<uint32_t>(IPVS_SVC_ATTR_NETMASK, 0));
  out.stats = ParseStats(attrs, IPVS_SVC_ATTR_STATS, IPVS_SVC_ATTR_STATS64);
  return out;
}

std::optional<DumpedIpvsDest> ParseDest(const nlmsghdr* header, int service_family) {
  if (GenlCommand(header) != IPVS_CMD_NEW_DEST) return std::nullopt;
  const NlAttrs top = TopAttrs(header, IPVS_CMD_ATTR_MAX);
  if (!top.Has(IPVS_CMD_ATTR_DEST)) return std::nullopt;
  const NlAttrs attrs = Nested(top, IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_MAX);

  DumpedIpvsDest out;
  IpvsDest& dest = out.dest;
  const int family = attrs.As<uint16_t>(IPVS_DEST_ATTR_ADDR_FAMILY, service_family);
  if (family != AF_INET && family != AF_INET6) return std::nullopt;
  if (!ReadAddress(attrs, IPVS_DEST_ATTR_ADDR, family, dest.address)) return std::nullopt;
  dest.port = Be16(attrs, IPVS_DEST_ATTR_PORT);
  dest.fwd = attrs.As<uint32_t>(IPVS_DEST_ATTR_FWD_METHOD, 0) & IP_VS_CONN_F_FWD_MASK;
  dest.weight = attrs.As<uint32_t>(IPVS_DEST_ATTR_WEIGHT, 0);
  dest.u_threshold = attrs.As<uint32_t>(IPVS_DEST_ATTR_U_THRESH, 0);
  dest.l_threshold = attrs.As<uint32_t>(IPVS_DEST_ATTR_L_THRESH, 0);
  if (attrs.Has(IPVS_DEST_ATTR_TUN_TYPE)) dest.tun_type = attrs.As<uint8_t>(IPVS_DEST_ATTR_TUN_TYPE, 0);
  if (attrs.Has(IPVS_DEST_ATTR_TUN_PORT)) dest.tun_port = Be16(attrs, IPVS_DEST_ATTR_TUN_PORT);
  if (attrs.Has(IPVS_DEST_ATTR_TUN_FLAGS)) {
    dest.tun_flags = attrs.As<uint16_t>(IPVS_DEST_ATTR_TUN_FLAGS, 0);
  }
  out.active_conns = attrs.As<uint32_t>(IPVS_DEST_ATTR_ACTIVE_CONNS, 0);
  out.inactive_conns = attrs.As<uint32_t>(IPVS_DEST_ATTR_INACT_CONNS, 0);
  out.persist_conns = attrs.As<uint32_t>(IPVS_DEST_ATTR_PERSIST_CONNS, 0);
  out.stats = ParseStats(attrs, IPVS_DEST_ATTR_STATS, IPVS_DEST_ATTR_STATS64);
  return out;
}

std::optional<IpvsInfo> ParseInfo(const nlmsghdr* header) {
  if (GenlCommand(header) != IPVS_CMD_SET_INFO) return std::nullopt;
  const NlAttrs attrs = TopAttrs(header, IPVS_INFO_ATTR_MAX);
  if (!attrs.Has(IPVS_INFO_ATTR_VERSION)) return std::nullopt;
  IpvsInfo info;
  info.version = attrs.As<uint32_t>(IPVS_INFO_ATTR_VERSION, 0);
  info.conn_tab_size = attrs.As<uint32_t>(IPVS_INFO_ATTR_CONN_TAB_SIZE, 0);
  return info;
}

std::optional<IpvsTimeouts> ParseConfig(const nlmsghdr* header) {
  if (GenlCommand(header) != IPVS_CMD_SET_CONFIG) return std::nullopt;
  const NlAttrs attrs = TopAttrs(header, IPVS_CMD_ATTR_MAX);
  // A kernel built without TCP or UDP support omits that protocol's timeouts.
  IpvsTimeouts timeouts;
  if (attrs.Has(IPVS_CMD_ATTR_TIMEOUT_TCP)) {
    timeouts.tcp = attrs.As<uint32_t>(IPVS_CMD_ATTR_TIMEOUT_TCP, 0);
  }
  if (attrs.Has(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN)) {
    timeouts.tcp_fin = attrs.As<uint32_t>(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, 0);
  }
  if (attrs.Has(IPVS_CMD_ATTR_TIMEOUT_UDP)) {
    timeouts.udp = attrs.As<uint32_t>(IPVS_CMD_ATTR_TIMEOUT_UDP, 0);
  }
  return timeouts;
}

uint32_t NetmaskAttr(int family, unsigned prefix_len) {
  // IPv6: the prefix length itself, as the kernel compares it (1..128) without byte swapping.
  if (family == AF_INET6) return prefix_len;
  const uint32_t mask = prefix_len == 0 ? 0 : 0xffffffffu << (32 - prefix_len);
  return htonl(mask);
}

unsigned NetmaskPrefix(int family, uint32_t attr) {
  if (family == AF_INET6) return attr;
  // Leading ones; a non-contiguous mask (which ipvsadm -M accepts) reads as its leading part.
  const uint32_t mask = ntohl(attr);
  unsigned prefix = 0;
  while (prefix < 32 && (mask & (0x80000000u >> prefix)) != 0) prefix++;
  return prefix;
}

const char* IpvsCommandName(uint8_t cmd) {
  switch (cmd) {
    case IPVS_CMD_NEW_SERVICE: return "IPVS_CMD_NEW_SERVICE";
    case IPVS_CMD_SET_SERVICE: return "IPVS_CMD_SET_SERVICE";
    case IPVS_CMD_DEL_SERVICE: return "IPVS_CMD_DEL_SERVICE";
    case IPVS_CMD_GET_SERVICE: return "IPVS_CMD_GET_SERVICE";
    case IPVS_CMD_NEW_DEST: return "IPVS_CMD_NEW_DEST";
    case IPVS_CMD_SET_DEST: return "IPVS_CMD_SET_DEST";
    case IPVS_CMD_DEL_DEST: return "IPVS_CMD_DEL_DEST";
    case IPVS_CMD_GET_DEST: return "IPVS_CMD_GET_DEST";
    case IPVS_CMD_SET_CONFIG: return "IPVS_CMD_SET_CONFIG";
    case IPVS_CMD_GET_CONFIG: return "IPVS_CMD_GET_CONFIG";
    case IPVS_CMD_GET_INFO: return "IPVS_CMD_GET_INFO";
    default: return "IPVS_CMD_UNKNOWN";
  }
}

const char* ProtocolName(uint16_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP: return "TCP";
    case IPPROTO_UDP: return "UDP";
    case IPPROTO_SCTP: return "SCTP";
    case IPPROTO_AH: return "AH";
    case IPPROTO_ESP: return "ESP";
    default: return nullptr;
  }
}

std::string DescribeEndpoint(const InetAddr& address, uint16_t port) {
  const std::string text = FormatInet(address);
  if (address.family == AF_INET6) return "[" + text + "]:" + std::to_string(port);
  return text + ":" + std::to_string(port);
}

std::string DescribeServiceKey(const IpvsServiceKey& key) {
  if (key.fwmark != 0) {
    return "FWM " + std::to_string(key.fwmark) + (key.family == AF_INET6 ? " IPv6" : "");
  }
  const char* name = ProtocolName(key.protocol);
  const std::string proto = name != nullptr ? name : "proto " + std::to_string(key.protocol);
  return proto + " " + DescribeEndpoint(key.address, key.port);
}

}  // namespace kl
