// rtnetlink link messages (RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK).
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

#include "netlink.h"

namespace kl {

struct LinkInfo {
  unsigned ifindex = 0;
  std::string name;
  std::string mac;  // "" when the link has no link-layer address
  unsigned flags = 0;  // IFF_*
  unsigned mtu = 0;
  uint8_t operstate = 0;  // IF_OPER_* (RFC 2863)
};

std::optional<LinkInfo> ParseLink(const nlmsghdr* header);
Napi::Object LinkToJs(Napi::Env env, const LinkInfo& info);

NlMessage LinkDumpRequest();
// By index when ifindex != 0, else by name.
NlMessage GetLinkRequest(unsigned ifindex, const std::string& name);

}  // namespace kl
