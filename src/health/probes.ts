// One probe from a tagged spec: what the agent builds from a VirtualServer's healthCheck (or a
// VrrpInstance's track) before handing it to a Checker.
import type { Probe } from './checker.ts';
import { tcpProbe } from './tcp.ts';
import type { TcpProbeOptions } from './tcp.ts';
import { httpProbe } from './http.ts';
import type { HttpProbeOptions } from './http.ts';
import { udpProbe } from './udp.ts';
import type { UdpProbeOptions } from './udp.ts';
import { dnsProbe } from './dns.ts';
import type { DnsProbeOptions } from './dns.ts';
import { execProbe } from './exec.ts';
import type { ExecProbeOptions } from './exec.ts';

export type ProbeSpec =
  | ({ type: 'TCP' } & TcpProbeOptions)
  | ({ type: 'HTTP' | 'HTTPS' } & Omit<HttpProbeOptions, 'https'>)
  | ({ type: 'UDP' } & UdpProbeOptions)
  | ({ type: 'DNS' } & DnsProbeOptions)
  | ({ type: 'EXEC' } & ExecProbeOptions);

export type ProbeType = ProbeSpec['type'];

/** Builds the probe; throws RangeError on options that can never work (bad status list, digest, name). */
export function createProbe(spec: ProbeSpec): Probe {
  switch (spec.type) {
    case 'TCP': return tcpProbe(spec);
    case 'HTTP': return httpProbe({ ...spec, https: false });
    case 'HTTPS': return httpProbe({ ...spec, https: true });
    case 'UDP': return udpProbe(spec);
    case 'DNS': return dnsProbe(spec);
    case 'EXEC': return execProbe(spec);
  }
}
