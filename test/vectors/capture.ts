// Re-capture the golden VRRP vectors from real keepalived (run as root):
//
//   npx node test/vectors/capture.ts            # writes test/vectors/keepalived-*.json
//   npx node test/vectors/capture.ts --check    # captures again, fails if any vector differs
//   npx node test/vectors/capture.ts --only v3-ipv6   # one scenario
//
// For each scenario a lab is built (test/lab), keepalived runs on n1 and n2 with the config
// shown in the vector, and tcpdump writes every VRRP frame crossing the bridge (br0 in the
// bridge namespace, promiscuous) to a pcap. The frames are decoded here, independently of
// src/vrrp, and each decoded field is checked against the config that produced it (VRID,
// priority, addresses, interval, authentication) and the checksum is verified, so a vector
// cannot silently hold something else than what its name says.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startKeepalived, renderKeepalivedConf, type KeepalivedConfig, type Keepalived } from '../lab/keepalived.ts';
import { createLab, vip4, vip6, type Lab, type LabNode } from '../lab/lab.ts';
import { decodeFrame, hex, ipv6Str, parseIpv6, readPcap } from '../lab/packet.ts';
import { run, sleep } from '../lab/run.ts';

const OUT_DIR = dirname(new URL(import.meta.url).pathname);

export interface Vector {
  name: string;
  description: string;
  family: 4 | 6;
  version: 2 | 3;
  src: string;
  dst: string;
  ttl: number;
  /** IPv4 TOS / IPv6 traffic class of the captured packet. */
  tos: number;
  ethSrc: string;
  ethDst: string;
  /** The VRRP message only, no IP header. */
  hex: string;
  /** Decoded independently of src/vrrp and checked against the config. */
  expect: {
    type: number;
    vrid: number;
    priority: number;
    count: number;
    /** Centiseconds (v3) or seconds (v2), as on the wire. */
    advertInt: number;
    addresses: string[];
    checksum: number;
    authType?: number;
    /** v2 authentication data, 8 bytes as hex. */
    authData?: string;
  };
  keepalived: string;
  /** keepalived.conf of the sender. */
  config: string;
}

interface Decoded {
  version: number;
  type: number;
  vrid: number;
  priority: number;
  count: number;
  advertInt: number;
  checksum: number;
  addresses: string[];
  authType?: number;
  authData?: string;
}

function sum16(bytes: Uint8Array, acc = 0): number {
  for (let i = 0; i < bytes.length; i += 2) acc += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  return acc;
}
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

/** True when the message's checksum verifies: v3 over the pseudo-header plus message, v2 over the message. */
function checksumOk(msg: Uint8Array, family: 4 | 6, src: string, dst: string): boolean {
  const version = (msg[0] ?? 0) >> 4;
  let acc = sum16(msg);
  if (version === 3) {
    if (family === 4) {
      const ip = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
      acc = sum16(ip(src), acc);
      acc = sum16(ip(dst), acc);
      acc += 112 + msg.length;
    } else {
      acc = sum16(parseIpv6(src), acc);
      acc = sum16(parseIpv6(dst), acc);
      acc += msg.length + 112; // 32-bit length (< 65536) and next header, zero-padded
    }
  }
  return fold(acc) === 0xffff;
}

function decodeVrrp(msg: Uint8Array, family: 4 | 6): Decoded {
  const version = (msg[0] ?? 0) >> 4;
  const count = msg[3] ?? 0;
  const alen = family === 4 ? 4 : 16;
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const a = msg.subarray(8 + i * alen, 8 + (i + 1) * alen);
    if (family === 4) addresses.push(Array.from(a).join('.'));
    else addresses.push(ipv6Str(a));
  }
  const d: Decoded = {
    version,
    type: (msg[0] ?? 0) & 0x0f,
    vrid: msg[1] ?? 0,
    priority: msg[2] ?? 0,
    count,
    advertInt: version === 3 ? (((msg[4] ?? 0) & 0x0f) << 8) | (msg[5] ?? 0) : (msg[5] ?? 0),
    checksum: ((msg[6] ?? 0) << 8) | (msg[7] ?? 0),
    addresses,
  };
  if (version === 2) {
    d.authType = msg[4] ?? 0;
    d.authData = hex(msg.subarray(8 + count * alen, 8 + count * alen + 8));
  }
  return d;
}

interface Capture {
  frames: Decoded_[];
}
type Decoded_ = ReturnType<typeof decodeFrame>;

async function capture(lab: Lab, dir: string, name: string, body: () => Promise<void>): Promise<Capture> {
  const file = join(dir, `${name}.pcap`);
  const td = lab.spawn(lab.bridgeNetns, ['tcpdump', '-i', 'br0', '-n', '-U', '--immediate-mode', '-w', file, 'ip proto 112 or ip6 proto 112']);
  await td.waitForLine(/listening on/, 5000, 0);
  try {
    await body();
  } finally {
    await sleep(100);
    await td.stop(2000);
  }
  return { frames: readPcap(readFileSync(file)).map((r) => decodeFrame(r.frame)) };
}

interface Scenario {
  name: string;
  description: string;
  family: 4 | 6;
  version: 2 | 3;
  /** keepalived config per node index (0 = n1, 1 = n2). */
  configs: (nodes: LabNode[]) => KeepalivedConfig[];
  /** Which vectors to take: [vector name suffix, sender node index, priority]. */
  take: [string, number, number][];
  /** Let the master advertise, SIGTERM it (priority 0), let the backup advertise. */
  sigterm: boolean;
  settleMs: number;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'v3-ipv4',
    description: 'VRRPv3 over IPv4, multicast, advert_int 1 s, one VIP',
    family: 4,
    version: 3,
    configs: () => [150, 100].map((p) => ({ version: 3, instances: [{ vrid: 51, priority: p, advertInt: 1, vips: [`${vip4()}/24`] }] })),
    take: [
      ['prio150', 0, 150],
      ['prio0', 0, 0],
      ['prio100', 1, 100],
    ],
    sigterm: true,
    settleMs: 1500,
  },
  {
    name: 'v3-ipv6',
    description: 'VRRPv3 over IPv6 (link-local source, ff02::12), advert_int 1 s, one VIP',
    family: 6,
    version: 3,
    configs: () => [150, 100].map((p) => ({ version: 3, instances: [{ vrid: 52, priority: p, advertInt: 1, vips: [`${vip6()}/64`] }] })),
    take: [
      ['prio150', 0, 150],
      ['prio0', 0, 0],
      ['prio100', 1, 100],
    ],
    sigterm: true,
    settleMs: 1500,
  },
  {
    name: 'v2-ipv4-pass',
    description: 'VRRPv2 over IPv4, multicast, simple password authentication "kl-pass", advert_int 1 s',
    family: 4,
    version: 2,
    configs: () => [150, 100].map((p) => ({ version: 2, instances: [{ vrid: 53, priority: p, advertInt: 1, authPass: 'kl-pass', vips: [`${vip4()}/24`] }] })),
    take: [
      ['prio150', 0, 150],
      ['prio0', 0, 0],
      ['prio100', 1, 100],
    ],
    sigterm: true,
    settleMs: 1500,
  },
  {
    name: 'v2-ipv4-noauth',
    description: 'VRRPv2 over IPv4, multicast, no authentication, advert_int 2 s, two VIPs',
    family: 4,
    version: 2,
    configs: () => [{ version: 2, instances: [{ vrid: 56, priority: 200, advertInt: 2, vips: [`${vip4()}/24`, `${vip4(1)}/24`] }] }],
    take: [['prio200-2vips', 0, 200]],
    sigterm: false,
    settleMs: 2500,
  },
  {
    name: 'v3-ipv4-unicast',
    description: 'VRRPv3 over IPv4, unicast from n1 (198.18.0.11) to its peer n2 (198.18.0.12), advert_int 1 s',
    family: 4,
    version: 3,
    configs: (n) => {
      const [a, b] = n as [LabNode, LabNode];
      return [
        { version: 3, instances: [{ vrid: 54, priority: 150, advertInt: 1, unicastSrcIp: a.ipv4, unicastPeers: [b.ipv4], vips: [`${vip4()}/24`] }] },
        { version: 3, instances: [{ vrid: 54, priority: 100, advertInt: 1, unicastSrcIp: b.ipv4, unicastPeers: [a.ipv4], vips: [`${vip4()}/24`] }] },
      ];
    },
    take: [
      ['prio150', 0, 150],
      ['prio0', 0, 0],
    ],
    sigterm: true,
    settleMs: 1500,
  },
  {
    name: 'v3-ipv4-100ms',
    description: 'VRRPv3 over IPv4, multicast, advert_int 0.1 s (10 centiseconds), three VIPs, priority 254',
    family: 4,
    version: 3,
    configs: () => [{ version: 3, instances: [{ vrid: 55, priority: 254, advertInt: 0.1, vips: [`${vip4()}/24`, `${vip4(1)}/24`, `${vip4(2)}/24`] }] }],
    take: [['prio254-3vips', 0, 254]],
    sigterm: false,
    settleMs: 500,
  },
  {
    name: 'v3-ipv6-2vips',
    description: 'VRRPv3 over IPv6, multicast, advert_int 0.5 s (50 centiseconds), two VIPs',
    family: 6,
    version: 3,
    configs: () => [{ version: 3, instances: [{ vrid: 57, priority: 120, advertInt: 0.5, vips: [`${vip6()}/64`, `${vip6(1)}/64`] }] }],
    take: [['prio120-2vips', 0, 120]],
    sigterm: false,
    settleMs: 1200,
  },
];

async function runScenario(sc: Scenario, keepalivedVersion: string, dir: string): Promise<Vector[]> {
  const lab = await createLab({ nodes: 2, name: `vec${SCENARIOS.indexOf(sc)}` });
  try {
    const nodes = lab.nodes;
    const configs = sc.configs(nodes);
    const kas: Keepalived[] = [];
    const cap = await capture(lab, dir, sc.name, async () => {
      for (const [i, cfg] of configs.entries()) kas.push(await startKeepalived(lab, nodes[i] as LabNode, cfg));
      const [k1, k2] = kas as [Keepalived, Keepalived | undefined];
      await k1.waitForState('MASTER', 10_000);
      await sleep(sc.settleMs);
      if (sc.sigterm && k2) {
        const t = Date.now();
        await k1.stop();
        await k2.waitForState('MASTER', 5000, { since: t });
        await sleep(sc.settleMs);
      }
    });
    for (const k of kas) await k.kill();
    const out: Vector[] = [];
    for (const [suffix, idx, prio] of sc.take) {
      const node = nodes[idx] as LabNode;
      const cfg = configs[idx] as KeepalivedConfig;
      const inst = cfg.instances[0];
      assert.ok(inst);
      const f = cap.frames.find((d) => d.kind === 'vrrp' && d.ethSrc === node.mac && d.payload[2] === prio);
      assert.ok(
        f && f.kind === 'vrrp',
        `${sc.name}: no advert from ${node.name} with priority ${prio} among ${cap.frames.length} frames: ${cap.frames.map((x) => (x.kind === 'vrrp' ? `${x.ethSrc} ${hex(x.payload)}` : x.kind)).join(', ')}`,
      );
      const d = decodeVrrp(f.payload, f.family);
      // Every decoded field against the config that produced it.
      assert.equal(f.family, sc.family);
      assert.equal(d.version, sc.version);
      assert.equal(d.type, 1);
      assert.equal(d.vrid, inst.vrid);
      assert.equal(d.priority, prio);
      assert.deepEqual(
        d.addresses,
        inst.vips.map((v) => v.split('/')[0]),
      );
      assert.equal(d.advertInt, sc.version === 3 ? Math.round((inst.advertInt ?? 1) * 100) : (inst.advertInt ?? 1));
      assert.ok(checksumOk(f.payload, f.family, f.src, f.dst), `${sc.name}-${suffix}: checksum does not verify`);
      if (sc.version === 2) {
        const pass = Buffer.alloc(8);
        if (inst.authPass) pass.write(inst.authPass, 'latin1');
        assert.equal(d.authType, inst.authPass ? 1 : 0);
        assert.equal(d.authData, pass.toString('hex'));
      }
      assert.equal(f.src, sc.family === 4 ? node.ipv4 : node.linkLocal);
      const peer = inst.unicastPeers?.[0];
      assert.equal(f.dst, peer ?? (sc.family === 4 ? '224.0.0.18' : 'ff02::12'));
      out.push({
        name: `keepalived-${sc.name}-${suffix}`,
        description: `${sc.description}; sent by ${node.name}${prio === 0 ? ' on SIGTERM (it was master): priority 0' : ` at priority ${prio}`}`,
        family: f.family,
        version: sc.version,
        src: f.src,
        dst: f.dst,
        ttl: f.ttl,
        tos: f.tos,
        ethSrc: f.ethSrc,
        ethDst: f.ethDst,
        hex: hex(f.payload),
        expect: {
          type: d.type,
          vrid: d.vrid,
          priority: d.priority,
          count: d.count,
          advertInt: d.advertInt,
          addresses: d.addresses,
          checksum: d.checksum,
          ...(d.authType !== undefined ? { authType: d.authType, authData: d.authData } : {}),
        },
        keepalived: keepalivedVersion,
        config: renderKeepalivedConf(cfg),
      });
    }
    return out;
  } finally {
    await lab.teardown();
  }
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const ver = (await run(['keepalived', '--version'], { allowFail: true })).stderr.split('\n')[0]?.trim() ?? 'unknown';
  const dir = mkdtempSync(join(tmpdir(), 'kl-vectors-'));
  let differ = 0;
  try {
    const only = process.argv.indexOf('--only');
    const wanted = only >= 0 ? process.argv[only + 1] : undefined;
    for (const sc of SCENARIOS.filter((x) => wanted === undefined || x.name === wanted)) {
      const vectors = await runScenario(sc, ver, dir);
      for (const v of vectors) {
        const path = join(OUT_DIR, `${v.name}.json`);
        const text = `${JSON.stringify(v, null, 2)}\n`;
        if (check) {
          let old: Vector | undefined;
          try {
            old = JSON.parse(readFileSync(path, 'utf8')) as Vector;
          } catch {
            old = undefined;
          }
          const same = old?.hex === v.hex && old.src === v.src && old.dst === v.dst && old.ttl === v.ttl;
          if (!same) differ++;
          console.log(`${same ? 'same   ' : 'DIFFERS'} ${v.name} ${v.hex}`);
        } else {
          writeFileSync(path, text);
          console.log(`wrote ${v.name}.json ${v.hex}`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (differ) {
    console.error(`${differ} vector(s) differ from the committed ones`);
    process.exitCode = 1;
  }
}

await main();
