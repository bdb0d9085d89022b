// Generic-netlink IPVS messages (include/uapi/linux/ip_vs.h): building requests and parsing the
// kernel's replies. No JS and no sockets here, so every byte can be checked on a host whose
// kernel has no IPVS (test/unit/net-ipvs.test.ts, through ipvsEncode / ipvsDecode).
//
// The layout, as net/netfilter/ipvs/ip_vs_ctl.c reads it:
// - nlmsghdr (type = the IPVS family id resolved with CTRL_CMD_GETFAMILY), genlmsghdr
//   (cmd = IPVS_CMD_*, version = IPVS_GENL_VERSION), then attributes.
// - A service travels nested in IPVS_CMD_ATTR_SERVICE: AF (u16) and either PROTOCOL (u16),
//   ADDR (4 or 16 bytes), PORT (u16, network order) or FWMARK (u32); new/set also need
//   SCHED_NAME (NUL-terminated), FLAGS (struct ip_vs_flags), TIMEOUT (u32 seconds) and NETMASK
//   (u32: an IPv4 mask in network order, or an IPv6 prefix length as a plain integer).
// - A destination travels nested in IPVS_CMD_ATTR_DEST next to its service: ADDR, PORT
//   (network order), ADDR_FAMILY (u16); new/set also need FWD_METHOD, WEIGHT, U_THRESH,
//   L_THRESH (u32 each); TUN_TYPE (u8), TUN_PORT (network order), TUN_FLAGS (u16) optional.
// - Dumps answer with IPVS_CMD_NEW_SERVICE / IPVS_CMD_NEW_DEST messages carrying the same
//   nests, addresses always 16 bytes, plus counters (STATS, STATS64, *_CONNS).
#pragma once

#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "inet.h"

namespace kl {

// The flag bits a caller may set on a service: persistent, one-packet, scheduler flags 1-3.
// IP_VS_SVC_F_HASHED is the kernel's own bookkeeping (it rejects a service that claims it).
constexpr uint32_t kIpvsServiceFlagsMask = IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_ONEPACKET |
                                           IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2 |
                                           IP_VS_SVC_F_SCHED3;

// A virtual service's identity: address, port and protocol, or a firewall mark.
struct IpvsServiceKey {
  int family = AF_INET;   // AF_INET or AF_INET6
  uint32_t fwmark = 0;    // non-zero: a fwmark service, the fields below unused
  uint16_t protocol = 0;  // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP
  InetAddr address;
  uint16_t port = 0;      // host order here
};

struct IpvsService {
  IpvsServiceKey key;
  std::string scheduler;
  uint32_t flags = 0;    // IP_VS_SVC_F_*
  uint32_t timeout = 0;  // persistence, seconds
  unsigned netmask = 0;  // persistence granularity as a prefix length (both families)
  std::string pe_name;   // persistence engine; only ever read from dumps
};

struct IpvsDest {
  InetAddr address;
  uint16_t port = 0;     // host order here
  uint32_t fwd = 0;      // IP_VS_CONN_F_MASQ / _TUNNEL / _DROUTE (IP_VS_CONN_F_FWD_MASK bits)
  uint32_t weight = 0;
  uint32_t u_threshold = 0;
  uint32_t l_threshold = 0;
  std::optional<uint8_t> tun_type;    // IP_VS_CONN_F_TUNNEL_TYPE_*
  std::optional<uint16_t> tun_port;   // host order here
  std::optional<uint16_t> tun_flags;  // IP_VS_TUNNEL_ENCAP_FLAG_*
};

struct IpvsStats {
  uint64_t conns = 0, inpkts = 0, outpkts = 0, inbytes = 0, outbytes = 0;
  uint64_t cps = 0, inpps = 0, outpps = 0, inbps = 0, outbps = 0;
};

struct DumpedIpvsService {
  IpvsService service;
  IpvsStats stats;
};

struct DumpedIpvsDest {
  IpvsDest dest;
  uint32_t active_conns = 0;
  uint32_t inactive_conns = 0;
  uint32_t persist_conns = 0;
  IpvsStats stats;
};

struct IpvsTimeouts {
  std::optional<uint32_t> tcp, tcp_fin, udp;
};

struct IpvsInfo {
  uint32_t version = 0;  // IP_VS_VERSION_CODE, 0x010201 for 1.2.1
  uint32_t conn_tab_size = 0;
};

// One generic-netlink request under construction: nlmsghdr, genlmsghdr, attributes (with
// nesting). nlmsg_type and nlmsg_seq are set when it is sent (the family id is known only
// then); Encode() fills them for tests.
class GenlMessage {
 public:
  GenlMessage(uint16_t flags, uint8_t cmd, uint8_t version);

  void Put(uint16_t type, const void* data, size_t len);
  void PutU8(uint16_t type, uint8_t value) { Put(type, &value, sizeof value); }
  void PutU16(uint16_t type, uint16_t value) { Put(type, &value, sizeof value); }
  void PutU32(uint16_t type, uint32_t value) { Put(type, &value, sizeof value); }
  void PutBe16(uint16_t type, uint16_t host_value);
  void PutString(uint16_t type, const std::string& value) {
    Put(type, value.c_str(), value.size() + 1);
  }
  // Opens a nested attribute (NLA_F_NESTED set); returns what EndNest needs.
  size_t BeginNest(uint16_t type);
  void EndNest(size_t start);

  void SetTypeAndSeq(uint16_t type, uint32_t seq);
  nlmsghdr& header() { return *reinterpret_cast<nlmsghdr*>(buffer_.data()); }
  const nlmsghdr& header() const { return *reinterpret_cast<const nlmsghdr*>(buffer_.data()); }
  const uint8_t* data() const { return buffer_.data(); }
  size_t size() const { return buffer_.size(); }
  uint8_t cmd() const { return buffer_[NLMSG_HDRLEN]; }

 private:
  void Grow(size_t len);

  std::vector<uint8_t> buffer_;
};

// Requests. `cmd` is the IPVS_CMD_* they carry.
GenlMessage FamilyRequest(const char* name);  // CTRL_CMD_GETFAMILY; send with GENL_ID_CTRL
GenlMessage ServiceRequest(uint8_t cmd, const IpvsService& service);  // NEW / SET_SERVICE
GenlMessage ServiceKeyRequest(uint8_t cmd, const IpvsServiceKey& key);  // DEL_SERVICE
GenlMessage DestRequest(uint8_t cmd, const IpvsServiceKey& key, const IpvsDest& dest);  // NEW/SET
GenlMessage DestKeyRequest(const IpvsServiceKey& key, const IpvsDest& dest);  // DEL_DEST
GenlMessage ServicesDumpRequest();
GenlMessage DestsDumpRequest(const IpvsServiceKey& key);
GenlMessage InfoRequest();
GenlMessage ConfigRequest();
GenlMessage SetConfigRequest(const IpvsTimeouts& timeouts);

// Replies. Each takes one whole message whose nlmsg_type is the IPVS family (or, for
// ParseFamilyId, GENL_ID_CTRL); nullopt when it is not the expected, well-formed answer.
std::optional<uint16_t> ParseFamilyId(const nlmsghdr* header);
std::optional<DumpedIpvsService> ParseService(const nlmsghdr* header);
// `service_family` stands in for IPVS_DEST_ATTR_ADDR_FAMILY on kernels older than 3.18.
std::optional<DumpedIpvsDest> ParseDest(const nlmsghdr* header, int service_family);
std::optional<IpvsInfo> ParseInfo(const nlmsghdr* header);
std::optional<IpvsTimeouts> ParseConfig(const nlmsghdr* header);
// The genlmsghdr command of a generic-netlink message, or -1 when too short.
int GenlCommand(const nlmsghdr* header);

// Prefix length <-> the NETMASK attribute's value (see the header comment).
uint32_t NetmaskAttr(int family, unsigned prefix_len);
unsigned NetmaskPrefix(int family, uint32_t attr);

// For messages: "IPVS_CMD_NEW_DEST", "TCP 10.0.0.1:80", "TCP [2001:db8::1]:80", "FWM 7",
// "FWM 7 IPv6", "198.18.1.2:8080".
const char* IpvsCommandName(uint8_t cmd);
const char* ProtocolName(uint16_t protocol);  // nullptr for numbers IPVS has no name for
std::string DescribeServiceKey(const IpvsServiceKey& key);
std::string DescribeEndpoint(const InetAddr& address, uint16_t port);

}  // namespace kl
