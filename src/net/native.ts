// The only loader of the native addon (native/, built by `npm install` / `npm rebuild`), and
// the types of what it exports. Everything else goes through the wrappers in src/net.
//
// KUBELIVED_NATIVE_PATH selects another build of the addon (the AddressSanitizer build of
// native/asan-test.sh).
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DumpedDestination, DumpedService, IpvsOperation, ServiceKey } from '../ipvs/types.ts';
import type { NetError } from './errors.ts';

export interface VrrpSocketOptions {
  family: 4 | 6;
  ifname: string;
  /** Join 224.0.0.18 / ff02::12 on the interface (false for unicast peers only). */
  multicast: boolean;
}

export interface VrrpMessage {
  /** The VRRP message only (for IPv4 the IP header is stripped), unvalidated. */
  payload: Buffer;
  src: string;
  dst: string;
  /** IPv4 TTL / IPv6 hop limit as received; RFC 5798 requires 255. */
  ttl: number;
  /** The interface it arrived on. */
  ifindex: number;
}

export interface NativeVrrpSocket {
  readonly ifindex: number;
  /** Synchronous, non-blocking; throws a NetError (EAGAIN, ENETDOWN, ...) when not sent. */
  send(payload: Uint8Array, dst: string, src?: string): void;
  close(): void;
}

export interface AddressInfo {
  ifindex: number;
  family: 4 | 6;
  address: string;
  prefixLen: number;
  /** Remaining seconds; FOREVER (0xffffffff) for none. */
  validLft: number;
  preferredLft: number;
  /** IFA_F_* bits, see AddressFlags. */
  flags: number;
  /** RT_SCOPE_*: 0 global, 253 link, 254 host. */
  scope: number;
  label?: string;
  /** IFA_PROTO, who added the address, when the kernel reports one. */
  proto?: number;
}

export interface AddressFilter {
  ifindex?: number;
  family?: 4 | 6;
}

export interface AddAddressOptions {
  ifindex: number;
  address: string;
  prefixLen: number;
  /** Seconds until the kernel removes the address by itself; forever when omitted. */
  validLft?: number;
  /** Seconds until the address is deprecated; validLft when omitted. */
  preferredLft?: number;
  /** Replace (refresh) an existing address instead of failing with EEXIST. */
  replace?: boolean;
  /** IFA_PROTO tag (0-255) marking who added the address. */
  proto?: number;
}

export interface DeleteAddressOptions {
  ifindex: number;
  address: string;
  prefixLen: number;
}

export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';

export interface Link {
  ifindex: number;
  name: string;
  /** 'aa:bb:cc:dd:ee:ff', or '' for links without a link-layer address. */
  mac: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** The lower layer has carrier (IFF_LOWER_UP). */
  carrier: boolean;
  /** Operationally up (IFF_RUNNING). */
  running: boolean;
  operstate: OperState;
  mtu: number;
}

export type LinkEvent = { kind: 'link'; action: 'update' | 'del' } & Link;
export type AddressEvent = { kind: 'addr'; action: 'add' | 'del' } & AddressInfo;
/** The kernel dropped events (receive buffer full): list again to resynchronise. */
export interface OverrunEvent {
  kind: 'overrun';
}
export type RtnlEvent = LinkEvent | AddressEvent | OverrunEvent;

export interface SubscribeOptions {
  /** Receive buffer for events; 4 MiB by default. */
  receiveBufferBytes?: number;
}

export interface NativeRtnl {
  listAddresses(filter?: AddressFilter): Promise<AddressInfo[]>;
  addAddress(options: AddAddressOptions): Promise<void>;
  deleteAddress(options: DeleteAddressOptions): Promise<void>;
  listLinks(): Promise<Link[]>;
  getLink(nameOrIndex: string | number): Promise<Link>;
  subscribe(onEvent: (event: RtnlEvent) => void, onError: (err: NetError) => void, options?: SubscribeOptions): void;
  close(): void;
}

export interface GratuitousArpOptions {
  ifindex: number;
  address: string;
  /** The MAC to announce; the interface's own when omitted. */
  mac?: string;
}

export interface UnsolicitedNaOptions extends GratuitousArpOptions {
  /** Set the Router flag (the node forwards for the VIP's users). */
  router?: boolean;
}

export interface NativeAnnouncer {
  sendGratuitousArp(options: GratuitousArpOptions): void;
  sendUnsolicitedNa(options: UnsolicitedNaOptions): void;
  close(): void;
}

export interface NativeTimer {
  arm(delayMs: number): void;
  disarm(): void;
  close(): void;
}

export interface NativeSignalWatch {
  close(): void;
}

/** Counters of a virtual service or real server (ipvsadm --stats / --rate). */
export interface IpvsStats {
  /** Connections scheduled. */
  conns: number;
  inPkts: number;
  outPkts: number;
  inBytes: number;
  outBytes: number;
  /** Rates over the kernel's estimator window, per second. */
  cps: number;
  inPps: number;
  outPps: number;
  inBps: number;
  outBps: number;
}

/**
 * A real server as a dump reports it. Objects kubelived did not create may carry values outside
 * the shared types: forwarding 'Local' or 'Bypass' (old kernels, other tools).
 */
export interface IpvsDestinationDump extends DumpedDestination {
  stats: IpvsStats;
  /** TUN only: encapsulation (kernels from 5.3; 'ipip' when not set). */
  tunType?: 'ipip' | 'gue' | 'gre';
  tunPort?: number;
  /** IP_VS_TUNNEL_ENCAP_FLAG_* bits: 0x1 checksum, 0x2 remote checksum offload. */
  tunFlags?: number;
}

/**
 * A virtual service as a dump reports it. flags never include IP_VS_SVC_F_HASHED (the kernel's
 * bookkeeping). A service another tool made for AH or ESP reports protocol 'AH' / 'ESP'.
 */
export interface IpvsServiceDump extends DumpedService {
  stats: IpvsStats;
  /** The persistence engine ('sip'), when one is set (kubelived never sets one). */
  persistenceEngine?: string;
  destinations: IpvsDestinationDump[];
}

export interface IpvsInfo {
  /** "1.2.1" */
  version: string;
  /** IP_VS_VERSION_CODE, 0x010201 for 1.2.1. */
  versionCode: number;
  /** Buckets of the connection hash table (ip_vs conn_tab_bits). */
  connTableSize: number;
}

/**
 * Connection timeouts in seconds (ipvsadm --set tcp tcpfin udp). Reading: a protocol the kernel
 * was built without is absent. Setting: absent or 0 leaves a timeout unchanged.
 */
export interface IpvsTimeouts {
  tcp?: number;
  tcpFin?: number;
  udp?: number;
}

export interface NativeIpvs {
  /** One entry per operation: undefined when the kernel accepted it, else its error. */
  apply(ops: readonly IpvsOperation[]): Promise<(NetError | undefined)[]>;
  dump(): Promise<IpvsServiceDump[]>;
  info(): Promise<IpvsInfo>;
  getConfig(): Promise<IpvsTimeouts>;
  setConfig(timeouts: IpvsTimeouts): Promise<void>;
  close(): void;
}

/** What ipvsEncode takes: a plan operation, or one of the other requests the addon sends. */
export type IpvsEncodable =
  | IpvsOperation
  | { op: 'getFamily' }
  | { op: 'dumpServices' }
  | { op: 'dumpDestinations'; service: ServiceKey }
  | { op: 'getInfo' }
  | { op: 'getConfig' }
  | { op: 'setConfig'; timeouts: IpvsTimeouts };

/** One netlink message as ipvsDecode reads it. */
export interface IpvsDecoded {
  type: number;
  flags: number;
  seq: number;
  kind: 'ack' | 'error' | 'done' | 'family' | 'service' | 'destination' | 'info' | 'config' | 'other';
  /** ack / error: the positive errno (0 for an ack). */
  errno?: number;
  /** error: the extended-ack text. */
  message?: string;
  /** done: the dump's status (0 or a negative errno). */
  status?: number;
  /** family: the generic-netlink family id. */
  familyId?: number;
  /** Generic-netlink messages other than the controller's: the genlmsghdr command. */
  cmd?: number;
  service?: Omit<IpvsServiceDump, 'destinations'>;
  destination?: IpvsDestinationDump;
  info?: IpvsInfo;
  timeouts?: IpvsTimeouts;
}

export interface NativeBinding {
  VrrpSocket: new (
    options: VrrpSocketOptions,
    onMessage: (message: VrrpMessage) => void,
    onError: (err: NetError) => void,
  ) => NativeVrrpSocket;
  Rtnl: new () => NativeRtnl;
  Announcer: new () => NativeAnnouncer;
  Timer: new (onFire: () => void) => NativeTimer;
  SignalWatch: new (signum: number, onSignal: (signum: number) => void) => NativeSignalWatch;
  Ipvs: new () => NativeIpvs;
  /** One whole request (nlmsg_pid 0) as the kernel would receive it; for golden-byte tests. */
  ipvsEncode(request: IpvsEncodable, seq: number, familyId: number): Buffer;
  /** The netlink messages in bytes (one recvmsg's worth); serviceFamily names dest addresses
   * when IPVS_DEST_ATTR_ADDR_FAMILY is absent (default 4). */
  ipvsDecode(bytes: Uint8Array, serviceFamily?: 4 | 6): IpvsDecoded[];
}

export const nativePath = process.env.KUBELIVED_NATIVE_PATH
  ? resolve(process.env.KUBELIVED_NATIVE_PATH)
  : fileURLToPath(new URL('../../native/build/Release/kubelived_native.node', import.meta.url));

function load(): NativeBinding {
  try {
    return createRequire(import.meta.url)(nativePath) as NativeBinding;
  } catch (err) {
    throw new Error(`cannot load the kubelived native addon ${nativePath} (build it with npm rebuild)`, {
      cause: err,
    });
  }
}

export const native: NativeBinding = load();
