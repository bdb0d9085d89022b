// Public API of the sans-I/O VRRP core.
export { compareAddressBytes, formatAddress, parseAddress, type Family, type ParsedAddress } from './address.ts';
export { IPPROTO_VRRP, internetChecksum, onesComplementSum, pseudoHeader } from './checksum.ts';
export { checkRouterConfig, type GarpConfig, type RouterConfig, type TrackConfig } from './config.ts';
export { DROP_REASONS, emptyDropCounters, type DropReason } from './drop-reason.ts';
export {
  advertLength,
  decodeAdvert,
  encodeAdvert,
  multicastGroup,
  passwordAuthData,
  peekVrid,
  VRRP_MULTICAST_V4,
  VRRP_MULTICAST_V6,
  VRRP_TTL,
  type Advert,
  type DecodeResult,
  type PacketContext,
  type VrrpVersion,
} from './packet.ts';
export { STATES, VrrpRouter, type Action, type RouterStats, type State } from './router.ts';
export { masterDownIntervalMs, skewTimeMs } from './timers.ts';
export { createValidator, validateAdvert, type ReceiveMeta, type ValidationPolicy, type ValidationResult, type Validator } from './validate.ts';
