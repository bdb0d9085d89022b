// rtnetlink address messages (RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR).
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

#include "inet.h"
#include "netlink.h"

namespace kl {

// The lifetime value meaning "forever" (the kernel's INFINITY_LIFE_TIME).
constexpr uint32_t kForever = 0xffffffff;

// What the kernel says about one address.
struct AddressInfo {
  unsigned ifindex = 0;
  InetAddr address;
  unsigned prefix_len = 0;
  // Remaining lifetimes in seconds, or kForever.
  uint32_t valid_lft = 0;
  uint32_t preferred_lft = 0;
  uint32_t flags = 0;  // IFA_F_*
  unsigned scope = 0;  // RT_SCOPE_*
  std::string label;
  std::optional<uint8_t> proto;  // IFA_PROTO: who added it (kernels from 5.18)
};

// nullopt for messages that are not a well-formed IPv4/IPv6 address.
std::optional<AddressInfo> ParseAddress(const nlmsghdr* header);
Napi::Object AddressToJs(Napi::Env env, const AddressInfo& info);

struct AddressChange {
  unsigned ifindex = 0;
  InetAddr address;
  unsigned prefix_len = 0;
  std::optional<uint32_t> valid_lft;
  std::optional<uint32_t> preferred_lft;
  bool replace = false;
  std::optional<uint8_t> proto;
};

NlMessage NewAddressRequest(const AddressChange& change);
NlMessage DeleteAddressRequest(unsigned ifindex, const InetAddr& address, unsigned prefix_len);
// family: AF_UNSPEC for both.
NlMessage AddressDumpRequest(int family);

// "198.18.0.100/24 on eth0", for messages.
std::string DescribeAddress(unsigned ifindex, const InetAddr& address, unsigned prefix_len);

}  // namespace kl
