// The IPVS objects as the kernel holds them (include/uapi/linux/ip_vs.h), shared by the pure
// model and diff (src/ipvs) and the native addon's generic-netlink facade (src/net/ipvs.ts).
// Addresses are canonical text; ports are host-order numbers here (the addon converts).
import type { Family } from '../vrrp/address.ts';

export type IpvsProtocol = 'TCP' | 'UDP' | 'SCTP';

/** IP_VS_CONN_F_MASQ (NAT), IP_VS_CONN_F_DROUTE (DR, "gatewaying"), IP_VS_CONN_F_TUNNEL (TUN). */
export type Forwarding = 'NAT' | 'DR' | 'TUN';

/** A virtual service is named by address, port and protocol, or by a firewall mark. */
export type ServiceKey =
  | { family: Family; protocol: IpvsProtocol; address: string; port: number; fwmark?: undefined }
  | { family: Family; fwmark: number; protocol?: undefined; address?: undefined; port?: undefined };

export interface IpvsService {
  key: ServiceKey;
  /** rr wrr lc wlc lblc lblcr dh sh sed nq mh fo ovf twos */
  scheduler: string;
  /** IP_VS_SVC_F_* bits: 0x1 persistent, 0x4 one-packet, 0x8/0x10/0x20 scheduler flags 1-3. */
  flags: number;
  /** Persistence timeout in seconds (0 when not persistent). */
  timeout: number;
  /** Persistence granularity: an IPv4 netmask as a prefix length, or an IPv6 prefix length. */
  netmask: number;
}

export interface IpvsDestination {
  address: string;
  family: Family;
  port: number;
  forwarding: Forwarding;
  weight: number;
  /** 0 = no limit. */
  upperThreshold: number;
  lowerThreshold: number;
}

/** What a dump of the kernel returns: the configuration plus live counters. */
export interface DumpedDestination extends IpvsDestination {
  activeConns: number;
  inactiveConns: number;
  persistConns: number;
}

export interface DumpedService extends IpvsService {
  destinations: DumpedDestination[];
}

/** One kernel operation; a plan is an ordered list of them. */
export type IpvsOperation =
  | { op: 'addService'; service: IpvsService }
  | { op: 'editService'; service: IpvsService }
  | { op: 'deleteService'; key: ServiceKey }
  | { op: 'addDestination'; service: ServiceKey; destination: IpvsDestination }
  | { op: 'editDestination'; service: ServiceKey; destination: IpvsDestination }
  | { op: 'deleteDestination'; service: ServiceKey; destination: Pick<IpvsDestination, 'address' | 'family' | 'port'> };
