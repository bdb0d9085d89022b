// Building and reading rtnetlink messages. No JS here: failures are SysError.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"

namespace kl {

// One request: nlmsghdr, a family header (ifaddrmsg, ifinfomsg), attributes.
class NlMessage {
 public:
  NlMessage(uint16_t type, uint16_t flags);

  // Appends a zeroed T at the next aligned offset. The reference is valid until the next
  // append.
  template <typename T>
  T& Append() {
    const size_t offset = buffer_.size();
    Grow(NLMSG_ALIGN(sizeof(T)));
    return *reinterpret_cast<T*>(buffer_.data() + offset);
  }
  void Attr(uint16_t type, const void* data, size_t len);
  void AttrU32(uint16_t type, uint32_t value) { Attr(type, &value, sizeof value); }
  void AttrU8(uint16_t type, uint8_t value) { Attr(type, &value, sizeof value); }
  void AttrString(uint16_t type, const std::string& value) {
    Attr(type, value.c_str(), value.size() + 1);
  }

  nlmsghdr& header() { return *reinterpret_cast<nlmsghdr*>(buffer_.data()); }
  const uint8_t* data() const { return buffer_.data(); }
  size_t size() const { return buffer_.size(); }

 private:
  void Grow(size_t len);

  std::vector<uint8_t> buffer_;
};

// The attributes of one message indexed by type (the last one of a type wins); types above
// the table size are ignored.
class NlAttrs {
 public:
  NlAttrs(const rtattr* first, int len, size_t max_type);

  bool Has(uint16_t type) const { return Get(type) != nullptr; }
  const rtattr* Get(uint16_t type) const { return type < table_.size() ? table_[type] : nullptr; }
  size_t Len(uint16_t type) const;
  const void* Data(uint16_t type) const;
  // The attribute as T if it is at least that long, else `fallback`.
  template <typename T>
  T As(uint16_t type, T fallback) const {
    if (Len(type) < sizeof(T)) return fallback;
    T value;
    memcpy(&value, Data(type), sizeof value);
    return value;
  }
  // A NUL-terminated string attribute, or "" when absent.
  std::string String(uint16_t type) const;

 private:
  std::vector<const rtattr*> table_;
};

// The outcome carried by an NLMSG_ERROR message: err 0 is an ACK; `message` is the kernel's
// extended-ack text, if any.
struct NlAck {
  int err;
  std::string message;
};
NlAck ParseAck(const nlmsghdr* header);

// A non-blocking, close-on-exec netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_GENERIC),
// bound, with extended acks (the kernel then explains EINVALs in words) and capped acks (errors
// do not echo our whole request). `groups` are multicast groups to join; `receive_buffer` 0
// keeps the default. `label` names the socket in errors. Returns the fd; throws SysError.
int OpenNetlinkSocket(int protocol, const std::string& label, const std::vector<unsigned>& groups,
                      int receive_buffer);

}  // namespace kl
