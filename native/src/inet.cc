#include "inet.h"

#include <arpa/inet.h>
#include <net/if.h>

namespace kl {

std::optional<InetAddr> ParseInet(const std::string& text) {
  InetAddr addr;
  if (inet_pton(AF_INET, text.c_str(), &addr.v4) == 1) {
    addr.family = AF_INET;
    return addr;
  }
  if (inet_pton(AF_INET6, text.c_str(), &addr.v6) == 1) {
    addr.family = AF_INET6;
    return addr;
  }
  return std::nullopt;
}

std::string FormatInet(int family, const void* bytes) {
  char text[INET6_ADDRSTRLEN] = "";
  inet_ntop(family, bytes, text, sizeof text);
  return text;
}

std::string FormatInet(const InetAddr& addr) { return FormatInet(addr.family, addr.data()); }

static int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Mac> ParseMac(std::string_view text) {
  // "xx:" x 5 + "xx"
  if (text.size() != 17) return std::nullopt;
  Mac mac{};
  for (size_t i = 0; i < mac.size(); i++) {
    const int hi = HexDigit(text[i * 3]);
    const int lo = HexDigit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':')) return std::nullopt;
    mac[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return mac;
}

std::string FormatMac(const uint8_t* bytes, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < len; i++) {
    if (i > 0) text += ':';
    text += kHex[bytes[i] >> 4];
    text += kHex[bytes[i] & 0xf];
  }
  return text;
}

std::string IfName(unsigned ifindex) {
  char name[IF_NAMESIZE];
  if (if_indextoname(ifindex, name) != nullptr) return name;
  return "ifindex " + std::to_string(ifindex);
}

}  // namespace kl
