#include "netlink.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace kl {

NlMessage::NlMessage(uint16_t type, uint16_t flags) {
  nlmsghdr& h = Append<nlmsghdr>();
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_len = static_cast<uint32_t>(buffer_.size());
}

void NlMessage::Grow(size_t len) {
  buffer_.resize(buffer_.size() + len, 0);
  if (buffer_.size() >= sizeof(nlmsghdr)) header().nlmsg_len = static_cast<uint32_t>(buffer_.size());
}

void NlMessage::Attr(uint16_t type, const void* data, size_t len) {
  const size_t offset = buffer_.size();
  Grow(RTA_SPACE(len));
  auto* rta = reinterpret_cast<rtattr*>(buffer_.data() + offset);
  rta->rta_type = type;
  rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
  memcpy(RTA_DATA(rta), data, len);
}

NlAttrs::NlAttrs(const rtattr* first, int len, size_t max_type) : table_(max_type + 1, nullptr) {
  for (const rtattr* rta = first; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
    // Nested-attribute flags live in the top bits of the type.
    const uint16_t type = rta->rta_type & NLA_TYPE_MASK;
    if (type < table_.size()) table_[type] = rta;
  }
}

size_t NlAttrs::Len(uint16_t type) const {
  const rtattr* rta = Get(type);
  return rta != nullptr ? RTA_PAYLOAD(rta) : 0;
}

const void* NlAttrs::Data(uint16_t type) const {
  const rtattr* rta = Get(type);
  return rta != nullptr ? RTA_DATA(rta) : nullptr;
}

std::string NlAttrs::String(uint16_t type) const {
  const size_t len = Len(type);
  if (len == 0) return {};
  const char* text = static_cast<const char*>(Data(type));
  return std::string(text, strnlen(text, len));
}

NlAck ParseAck(const nlmsghdr* header) {
  if (header->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return {EPROTO, "truncated error"};
  const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
  NlAck ack{-error->error, {}};
  if ((header->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return ack;
  // The TLVs follow the echoed request: its header only when capped, else all of it.
  size_t offset = sizeof(nlmsgerr);
  if ((header->nlmsg_flags & NLM_F_CAPPED) == 0) offset += error->msg.nlmsg_len - NLMSG_HDRLEN;
  const size_t payload = header->nlmsg_len - NLMSG_HDRLEN;
  if (offset >= payload) return ack;
  const auto* first = reinterpret_cast<const rtattr*>(
      static_cast<const uint8_t*>(NLMSG_DATA(header)) + NLMSG_ALIGN(offset));
  const NlAttrs tlvs(first, static_cast<int>(payload - NLMSG_ALIGN(offset)), NLMSGERR_ATTR_MAX);
  ack.message = tlvs.String(NLMSGERR_ATTR_MSG);
  return ack;
}

int OpenNetlinkSocket(int protocol, const std::string& label, const std::vector<unsigned>& groups,
                      int receive_buffer) {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw SysError{errno, "socket", "open " + label, {}};
  auto fail = [fd](const char* syscall, const std::string& what) {
    const int err = errno;
    close(fd);
    throw SysError{err, syscall, what, {}};
  };
  const int one = 1;
  if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one) < 0) {
    fail("setsockopt", "NETLINK_EXT_ACK on " + label);
  }
  if (setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one) < 0) {
    fail("setsockopt", "NETLINK_CAP_ACK on " + label);
  }
  // SO_RCVBUFFORCE may exceed net.core.rmem_max (we run with CAP_NET_ADMIN); without the
  // capability fall back to what rmem_max allows.
  if (receive_buffer > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) < 0) {
    fail("setsockopt", "SO_RCVBUF on " + label);
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;  // nl_pid 0: the kernel assigns our port id
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
    fail("bind", "bind " + label);
  }
  for (unsigned group : groups) {
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
      fail("setsockopt", "NETLINK_ADD_MEMBERSHIP " + std::to_string(group));
    }
  }
  return fd;
}

}  // namespace kl
