// VirtualServer: one IPVS virtual service on a VIP of a VrrpInstance (keepalived's
// `virtual_server` block as a namespaced resource). This file holds the typed shape of the
// resource and its validation; src/ipvs turns validated VirtualServers into kernel objects.
//
// Checks that need the referenced VrrpInstance (the VIP must be one of its addresses, the
// address family of a firewall-mark service without a virtualIP) run here when the caller
// passes the instance; the file source passes it from the same file (src/api/documents.ts).
import { parseAddress } from './address.ts';
import type { Family } from './address.ts';
import { parseAddress as parseCanonical } from '../vrrp/address.ts';
import {
  bool, describe, duration, int, isObj, list, obj, rejectUnknown, str,
} from './fields.ts';
import type { Obj } from './fields.ts';
import type { IssueList } from './issues.ts';
import type { Forwarding, IpvsProtocol, ServiceKey } from '../ipvs/types.ts';
import type { VrrpInstance } from './vrrp-instance.ts';

export type { Forwarding, IpvsProtocol };

/** Every scheduler the kernel ships (net/netfilter/ipvs/ip_vs_*.c). */
export const SCHEDULERS = [
  'rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos',
] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

/** ipvsadm's --sched-flags names; each is meaningful only for its scheduler (sh or mh). */
export const SCHEDULER_FLAGS = ['sh-fallback', 'sh-port', 'mh-fallback', 'mh-port'] as const;
export type SchedulerFlag = (typeof SCHEDULER_FLAGS)[number];

export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export const FORWARDINGS = ['NAT', 'DR', 'TUN'] as const;
export const HEALTH_CHECK_TYPES = ['TCP', 'HTTP', 'HTTPS', 'UDP', 'DNS', 'EXEC'] as const;
export type HealthCheckType = (typeof HEALTH_CHECK_TYPES)[number];
export const DNS_QUERY_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT'] as const;
export type DnsQueryType = (typeof DNS_QUERY_TYPES)[number];

/** Listed real servers per service: a bound the API server's CEL cost estimate needs (a Service
 * behind backendRef may have more). */
const MAX_REAL_SERVERS = 1000;

/** The largest value the kernel's signed/unsigned 32-bit counters take safely from us. */
const INT32_MAX = 2_147_483_647;
const UINT32_MAX = 4_294_967_295;

export interface RealServer {
  address: string;
  family: Family;
  /** 0 only for a firewall-mark service: keep the packet's destination port. */
  port: number;
  /** 0 = quiescent (no new connections). */
  weight: number;
  /** Connection limits; 0 = no limit. lowerThreshold <= upperThreshold (the kernel refuses otherwise). */
  upperThreshold: number;
  lowerThreshold: number;
}

export interface SorryServer {
  address: string;
  family: Family;
  port: number;
}

/** An inclusive range of HTTP status codes; a single code has from === to. */
export interface StatusRange {
  from: number;
  to: number;
}

export interface HttpCheckSpec {
  /** Request path, starting with "/". */
  path: string;
  expectedStatus: StatusRange[];
  /** Lower-case hex SHA-256 of the response body, when the body must match exactly. */
  bodyDigest: string | undefined;
  /** Host header (virtual host); default the real server's address. */
  host: string | undefined;
  /** HTTPS only. */
  tls: { sni: string | undefined; insecureSkipVerify: boolean } | undefined;
}

export interface UdpCheckSpec {
  /** The datagram to send (may be empty). */
  send: Buffer;
  /** When set, a reply must start with these bytes; otherwise any reply counts as healthy. */
  expect: Buffer | undefined;
}

export interface DnsCheckSpec {
  name: string;
  type: DnsQueryType;
}

export interface HealthCheckSpec {
  type: HealthCheckType;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes before a down real server counts as up. */
  rise: number;
  /** Consecutive failures before an up real server counts as down. */
  fall: number;
  /** Port to probe instead of the real server's (required when the real server port is 0). */
  port: number | undefined;
  http: HttpCheckSpec | undefined;
  udp: UdpCheckSpec | undefined;
  dns: DnsCheckSpec | undefined;
  exec: { command: string[] } | undefined;
}

export interface BackendRef {
  /** A Service in the VirtualServer's namespace. */
  name: string;
  /** The Service port (number or name); default its only port. */
  port: number | string | undefined;
}

export interface VirtualServerSpec {
  vrrpInstanceRef: string;
  /** What the kernel names the service by: protocol, address and port, or a firewall mark. */
  key: ServiceKey;
  /** The VIP (also given, optionally, with a firewall mark). */
  virtualIP: string | undefined;
  scheduler: Scheduler;
  schedulerFlags: SchedulerFlag[];
  forwarding: Forwarding;
  persistence: { timeoutS: number; netmask: number } | undefined;
  realServers: RealServer[];
  backendRef: BackendRef | undefined;
  healthCheck: HealthCheckSpec | undefined;
  /** Unhealthy real servers keep their place with weight 0 instead of being removed. */
  inhibitOnFailure: boolean;
  sorryServer: SorryServer | undefined;
  /** Quorum is lost when the summed weight of healthy real servers drops below `min`, and
   * regained when it reaches `min + hysteresis`. Default {1, 0}: lost when none is healthy. */
  quorum: { min: number; hysteresis: number };
  /** How long a real server removed from the spec keeps weight 0 before it is deleted. */
  drainTimeoutMs: number;
}

export interface VirtualServer {
  namespace: string;
  name: string;
  spec: VirtualServerSpec;
}

/** The spec fields the CRD schema declares (test/unit/api/crds.test.ts holds them equal). */
export const SPEC_FIELDS = [
  'vrrpInstanceRef', 'virtualIP', 'port', 'protocol', 'fwmark', 'scheduler', 'schedulerFlags',
  'forwarding', 'persistence', 'realServers', 'backendRef', 'healthCheck', 'inhibitOnFailure',
  'sorryServer', 'quorum', 'drainTimeout',
] as const;

/**
 * Validates `spec` of a VirtualServer document; returns undefined when any issue was found.
 * `instance` is the VrrpInstance named by spec.vrrpInstanceRef when the caller has it; the
 * checks against it are skipped otherwise (the caller reports a missing reference). Pass it
 * whenever it exists: a firewall-mark service without a virtualIP has the instance's address
 * family, and without the instance the family is only guessed from the first real server.
 */
export function parseVirtualServerSpec(
  namespace: string, name: string, spec: Obj, issues: IssueList, instance?: VrrpInstance,
): VirtualServer | undefined {
  const before = issues.issues.length;
  const p = 'spec';
  rejectUnknown(spec, SPEC_FIELDS, p, issues);

  const vrrpInstanceRef = str(spec, 'vrrpInstanceRef', p, issues, true);
  const fwmark = spec.fwmark === undefined ? undefined : int(spec, 'fwmark', p, issues, { min: 1, max: UINT32_MAX });
  const hasMark = spec.fwmark !== undefined;

  // The VIP: required unless a firewall mark names the service.
  let vip: { address: string; family: Family } | undefined;
  if (spec.virtualIP === undefined) {
    if (!hasMark) issues.add(`${p}.virtualIP`, 'required (or fwmark)');
  } else {
    vip = typeof spec.virtualIP === 'string' ? parseAddress(spec.virtualIP) : undefined;
    if (!vip) {
      const hint = typeof spec.virtualIP === 'string' && spec.virtualIP.includes('/') ? ' without a prefix length' : '';
      issues.add(`${p}.virtualIP`, `must be an IP address${hint}, got ${describe(spec.virtualIP)}`);
    }
  }
  if (vip && instance) {
    if (!instance.spec.virtualIPs.some((c) => c.address === vip.address)) {
      issues.add(`${p}.virtualIP`, `${vip.address} is not one of the virtualIPs of VrrpInstance/${instance.name} (${instance.spec.virtualIPs.map((c) => c.address).join(', ')})`);
    }
  }
  // A firewall-mark service without a VIP takes the family of the instance it belongs to; with
  // neither (the caller has no instance) the family checks wait for the caller's binding.
  const knownFamily: Family | undefined = vip?.family ?? instance?.spec.family;

  let port = 0;
  if (hasMark) {
    if (spec.port !== undefined) issues.add(`${p}.port`, 'not allowed with fwmark: a firewall-mark service matches every port the mark selects');
    if (spec.protocol !== undefined) issues.add(`${p}.protocol`, 'not allowed with fwmark: a firewall-mark service matches every protocol the mark selects');
  } else {
    port = int(spec, 'port', p, issues, { min: 1, max: 65535 }) ?? 0;
  }
  const protocol = oneOf(spec, 'protocol', p, issues, PROTOCOLS, 'TCP');

  const scheduler = oneOf(spec, 'scheduler', p, issues, SCHEDULERS, 'wlc');
  const schedulerFlags = readSchedulerFlags(spec, p, issues, scheduler);
  const forwarding = oneOf(spec, 'forwarding', p, issues, FORWARDINGS, 'NAT');
  const persistence = readPersistence(spec, p, issues, knownFamily);

  const shape: ServiceShape = { family: knownFamily, port, forwarding, hasMark };
  const realServers = readRealServers(spec, p, issues, shape);
  const backendRef = readBackendRef(spec, p, issues);
  const sorryServer = readSorryServer(spec, p, issues, shape);
  const noServers = spec.realServers === undefined || (Array.isArray(spec.realServers) && spec.realServers.length === 0);
  if (noServers && spec.backendRef === undefined && spec.sorryServer === undefined) {
    issues.add(`${p}.realServers`, 'must list at least one real server (or set backendRef or sorryServer)');
  }
  if (sorryServer && realServers.some((r) => r.address === sorryServer.address && r.port === sorryServer.port)) {
    issues.add(`${p}.sorryServer`, `${formatHostPort(sorryServer.address, sorryServer.port)} is also a real server`);
  }

  const healthCheck = readHealthCheck(spec, p, issues, realServers);
  const inhibitOnFailure = bool(spec, 'inhibitOnFailure', p, issues, false);
  const quorum = readQuorum(spec, p, issues);
  if (quorum && spec.quorum !== undefined && spec.backendRef === undefined && realServers.length > 0) {
    // Only the listed real servers can make up quorum: one that can never be reached is a typo.
    const total = realServers.reduce((sum, r) => sum + r.weight, 0);
    if (total < quorum.min + quorum.hysteresis) {
      issues.add(`${p}.quorum.min`, `quorum can never be reached: min + hysteresis is ${quorum.min + quorum.hysteresis} but the real servers' weights add up to ${total}`);
    }
  }
  const drainTimeoutMs = duration(spec, 'drainTimeout', p, issues, { minMs: 0, maxMs: 3_600_000, defMs: 30_000 });

  if (issues.issues.length !== before || vrrpInstanceRef === undefined || scheduler === undefined
    || protocol === undefined || forwarding === undefined || drainTimeoutMs === undefined || quorum === undefined
    || (hasMark && fwmark === undefined)) return undefined;

  const family = knownFamily ?? realServers[0]?.family ?? sorryServer?.family ?? 4;
  const key: ServiceKey = fwmark !== undefined
    ? { family, fwmark }
    : { family, protocol, address: vip?.address ?? '', port };
  return {
    namespace,
    name,
    spec: {
      vrrpInstanceRef, key, virtualIP: vip?.address, scheduler, schedulerFlags, forwarding, persistence,
      realServers, backendRef, healthCheck, inhibitOnFailure, sorryServer, quorum, drainTimeoutMs,
    },
  };
}

export function formatHostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function oneOf<T extends string>(
  o: Obj, key: string, path: string, issues: IssueList, values: readonly T[], def: T,
): T | undefined {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    issues.add(`${path}.${key}`, `must be one of ${values.join(', ')}, got ${describe(v)}`);
    return undefined;
  }
  return v as T;
}

function readSchedulerFlags(spec: Obj, p: string, issues: IssueList, scheduler: Scheduler | undefined): SchedulerFlag[] {
  const out: SchedulerFlag[] = [];
  list(spec, 'schedulerFlags', p, issues).forEach((f, i) => {
    const path = `${p}.schedulerFlags[${i}]`;
    if (typeof f !== 'string' || !(SCHEDULER_FLAGS as readonly string[]).includes(f)) {
      issues.add(path, `must be one of ${SCHEDULER_FLAGS.join(', ')}, got ${describe(f)}`);
      return;
    }
    const flag = f as SchedulerFlag;
    const owner = flag.slice(0, 2);
    if (scheduler !== undefined && scheduler !== owner) {
      issues.add(path, `${flag} applies only to the ${owner} scheduler, not ${scheduler}`);
      return;
    }
    if (out.includes(flag)) {
      issues.add(path, `duplicate flag ${flag}`);
      return;
    }
    out.push(flag);
  });
  return out;
}

function readPersistence(spec: Obj, p: string, issues: IssueList, family: Family | undefined): VirtualServerSpec['persistence'] {
  const o = obj(spec, 'persistence', p, issues);
  if (!o) return undefined;
  const path = `${p}.persistence`;
  rejectUnknown(o, ['timeout', 'netmask'], path, issues);
  const ms = duration(o, 'timeout', path, issues, { minMs: 1000, maxMs: INT32_MAX_SECONDS * 1000, defMs: 300_000 });
  if (ms !== undefined && ms % 1000 !== 0) issues.add(`${path}.timeout`, 'must be whole seconds (the kernel counts persistence in seconds)');
  const max = family === 4 ? 32 : 128;
  const netmask = int(o, 'netmask', path, issues, { min: 1, max, def: max });
  if (ms === undefined || ms % 1000 !== 0 || netmask === undefined) return undefined;
  return { timeoutS: ms / 1000, netmask };
}

/** The kernel keeps the persistence timeout in jiffies in an unsigned int; stay well inside it. */
const INT32_MAX_SECONDS = 2_147_483;

interface ServiceShape {
  family: Family | undefined;
  port: number;
  forwarding: Forwarding | undefined;
  hasMark: boolean;
}

/** Address and port of a real or sorry server, with the family and forwarding rules. */
function readServer(o: Obj, path: string, issues: IssueList, svc: ServiceShape): { address: string; family: Family; port: number } | undefined {
  const raw = o.address;
  let addr: { address: string; family: Family } | undefined;
  if (raw === undefined) {
    issues.add(`${path}.address`, 'required');
  } else {
    addr = typeof raw === 'string' ? parseAddress(raw) : undefined;
    if (!addr) {
      issues.add(`${path}.address`, `must be an IP address, got ${describe(raw)}`);
    } else {
      const problem = unicastProblem(addr.address);
      if (problem) {
        issues.add(`${path}.address`, problem);
        addr = undefined;
      }
    }
  }
  if (addr && svc.family !== undefined && addr.family !== svc.family && svc.forwarding !== 'TUN' && svc.forwarding !== undefined) {
    issues.add(`${path}.address`, `is IPv${addr.family} but the virtual service is IPv${svc.family}: ${svc.forwarding} needs one address family (only TUN can mix them)`);
    addr = undefined;
  }
  let port = svc.port;
  if (o.port !== undefined) {
    const v = int(o, 'port', path, issues, { min: svc.hasMark ? 0 : 1, max: 65535 });
    if (v === undefined) return undefined;
    if (svc.forwarding !== undefined && svc.forwarding !== 'NAT' && v !== svc.port) {
      issues.add(`${path}.port`, svc.hasMark
        ? `${svc.forwarding} cannot change the destination port: leave port out`
        : `${svc.forwarding} cannot change the destination port: must be the service port ${svc.port} or left out`);
      return undefined;
    }
    port = v;
  }
  return addr && { ...addr, port };
}

function unicastProblem(address: string): string | undefined {
  const p = parseCanonical(address);
  if (!p) return 'must be an IP address';
  const b = p.bytes;
  if (b.every((x) => x === 0)) return `${address} is the unspecified address`;
  if (p.family === 4 && (b[0] ?? 0) >= 224) return `${address} is not a unicast address`;
  if (p.family === 6 && b[0] === 0xff) return `${address} is a multicast address`;
  if (p.family === 6 && b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0x80) return `${address} is link-local: IPVS destinations carry no interface scope`;
  return undefined;
}

function readRealServers(spec: Obj, p: string, issues: IssueList, svc: ServiceShape): RealServer[] {
  const out: RealServer[] = [];
  list(spec, 'realServers', p, issues, MAX_REAL_SERVERS).forEach((r, i) => {
    const path = `${p}.realServers[${i}]`;
    if (!isObj(r)) return issues.add(path, `must be an object, got ${describe(r)}`);
    rejectUnknown(r, ['address', 'port', 'weight', 'upperThreshold', 'lowerThreshold'], path, issues);
    const server = readServer(r, path, issues, svc);
    const weight = int(r, 'weight', path, issues, { min: 0, max: 65535, def: 1 });
    const upperThreshold = int(r, 'upperThreshold', path, issues, { min: 0, max: INT32_MAX, def: 0 });
    const lowerThreshold = int(r, 'lowerThreshold', path, issues, { min: 0, max: INT32_MAX, def: 0 });
    if (upperThreshold !== undefined && lowerThreshold !== undefined && lowerThreshold > upperThreshold) {
      issues.add(`${path}.lowerThreshold`, upperThreshold === 0
        ? 'needs an upperThreshold (the kernel refuses a lower threshold above the upper one, and 0 means no upper limit)'
        : `must not exceed upperThreshold ${upperThreshold}`);
      return;
    }
    if (!server || weight === undefined || upperThreshold === undefined || lowerThreshold === undefined) return;
    const dup = out.find((o) => o.address === server.address && o.port === server.port);
    if (dup) return issues.add(path, `duplicate real server ${formatHostPort(server.address, server.port)}`);
    out.push({ ...server, weight, upperThreshold, lowerThreshold });
  });
  return out;
}

function readSorryServer(spec: Obj, p: string, issues: IssueList, svc: ServiceShape): SorryServer | undefined {
  const o = obj(spec, 'sorryServer', p, issues);
  if (!o) return undefined;
  const path = `${p}.sorryServer`;
  rejectUnknown(o, ['address', 'port'], path, issues);
  return readServer(o, path, issues, svc);
}

function readBackendRef(spec: Obj, p: string, issues: IssueList): BackendRef | undefined {
  const o = obj(spec, 'backendRef', p, issues);
  if (!o) return undefined;
  const path = `${p}.backendRef`;
  rejectUnknown(o, ['name', 'port'], path, issues);
  const name = str(o, 'name', path, issues, true);
  let port: number | string | undefined;
  if (typeof o.port === 'string') port = str(o, 'port', path, issues, false);
  else if (o.port !== undefined) port = int(o, 'port', path, issues, { min: 1, max: 65535 });
  return name === undefined ? undefined : { name, port };
}

function readQuorum(spec: Obj, p: string, issues: IssueList): VirtualServerSpec['quorum'] | undefined {
  const o = obj(spec, 'quorum', p, issues) ?? {};
  const path = `${p}.quorum`;
  rejectUnknown(o, ['min', 'hysteresis'], path, issues);
  const min = int(o, 'min', path, issues, { min: 0, max: INT32_MAX, def: 1 });
  const hysteresis = int(o, 'hysteresis', path, issues, { min: 0, max: INT32_MAX, def: 0 });
  return min === undefined || hysteresis === undefined ? undefined : { min, hysteresis };
}

const TYPE_BLOCKS: Record<string, readonly HealthCheckType[]> = {
  http: ['HTTP', 'HTTPS'], udp: ['UDP'], dns: ['DNS'], exec: ['EXEC'],
};

function readHealthCheck(spec: Obj, p: string, issues: IssueList, realServers: RealServer[]): HealthCheckSpec | undefined {
  const o = obj(spec, 'healthCheck', p, issues);
  if (!o) return undefined;
  const path = `${p}.healthCheck`;
  rejectUnknown(o, ['type', 'interval', 'timeout', 'rise', 'fall', 'port', 'http', 'udp', 'dns', 'exec'], path, issues);
  let type: HealthCheckType | undefined;
  if (o.type === undefined) issues.add(`${path}.type`, `required (one of ${HEALTH_CHECK_TYPES.join(', ')})`);
  else type = oneOf(o, 'type', path, issues, HEALTH_CHECK_TYPES, 'TCP');

  const intervalMs = duration(o, 'interval', path, issues, { minMs: 100, maxMs: 3_600_000, defMs: 5000 });
  const timeoutMs = o.timeout === undefined
    ? Math.min(3000, intervalMs ?? 3000)
    : duration(o, 'timeout', path, issues, { minMs: 10, maxMs: 3_600_000, defMs: 3000 });
  if (intervalMs !== undefined && timeoutMs !== undefined && timeoutMs > intervalMs) {
    issues.add(`${path}.timeout`, `must not exceed interval (${intervalMs}ms): one check runs at a time`);
  }
  const rise = int(o, 'rise', path, issues, { min: 1, max: 100, def: 1 });
  const fall = int(o, 'fall', path, issues, { min: 1, max: 100, def: 3 });
  const port = o.port === undefined ? undefined : int(o, 'port', path, issues, { min: 1, max: 65535 });

  for (const [block, types] of Object.entries(TYPE_BLOCKS)) {
    if (o[block] !== undefined && type !== undefined && !types.includes(type)) {
      issues.add(`${path}.${block}`, `only for type ${types.join(' or ')}, not ${type}`);
    }
  }
  if (type !== undefined && type !== 'EXEC' && port === undefined && o.port === undefined) {
    const portless = realServers.find((r) => r.port === 0);
    if (portless) issues.add(`${path}.port`, `required: real server ${portless.address} has no port of its own (fwmark service)`);
  }

  const http = type === 'HTTP' || type === 'HTTPS' ? readHttp(o, path, issues, type) : undefined;
  const udp = type === 'UDP' ? readUdp(o, path, issues) : undefined;
  const dns = type === 'DNS' ? readDns(o, path, issues) : undefined;
  const exec = type === 'EXEC' ? readExec(o, path, issues) : undefined;

  if (type === undefined || intervalMs === undefined || timeoutMs === undefined || rise === undefined || fall === undefined) return undefined;
  return { type, intervalMs, timeoutMs, rise, fall, port, http, udp, dns, exec };
}

function readHttp(o: Obj, path: string, issues: IssueList, type: 'HTTP' | 'HTTPS'): HttpCheckSpec | undefined {
  const h = obj(o, 'http', path, issues) ?? {};
  const hp = `${path}.http`;
  rejectUnknown(h, ['path', 'expectedStatus', 'bodyDigest', 'host', 'tls'], hp, issues);
  const reqPath = str(h, 'path', hp, issues, false) ?? '/';
  if (!reqPath.startsWith('/') || /[\s]/.test(reqPath)) issues.add(`${hp}.path`, `must start with / and contain no spaces, got ${describe(h.path)}`);
  const expectedStatus = h.expectedStatus === undefined ? [{ from: 200, to: 299 }] : readStatus(h, hp, issues);
  const bodyDigest = str(h, 'bodyDigest', hp, issues, false);
  if (bodyDigest !== undefined && !/^[0-9a-fA-F]{64}$/.test(bodyDigest)) {
    issues.add(`${hp}.bodyDigest`, 'must be a SHA-256 digest: 64 hex digits');
  }
  const host = str(h, 'host', hp, issues, false);
  if (host !== undefined && /[\s/]/.test(host)) issues.add(`${hp}.host`, `must be a host name (with an optional :port), got ${describe(host)}`);
  let tls: HttpCheckSpec['tls'];
  const t = obj(h, 'tls', hp, issues);
  if (t) {
    const tp = `${hp}.tls`;
    if (type !== 'HTTPS') issues.add(tp, 'only for type HTTPS');
    rejectUnknown(t, ['sni', 'insecureSkipVerify'], tp, issues);
    tls = { sni: str(t, 'sni', tp, issues, false), insecureSkipVerify: bool(t, 'insecureSkipVerify', tp, issues, false) };
  } else if (type === 'HTTPS') {
    tls = { sni: undefined, insecureSkipVerify: false };
  }
  return { path: reqPath, expectedStatus, bodyDigest: bodyDigest?.toLowerCase(), host, tls };
}

/** expectedStatus: codes (200) and ranges ("200-299"), as numbers or strings. */
function readStatus(h: Obj, hp: string, issues: IssueList): StatusRange[] {
  const items = list(h, 'expectedStatus', hp, issues);
  if (Array.isArray(h.expectedStatus) && items.length === 0) issues.add(`${hp}.expectedStatus`, 'must list at least one status code or range');
  return items.flatMap((v, i) => {
    const path = `${hp}.expectedStatus[${i}]`;
    const m = typeof v === 'number' ? [String(v), String(v), String(v)] : typeof v === 'string' ? /^(\d{3})(?:-(\d{3}))?$/.exec(v) : null;
    const from = m ? Number(m[1]) : NaN;
    const to = m ? Number(m[2] ?? m[1]) : NaN;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 100 || to > 599 || from > to) {
      issues.add(path, `must be a status code (100-599) or a range like "200-299", got ${describe(v)}`);
      return [];
    }
    return [{ from, to }];
  });
}

function readUdp(o: Obj, path: string, issues: IssueList): UdpCheckSpec | undefined {
  const u = obj(o, 'udp', path, issues) ?? {};
  const up = `${path}.udp`;
  rejectUnknown(u, ['send', 'expect', 'encoding'], up, issues);
  const encoding = oneOf(u, 'encoding', up, issues, ['text', 'hex'] as const, 'text');
  const bytes = (key: string): Buffer | undefined => {
    const v = u[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return issues.add(`${up}.${key}`, `must be a string, got ${describe(v)}`), undefined;
    if (encoding === 'hex') {
      if (!/^([0-9a-fA-F]{2})*$/.test(v)) return issues.add(`${up}.${key}`, 'must be hex bytes (an even number of hex digits)'), undefined;
      return Buffer.from(v, 'hex');
    }
    return Buffer.from(v, 'utf8');
  };
  const send = bytes('send') ?? Buffer.alloc(0);
  const expect = bytes('expect');
  if (u.expect !== undefined && expect?.length === 0) issues.add(`${up}.expect`, 'must not be empty (leave it out to accept any reply)');
  return { send, expect };
}

function readDns(o: Obj, path: string, issues: IssueList): DnsCheckSpec | undefined {
  const d = obj(o, 'dns', path, issues);
  const dp = `${path}.dns`;
  if (!d) return issues.add(dp, 'required for type DNS (at least the name to query)'), undefined;
  rejectUnknown(d, ['name', 'type'], dp, issues);
  const name = str(d, 'name', dp, issues, true);
  if (name !== undefined && (name.length > 253 || !/^([A-Za-z0-9_*]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_*]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$|^\.$/.test(name))) {
    issues.add(`${dp}.name`, `must be a DNS name, got ${describe(name)}`);
  }
  const type = oneOf(d, 'type', dp, issues, DNS_QUERY_TYPES, 'A');
  return name === undefined || type === undefined ? undefined : { name, type };
}

function readExec(o: Obj, path: string, issues: IssueList): { command: string[] } | undefined {
  const e = obj(o, 'exec', path, issues);
  const ep = `${path}.exec`;
  if (!e) return issues.add(ep, 'required for type EXEC (the command to run)'), undefined;
  rejectUnknown(e, ['command'], ep, issues);
  const command = list(e, 'command', ep, issues);
  if (command.length === 0 || !command.every((c) => typeof c === 'string' && c !== '')) {
    issues.add(`${ep}.command`, 'must be a non-empty list of strings (program and arguments)');
    return undefined;
  }
  return { command: command as string[] };
}
