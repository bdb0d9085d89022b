// Address, MAC and interface-name conversions shared by every part of the addon.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kl {

struct InetAddr {
  int family = AF_UNSPEC;  // AF_INET or AF_INET6 once parsed
  union {
    in_addr v4;
    in6_addr v6;
  };

  InetAddr() : v6{} {}
  const void* data() const { return &v6; }  // both members start at the same address
  size_t size() const { return family == AF_INET ? sizeof v4 : sizeof v6; }
  int maxPrefix() const { return family == AF_INET ? 32 : 128; }
};

// Strict dotted-quad or RFC 4291 text (inet_pton), no scope suffix, no surrounding spaces.
std::optional<InetAddr> ParseInet(const std::string& text);
std::string FormatInet(int family, const void* bytes);
std::string FormatInet(const InetAddr& addr);

using Mac = std::array<uint8_t, 6>;
// Six colon-separated hex octets, e.g. "02:6b:6c:00:00:01" (either case).
std::optional<Mac> ParseMac(std::string_view text);
// Lower-case colon-separated hex; any length (link-layer addresses are not always 6 bytes).
std::string FormatMac(const uint8_t* bytes, size_t len);

// The interface's name for messages, or "ifindex N" when there is none (any more).
std::string IfName(unsigned ifindex);

}  // namespace kl
