#include "vrrp_socket.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "errors.h"
#include "inet.h"

namespace kl {

namespace {

constexpr int kIpProtoVrrp = 112;
// RFC 5798 5.1.1.3 / 5.1.2.3: adverts go out with TTL / hop limit 255 and receivers drop any
// other value, which proves the sender is on the link.
constexpr int kVrrpTtl = 255;
// IP precedence "internetwork control", as keepalived sends (TOS 0xc0), so QoS policies that
// protect control traffic also protect adverts.
constexpr int kVrrpTos = 0xc0;
// Upper bound on datagrams read per readiness callback. The poll is level-triggered, so what
// is left is read on the next loop iteration; a flood cannot starve timers and other I/O.
constexpr int kMaxReadsPerWakeup = 256;
// IPv4 datagrams (IP header included) and IPv6 payloads are at most 65535 bytes.
constexpr size_t kBufferSize = 65536;

}  // namespace

Napi::Function VrrpSocket::Define(Napi::Env env) {
  return DefineClass(env, "VrrpSocket",
                     {
                         InstanceMethod<&VrrpSocket::Send>("send"),
                         InstanceMethod<&VrrpSocket::Close>("close"),
                         InstanceAccessor<&VrrpSocket::Ifindex>("ifindex"),
                     });
}

VrrpSocket::VrrpSocket(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<VrrpSocket>(info),
      addon_(&AddonData::Of(info.Env())),
      poll_(addon_, this, OnPoll) {
  Napi::Env env = info.Env();
  const Options options(info, 0, "VrrpSocket");
  family_ = options.Family("family", true);
  ifname_ = options.String("ifname");
  const bool multicast = options.Bool("multicast", true);
  Napi::Function on_message = FunctionArg(info, 1, "VrrpSocket", "onMessage");
  Napi::Function on_error = FunctionArg(info, 2, "VrrpSocket", "onError");
  label_ = "VrrpSocket " + ifname_ + (family_ == AF_INET ? "/IPv4" : "/IPv6");

  if (ifname_.empty() || ifname_.size() >= IF_NAMESIZE) {
    ThrowInvalidArg(env, "VrrpSocket: options.ifname must be an interface name, got " +
                             Describe(options.Get("ifname")));
  }
  ifindex_ = if_nametoindex(ifname_.c_str());
  if (ifindex_ == 0) ThrowErrno(env, "if_nametoindex", {label_});

  fd_.reset(socket(family_, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kIpProtoVrrp));
  if (!fd_) ThrowErrno(env, "socket", {label_});
  // Receive only what arrives on this interface, send only through it.
  if (setsockopt(fd_.get(), SOL_SOCKET, SO_BINDTODEVICE, ifname_.c_str(), ifname_.size()) < 0) {
    ThrowSetSockOpt(env, "SO_BINDTODEVICE", label_);
  }
  if (family_ == AF_INET) {
    SetUp4(env, multicast);
  } else {
    SetUp6(env, multicast);
  }

  buffer_.resize(kBufferSize);
  int rc = poll_.Open(fd_.get());
  if (rc == 0) rc = poll_.Start();
  if (rc < 0) {
    errno = -rc;
    ThrowErrno(env, "uv_poll_start", {label_});
  }
  on_message_ = Napi::Persistent(on_message);
  on_error_ = Napi::Persistent(on_error);
  async_.emplace(env, "kubelived:VrrpSocket", info.This().As<Napi::Object>());
  // An open socket delivers messages whether or not JS still holds it: keep the wrapper (and
  // so this object) alive until close().
  Ref();
  addon_->Track(this);
  tracked_ = true;
}

void VrrpSocket::SetUp4(Napi::Env env, bool multicast) {
  const int fd = fd_.get();
  SetSockOpt(env, fd, IPPROTO_IP, IP_TTL, kVrrpTtl, "IP_TTL", label_);
  SetSockOpt(env, fd, IPPROTO_IP, IP_MULTICAST_TTL, kVrrpTtl, "IP_MULTICAST_TTL", label_);
  SetSockOpt(env, fd, IPPROTO_IP, IP_TOS, kVrrpTos, "IP_TOS", label_);
  // DF clear, as keepalived sends: an advert never needs path MTU discovery.
  SetSockOpt(env, fd, IPPROTO_IP, IP_MTU_DISCOVER, int{IP_PMTUDISC_DONT}, "IP_MTU_DISCOVER",
             label_);
  // A router must not receive its own adverts back.
  SetSockOpt(env, fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP", label_);
  ip_mreqn mreq{};
  mreq.imr_ifindex = static_cast<int>(ifindex_);
  SetSockOpt(env, fd, IPPROTO_IP, IP_MULTICAST_IF, mreq, "IP_MULTICAST_IF", label_);
  // Tells on which interface a datagram arrived.
  SetSockOpt(env, fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO", label_);
  if (multicast) {
    inet_pton(AF_INET, "224.0.0.18", &mreq.imr_multiaddr);
    SetSockOpt(env, fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq, "IP_ADD_MEMBERSHIP", label_);
  }
}

void VrrpSocket::SetUp6(Napi::Env env, bool multicast) {
  const int fd = fd_.get();
  // The engine computes the VRRP checksum itself (over the IPv6 pseudo-header for v3) and it
  // must match the source address it chose; -1 (the default for non-ICMPv6 raw sockets, stated
  // here on purpose) keeps the kernel from writing or checking one.
  SetSockOpt(env, fd, IPPROTO_IPV6, IPV6_CHECKSUM, -1, "IPV6_CHECKSUM", label_);
  SetSockOpt(env, fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, kVrrpTtl, "IPV6_UNICAST_HOPS", label_);
  SetSockOpt(env, fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, kVrrpTtl, "IPV6_MULTICAST_HOPS", label_);
  SetSockOpt(env, fd, IPPROTO_IPV6, IPV6_TCLASS, kVrrpTos, "IPV6_TCLASS", label_);
  SetSockOpt(env, fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP", label_);
  SetSockOpt(env, fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(ifindex_),
             "IPV6_MULTICAST_IF", label_);
  // Raw IPv6 sockets deliver no IP header: the hop limit and the destination come as
  // ancillary data.
  SetSockOpt(env, fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT", label_);
  SetSockOpt(env, fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO", label_);
  if (multicast) {
    ipv6_mreq mreq{};
    inet_pton(AF_INET6, "ff02::12", &mreq.ipv6mr_multiaddr);
    mreq.ipv6mr_interface = ifindex_;
    SetSockOpt(env, fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq, "IPV6_JOIN_GROUP", label_);
  }
}

VrrpSocket::~VrrpSocket() { Release(); }

void VrrpSocket::Teardown() { Release(); }

void VrrpSocket::Release() {
  poll_.Close();
  fd_.reset();
  if (tracked_) {
    addon_->Untrack(this);
    tracked_ = false;
  }
}

Napi::Value VrrpSocket::Close(const Napi::CallbackInfo& info) {
  if (tracked_) {
    Release();
    on_message_.Reset();
    on_error_.Reset();
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value VrrpSocket::Ifindex(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ifindex_);
}

// send(payload: Uint8Array, dst: string, src?: string)
Napi::Value VrrpSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowInvalidArg(env, "send: payload must be a Uint8Array or Buffer, got " + Describe(info[0]));
  }
  auto payload = info[0].As<Napi::Uint8Array>();
  const InetAddr dst = AddressArg(info, 1, "send", "dst", family_);
  std::optional<InetAddr> src;
  if (!info[2].IsUndefined()) src = AddressArg(info, 2, "send", "src", family_);
  const std::string dst_text = FormatInet(dst);
  if (!fd_) {
    throw MakeSysError(env, EBADF, "sendmsg", "send to " + dst_text + " on closed " + label_);
  }

  iovec iov{payload.Data(), payload.ElementLength()};
  sockaddr_storage to{};
  // The source address goes in as packet info, not bind(): the engine picks it per advert and
  // must get exactly the address its checksum pseudo-header used.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  cmsghdr* cmsg = reinterpret_cast<cmsghdr*>(control);
  if (family_ == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&to);
    sin->sin_family = AF_INET;
    sin->sin_addr = dst.v4;
    msg.msg_namelen = sizeof *sin;
    in_pktinfo pktinfo{};
    pktinfo.ipi_ifindex = static_cast<int>(ifindex_);
    if (src) pktinfo.ipi_spec_dst = src->v4;
    cmsg->cmsg_level = IPPROTO_IP;
    cmsg->cmsg_type = IP_PKTINFO;
    cmsg->cmsg_len = CMSG_LEN(sizeof pktinfo);
    memcpy(CMSG_DATA(cmsg), &pktinfo, sizeof pktinfo);
    msg.msg_controllen = CMSG_SPACE(sizeof pktinfo);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&to);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = dst.v6;
    // Needed for link-local unicast peers; ignored by the kernel for other scopes.
    sin6->sin6_scope_id = ifindex_;
    msg.msg_namelen = sizeof *sin6;
    in6_pktinfo pktinfo{};
    pktinfo.ipi6_ifindex = ifindex_;
    if (src) pktinfo.ipi6_addr = src->v6;
    cmsg->cmsg_level = IPPROTO_IPV6;
    cmsg->cmsg_type = IPV6_PKTINFO;
    cmsg->cmsg_len = CMSG_LEN(sizeof pktinfo);
    memcpy(CMSG_DATA(cmsg), &pktinfo, sizeof pktinfo);
    msg.msg_controllen = CMSG_SPACE(sizeof pktinfo);
  }
  if (sendmsg(fd_.get(), &msg, 0) < 0) {
    ThrowErrno(env, "sendmsg", {"send to ", dst_text, src ? " from " : "",
                                src ? FormatInet(*src) : "", " on ", label_});
  }
  return env.Undefined();
}

void VrrpSocket::OnPoll(void* owner, int err) {
  auto* self = static_cast<VrrpSocket*>(owner);
  Napi::Env env = self->Env();
  JsScope scope(env, *self, *self->async_);
  try {
    // A pending socket error. Not expected in practice: without IP_RECVERR the kernel does not
    // report ICMP errors to an unconnected raw socket.
    if (err != 0) self->EmitError(env, err, "recvmsg");
    self->Drain(env);
  } catch (const Napi::Error& e) {
    ReportUncaught(env, e.Value());
  }
}

void VrrpSocket::Drain(Napi::Env env) {
  for (int i = 0; i < kMaxReadsPerWakeup && fd_; i++) {
    sockaddr_storage from{};
    iovec iov{buffer_.data(), buffer_.size()};
    alignas(cmsghdr) char control[256];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd_.get(), &msg, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      // Report once per wakeup; if the error persists, the next readiness reports it again.
      EmitError(env, errno, "recvmsg");
      return;
    }
    if (!fd_ || on_message_.IsEmpty()) return;
    CallJs(env, on_message_.Value(), {Message(env, static_cast<size_t>(n), msg)});
  }
}

Napi::Object VrrpSocket::Message(Napi::Env env, size_t len, const msghdr& msg) const {
  const uint8_t* data = buffer_.data();
  const uint8_t* payload = data;
  size_t payload_len = len;
  std::string src;
  std::string dst;
  int ttl = 0;
  unsigned ifindex = ifindex_;

  if (family_ == AF_INET) {
    src = FormatInet(AF_INET, &static_cast<const sockaddr_in*>(msg.msg_name)->sin_addr);
    // A raw IPv4 socket delivers the IP header too; the VRRP message starts after IHL 32-bit
    // words (options included). TTL and destination come from that header.
    const size_t header_len = len >= sizeof(iphdr) ? (data[0] & 0x0f) * 4u : 0;
    if (header_len >= sizeof(iphdr) && header_len <= len) {
      const auto* ip = reinterpret_cast<const iphdr*>(data);
      ttl = ip->ttl;
      dst = FormatInet(AF_INET, &ip->daddr);
      payload = data + header_len;
      payload_len = len - header_len;
    } else {
      payload_len = 0;  // no sane header: nothing to call a VRRP message (the TS side drops it)
    }
  } else {
    src = FormatInet(AF_INET6, &static_cast<const sockaddr_in6*>(msg.msg_name)->sin6_addr);
  }
  for (const cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr;
       cmsg = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(cmsg))) {
    if (cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      memcpy(&info, CMSG_DATA(cmsg), sizeof info);
      ifindex = static_cast<unsigned>(info.ipi_ifindex);
      if (dst.empty()) dst = FormatInet(AF_INET, &info.ipi_addr);
    } else if (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      memcpy(&info, CMSG_DATA(cmsg), sizeof info);
      ifindex = info.ipi6_ifindex;
      dst = FormatInet(AF_INET6, &info.ipi6_addr);
    } else if (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_HOPLIMIT) {
      memcpy(&ttl, CMSG_DATA(cmsg), sizeof ttl);
    }
  }

  Napi::Object message = Napi::Object::New(env);
  message.Set("payload", Napi::Buffer<uint8_t>::Copy(env, payload, payload_len));
  message.Set("src", src);
  message.Set("dst", dst);
  message.Set("ttl", ttl);
  message.Set("ifindex", ifindex);
  return message;
}

void VrrpSocket::EmitError(Napi::Env env, int err, const char* syscall) {
  if (on_error_.IsEmpty()) return;
  CallJs(env, on_error_.Value(), {MakeSysError(env, err, syscall, "receive on " + label_).Value()});
}

}  // namespace kl
