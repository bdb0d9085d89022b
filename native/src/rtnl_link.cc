#include "rtnl_link.h"

#include <linux/if.h>

#include "inet.h"

namespace kl {

std::optional<LinkInfo> ParseLink(const nlmsghdr* header) {
  if (header->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(header));
  const NlAttrs attrs(IFLA_RTA(ifi), static_cast<int>(IFLA_PAYLOAD(header)), IFLA_MAX);
  LinkInfo info;
  info.ifindex = static_cast<unsigned>(ifi->ifi_index);
  info.flags = ifi->ifi_flags;
  info.name = attrs.String(IFLA_IFNAME);
  info.mac = FormatMac(static_cast<const uint8_t*>(attrs.Data(IFLA_ADDRESS)), attrs.Len(IFLA_ADDRESS));
  info.mtu = attrs.As<uint32_t>(IFLA_MTU, 0);
  info.operstate = attrs.As<uint8_t>(IFLA_OPERSTATE, IF_OPER_UNKNOWN);
  return info;
}

static const char* OperStateName(uint8_t state) {
  switch (state) {
    case IF_OPER_NOTPRESENT: return "notpresent";
    case IF_OPER_DOWN: return "down";
    case IF_OPER_LOWERLAYERDOWN: return "lowerlayerdown";
    case IF_OPER_TESTING: return "testing";
    case IF_OPER_DORMANT: return "dormant";
    case IF_OPER_UP: return "up";
    default: return "unknown";
  }
}

Napi::Object LinkToJs(Napi::Env env, const LinkInfo& info) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("ifindex", info.ifindex);
  obj.Set("name", info.name);
  obj.Set("mac", info.mac);
  // Administratively up (ip link set up).
  obj.Set("up", (info.flags & IFF_UP) != 0);
  // The layer below signals carrier: cable in, veth peer up, bridge port forwarding.
  obj.Set("carrier", (info.flags & IFF_LOWER_UP) != 0);
  // Operationally up (operstate UP, or UNKNOWN for drivers that do not track it): usable.
  obj.Set("running", (info.flags & IFF_RUNNING) != 0);
  obj.Set("operstate", OperStateName(info.operstate));
  obj.Set("mtu", info.mtu);
  return obj;
}

// Statistics are most of a link message's bytes and none of our business.
static void SkipStats(NlMessage& message) {
  message.AttrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
}

NlMessage LinkDumpRequest() {
  NlMessage message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
  message.Append<ifinfomsg>().ifi_family = AF_UNSPEC;
  SkipStats(message);
  return message;
}

NlMessage GetLinkRequest(unsigned ifindex, const std::string& name) {
  NlMessage message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
  auto& ifi = message.Append<ifinfomsg>();
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  if (ifindex == 0) message.AttrString(IFLA_IFNAME, name);
  SkipStats(message);
  return message;
}

}  // namespace kl
