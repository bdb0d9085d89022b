// The health-check API for the agent's wiring: build a probe from a spec, run it under a
// Checker, read results (ok, durationMs, detail, timedOut) and up/down changes from the listener.
export { Checker } from './checker.ts';
export type { CheckListener, CheckResult, CheckStats, CheckTiming, Probe, ProbeContext, ProbeOutcome } from './checker.ts';
export { createProbe } from './probes.ts';
export type { ProbeSpec, ProbeType } from './probes.ts';
export { tcpProbe } from './tcp.ts';
export type { TcpProbeOptions } from './tcp.ts';
export { httpProbe, parseStatusRanges, formatStatusRanges, DEFAULT_STATUS, DEFAULT_MAX_BODY_BYTES } from './http.ts';
export type { HttpProbeOptions, HttpTlsOptions, StatusRange, StatusSpec } from './http.ts';
export { udpProbe } from './udp.ts';
export type { UdpProbeOptions } from './udp.ts';
export { dnsProbe } from './dns.ts';
export type { DnsProbeOptions } from './dns.ts';
export { DNS_TYPES } from './dns-message.ts';
export type { DnsTypeName } from './dns-message.ts';
export { execProbe } from './exec.ts';
export type { ExecProbeOptions } from './exec.ts';
export { ExecChecker } from './exec-check.ts';
export { Hysteresis } from './hysteresis.ts';
