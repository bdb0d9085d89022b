#include "rtnl_addr.h"

#include <linux/if_addr.h>

namespace kl {

std::optional<AddressInfo> ParseAddress(const nlmsghdr* header) {
  if (header->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return std::nullopt;
  const auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(header));
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return std::nullopt;
  const NlAttrs attrs(IFA_RTA(ifa), static_cast<int>(IFA_PAYLOAD(header)), IFA_MAX);

  AddressInfo info;
  info.ifindex = ifa->ifa_index;
  info.address.family = ifa->ifa_family;
  // IFA_LOCAL is the address itself and IFA_ADDRESS the peer on point-to-point links; other
  // links carry the same value in both, and IPv6 often sends IFA_ADDRESS only.
  const uint16_t which = attrs.Has(IFA_LOCAL) ? IFA_LOCAL : IFA_ADDRESS;
  if (attrs.Len(which) != info.address.size()) return std::nullopt;
  memcpy(&info.address.v6, attrs.Data(which), info.address.size());
  info.prefix_len = ifa->ifa_prefixlen;
  const ifa_cacheinfo forever{kForever, kForever, 0, 0};
  const ifa_cacheinfo cache = attrs.As<ifa_cacheinfo>(IFA_CACHEINFO, forever);
  info.valid_lft = cache.ifa_valid;
  info.preferred_lft = cache.ifa_prefered;
  // ifa_flags holds only the low 8 bits; IFA_FLAGS, when present, holds all of them.
  info.flags = attrs.As<uint32_t>(IFA_FLAGS, ifa->ifa_flags);
  info.scope = ifa->ifa_scope;
  info.label = attrs.String(IFA_LABEL);
  if (attrs.Has(IFA_PROTO)) info.proto = attrs.As<uint8_t>(IFA_PROTO, 0);
  return info;
}

Napi::Object AddressToJs(Napi::Env env, const AddressInfo& info) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("ifindex", info.ifindex);
  obj.Set("family", info.address.family == AF_INET ? 4 : 6);
  obj.Set("address", FormatInet(info.address));
  obj.Set("prefixLen", info.prefix_len);
  obj.Set("validLft", info.valid_lft);
  obj.Set("preferredLft", info.preferred_lft);
  obj.Set("flags", info.flags);
  obj.Set("scope", info.scope);
  if (!info.label.empty()) obj.Set("label", info.label);
  if (info.proto) obj.Set("proto", *info.proto);
  return obj;
}

static ifaddrmsg& AddressHeader(NlMessage& message, unsigned ifindex, const InetAddr& address,
                                unsigned prefix_len) {
  auto& ifa = message.Append<ifaddrmsg>();
  ifa.ifa_family = static_cast<uint8_t>(address.family);
  ifa.ifa_prefixlen = static_cast<uint8_t>(prefix_len);
  ifa.ifa_index = ifindex;
  // IPv4 takes the scope from here (VIPs are global); IPv6 derives it from the address.
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  return ifa;
}

static void AddressAttrs(NlMessage& message, const InetAddr& address) {
  if (address.family == AF_INET) message.Attr(IFA_LOCAL, address.data(), address.size());
  message.Attr(IFA_ADDRESS, address.data(), address.size());
}

NlMessage NewAddressRequest(const AddressChange& change) {
  // EXCL: adding an address that exists is an error (EEXIST), so two owners of one VIP show
  // up; REPLACE: the refresh of our own VIP, which resets its lifetimes.
  NlMessage message(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
                                     (change.replace ? NLM_F_REPLACE : NLM_F_EXCL));
  AddressHeader(message, change.ifindex, change.address, change.prefix_len);
  AddressAttrs(message, change.address);
  if (change.valid_lft || change.preferred_lft) {
    // Finite lifetimes make the kernel drop the address by itself when nobody refreshes it:
    // a SIGKILLed agent cannot leave its VIPs behind for longer than validLft.
    ifa_cacheinfo cache{};
    cache.ifa_valid = change.valid_lft.value_or(kForever);
    cache.ifa_prefered = change.preferred_lft.value_or(cache.ifa_valid);
    message.Attr(IFA_CACHEINFO, &cache, sizeof cache);
  }
  if (change.address.family == AF_INET6) {
    // No duplicate address detection: a VIP must be usable the moment this node becomes
    // master, not after DAD's probe time; and at takeover the previous owner may still hold
    // the address (its lifetime has not run out yet), which would fail DAD and leave the VIP
    // "dadfailed" and dead here.
    message.AttrU32(IFA_FLAGS, IFA_F_NODAD);
  }
  if (change.proto) message.AttrU8(IFA_PROTO, *change.proto);
  return message;
}

NlMessage DeleteAddressRequest(unsigned ifindex, const InetAddr& address, unsigned prefix_len) {
  NlMessage message(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK);
  AddressHeader(message, ifindex, address, prefix_len);
  AddressAttrs(message, address);
  return message;
}

NlMessage AddressDumpRequest(int family) {
  NlMessage message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
  message.Append<ifaddrmsg>().ifa_family = static_cast<uint8_t>(family);
  return message;
}

std::string DescribeAddress(unsigned ifindex, const InetAddr& address, unsigned prefix_len) {
  return FormatInet(address) + "/" + std::to_string(prefix_len) + " on " + IfName(ifindex);
}

}  // namespace kl
