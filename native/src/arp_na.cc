#include "arp_na.h"

#include <arpa/inet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netpacket/packet.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "args.h"
#include "errors.h"

namespace kl {

namespace {

// Ethernet header + ARP for IPv4 over Ethernet, as sent on the wire.
struct [[gnu::packed]] ArpFrame {
  uint8_t eth_dst[ETH_ALEN];
  uint8_t eth_src[ETH_ALEN];
  uint16_t eth_type;
  uint16_t htype;
  uint16_t ptype;
  uint8_t hlen;
  uint8_t plen;
  uint16_t oper;
  uint8_t sha[ETH_ALEN];
  uint8_t spa[4];
  uint8_t tha[ETH_ALEN];
  uint8_t tpa[4];
  // Ethernet's minimum frame is 60 bytes before the FCS; NICs pad short frames, but not all
  // virtual ones, and some switches drop runts.
  uint8_t padding[18];
};
static_assert(sizeof(ArpFrame) == ETH_ZLEN);

// ICMPv6 neighbour advertisement with one Target Link-Layer Address option (RFC 4861 4.4).
struct [[gnu::packed]] NaPacket {
  nd_neighbor_advert na;
  uint8_t opt_type;
  uint8_t opt_len;  // in units of 8 bytes
  uint8_t opt_mac[ETH_ALEN];
};
static_assert(sizeof(NaPacket) == 32);

}  // namespace

Napi::Function Announcer::Define(Napi::Env env) {
  return DefineClass(env, "Announcer",
                     {
                         InstanceMethod<&Announcer::SendGratuitousArp>("sendGratuitousArp"),
                         InstanceMethod<&Announcer::SendUnsolicitedNa>("sendUnsolicitedNa"),
                         InstanceMethod<&Announcer::Close>("close"),
                     });
}

Announcer::Announcer(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Announcer>(info), addon_(&AddonData::Of(info.Env())) {
  addon_->Track(this);
  tracked_ = true;
}

Announcer::~Announcer() { Release(); }

void Announcer::Teardown() { Release(); }

void Announcer::Release() {
  packet_.reset();
  icmp6_.reset();
  if (tracked_) {
    addon_->Untrack(this);
    tracked_ = false;
  }
}

Napi::Value Announcer::Close(const Napi::CallbackInfo& info) {
  closed_ = true;
  Release();
  return info.Env().Undefined();
}

Mac Announcer::InterfaceMac(Napi::Env env, int fd, unsigned ifindex,
                            const std::string& what) const {
  ifreq ifr{};
  if (if_indextoname(ifindex, ifr.ifr_name) == nullptr) ThrowErrno(env, "if_indextoname", {what});
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) ThrowErrno(env, "ioctl", {"SIOCGIFHWADDR for ", what});
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    throw MakeSysError(env, EOPNOTSUPP, "ioctl", what, "not an Ethernet interface");
  }
  Mac mac;
  memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

// sendGratuitousArp({ifindex, address, mac?})
Napi::Value Announcer::SendGratuitousArp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options options(info, 0, "sendGratuitousArp");
  const unsigned ifindex = options.Uint("ifindex", 1, INT_MAX);
  const InetAddr address = options.Address("address");
  if (address.family != AF_INET) {
    ThrowInvalidArg(env, "sendGratuitousArp: options.address must be an IPv4 address, got \"" +
                             FormatInet(address) + "\"");
  }
  const std::optional<Mac> mac = options.OptMac("mac");
  const std::string what = "gratuitous ARP for " + FormatInet(address) + " on " + IfName(ifindex);
  if (closed_) throw MakeSysError(env, EBADF, "sendto", what, "Announcer closed");

  if (!packet_) {
    // Protocol 0: the socket is bound to no ethertype and so never has frames queued to it;
    // the ethertype of what it sends comes from the frame and the address below.
    packet_.reset(socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!packet_) ThrowErrno(env, "socket", {"AF_PACKET socket for ", what});
  }
  // The Ethernet source is always the interface's own address, even when the ARP payload
  // announces another one (a backup pointing clients at the new master): a foreign source
  // MAC would make switches learn that MAC on our port and blackhole its traffic.
  const Mac own = InterfaceMac(env, packet_.get(), ifindex, what);
  const Mac& sender = mac ? *mac : own;

  ArpFrame frame{};
  memset(frame.eth_dst, 0xff, ETH_ALEN);
  memcpy(frame.eth_src, own.data(), ETH_ALEN);
  frame.eth_type = htons(ETH_P_ARP);
  frame.htype = htons(ARPHRD_ETHER);
  frame.ptype = htons(ETH_P_IP);
  frame.hlen = ETH_ALEN;
  frame.plen = 4;
  // A request (as keepalived sends) with sender IP = target IP: every host on the segment
  // updates an existing entry for the address to the sender MAC, and none answers. The
  // target MAC is ignored in requests and left zero (RFC 5227).
  frame.oper = htons(ARPOP_REQUEST);
  memcpy(frame.sha, sender.data(), ETH_ALEN);
  memcpy(frame.spa, &address.v4, 4);
  memcpy(frame.tpa, &address.v4, 4);

  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = static_cast<int>(ifindex);
  to.sll_halen = ETH_ALEN;
  memset(to.sll_addr, 0xff, ETH_ALEN);
  if (sendto(packet_.get(), &frame, sizeof frame, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) <
      0) {
    ThrowErrno(env, "sendto", {what});
  }
  return env.Undefined();
}

// sendUnsolicitedNa({ifindex, address, mac?, router?})
Napi::Value Announcer::SendUnsolicitedNa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Options options(info, 0, "sendUnsolicitedNa");
  const unsigned ifindex = options.Uint("ifindex", 1, INT_MAX);
  const InetAddr address = options.Address("address");
  if (address.family != AF_INET6) {
    ThrowInvalidArg(env, "sendUnsolicitedNa: options.address must be an IPv6 address, got \"" +
                             FormatInet(address) + "\"");
  }
  const std::optional<Mac> mac = options.OptMac("mac");
  const bool router = options.Bool("router", false);
  const std::string what =
      "neighbour advertisement for " + FormatInet(address) + " on " + IfName(ifindex);
  if (closed_) throw MakeSysError(env, EBADF, "sendmsg", what, "Announcer closed");

  if (!icmp6_) {
    UniqueFd fd(socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6));
    if (!fd) ThrowErrno(env, "socket", {"ICMPv6 socket for ", what});
    // Send-only: filter out every ICMPv6 type so nothing is ever queued for us to read.
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    SetSockOpt(env, fd.get(), IPPROTO_ICMPV6, ICMP6_FILTER, filter, "ICMP6_FILTER", what);
    // RFC 4861 7.1.2: receivers drop neighbour discovery packets whose hop limit is not 255.
    SetSockOpt(env, fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255, "IPV6_MULTICAST_HOPS", what);
    SetSockOpt(env, fd.get(), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP", what);
    icmp6_ = std::move(fd);
  }
  const Mac target_mac = mac ? *mac : InterfaceMac(env, icmp6_.get(), ifindex, what);

  NaPacket packet{};
  packet.na.nd_na_type = ND_NEIGHBOR_ADVERT;
  // Override: replace whatever link-layer address receivers have for the target. Solicited
  // clear: nobody asked. Router only when this node forwards for the VIP's users (clearing it
  // on a router's address makes hosts drop it from their default router list). The kernel
  // fills in the ICMPv6 checksum on ICMPv6 raw sockets.
  packet.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE | (router ? ND_NA_FLAG_ROUTER : 0);
  packet.na.nd_na_target = address.v6;
  packet.opt_type = ND_OPT_TARGET_LINKADDR;
  packet.opt_len = 1;
  memcpy(packet.opt_mac, target_mac.data(), ETH_ALEN);

  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);  // all nodes
  to.sin6_scope_id = ifindex;
  iovec iov{&packet, sizeof packet};
  // The interface as packet info and no source address: the kernel picks the interface's
  // link-local address, as RFC 4861 expects of neighbour discovery.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = IPPROTO_IPV6;
  cmsg->cmsg_type = IPV6_PKTINFO;
  cmsg->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo pktinfo{};
  pktinfo.ipi6_ifindex = ifindex;
  memcpy(CMSG_DATA(cmsg), &pktinfo, sizeof pktinfo);
  if (sendmsg(icmp6_.get(), &msg, 0) < 0) ThrowErrno(env, "sendmsg", {what});
  return env.Undefined();
}

}  // namespace kl
