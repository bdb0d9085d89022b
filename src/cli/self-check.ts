// `kubelived self-check`: whether this process, where it runs (typically `kubectl exec` into an
// agent pod), has what the agent needs from the kernel. One line per check; the exit code is 1
// when anything the agent needs is missing. IPVS counts only with --require-ipvs: VRRP-only use
// (VIPs without VirtualServers) does not need it.
import { readFileSync } from 'node:fs';

export interface SelfCheckArgs {
  /** The interface the raw VRRP socket is opened on. */
  interface: string;
  requireIpvs: boolean;
}

type Status = 'ok' | 'fail' | 'warn';

interface Outcome {
  status: Status;
  detail: string;
}

// Bit numbers in the capability sets, from linux/capability.h.
const NEEDED_CAPABILITIES = [
  { name: 'CAP_NET_ADMIN', bit: 12n },
  { name: 'CAP_NET_RAW', bit: 13n },
];

export async function runSelfCheck(args: SelfCheckArgs): Promise<number> {
  let failed = false;
  const report = (check: string, { status, detail }: Outcome): void => {
    if (status === 'fail') failed = true;
    console.log(`${status.padEnd(4)} ${check}: ${detail}`);
  };

  report('capabilities', checkCapabilities(readFileSync('/proc/self/status', 'utf8')));

  // The net modules load the addon when imported: imported here, not at the top, so that an
  // addon that cannot load is one failed check rather than a crash before any line is printed.
  let nativePath: string;
  try {
    ({ nativePath } = await import('../net/native.ts'));
  } catch (err) {
    report('native addon', { status: 'fail', detail: describe(err) });
    return 1;
  }
  report('native addon', { status: 'ok', detail: `loaded ${nativePath}` });

  const { VrrpSocket } = await import('../net/vrrp-socket.ts');
  report(`raw VRRP socket on ${args.interface}`, await attempt(() => {
    // IPv4 without multicast: the socket and its options only, no packet sent.
    VrrpSocket.open({ family: 4, ifname: args.interface, multicast: false }, ignore, ignore).close();
    return 'opened (IPPROTO_VRRP, IPv4)';
  }));

  const { Rtnl } = await import('../net/rtnl.ts');
  report('rtnetlink', await attempt(async () => {
    const rtnl = new Rtnl();
    try {
      const links = await rtnl.listLinks();
      return `${links.length} links: ${links.map((l) => l.name).join(', ')}`;
    } finally {
      rtnl.close();
    }
  }));

  const { Ipvs } = await import('../net/ipvs.ts');
  const ipvs = await attempt(async () => {
    const handle = new Ipvs();
    try {
      const info = await handle.info();
      return `IPVS ${info.version}, connection table of ${info.connTableSize} buckets`;
    } finally {
      handle.close();
    }
  });
  if (ipvs.status === 'fail' && !args.requireIpvs) {
    ipvs.status = 'warn';
    ipvs.detail += ' (VirtualServers need it, VRRP alone does not; --require-ipvs makes this a failure)';
  }
  report('IPVS', ipvs);
  return failed ? 1 : 0;
}

/** Which of the needed capabilities the CapEff line of /proc/PID/status holds. */
export function checkCapabilities(procStatus: string): Outcome {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(procStatus)?.[1];
  if (hex === undefined) return { status: 'fail', detail: 'no CapEff line in /proc/self/status' };
  const effective = BigInt(`0x${hex}`);
  const missing = NEEDED_CAPABILITIES.filter((c) => ((effective >> c.bit) & 1n) === 0n).map((c) => c.name);
  if (missing.length === 0) return { status: 'ok', detail: 'CAP_NET_ADMIN and CAP_NET_RAW effective' };
  return {
    status: 'fail',
    detail: `${missing.join(' and ')} not effective (the agent container needs capabilities NET_ADMIN and NET_RAW, as root)`,
  };
}

async function attempt(check: () => string | Promise<string>): Promise<Outcome> {
  try {
    return { status: 'ok', detail: await check() };
  } catch (err) {
    return { status: 'fail', detail: describe(err) };
  }
}

function ignore(): void {}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // One line per check: Node's "Cannot find module" adds its require stack on further lines.
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message.split('\n')[0] ?? ''}` : err.message;
}
