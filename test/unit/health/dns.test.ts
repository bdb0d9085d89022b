// DNS: the hand-written codec against hand-written bytes, and the probe against a tiny dgram
// DNS server in the test that builds its replies byte by byte, independently of the codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { dnsProbe } from '../../../src/health/dns.ts';
import { decodeMessage, decodeName, encodeName, encodeQuery, formatIPv6, formatRecord } from '../../../src/health/dns-message.ts';
import { Checker } from '../../../src/health/checker.ts';
import type { CheckResult } from '../../../src/health/checker.ts';
import { bindUdp, freeUdpPort, probeOnce, until } from './helpers.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('encodes a query: header, labels, type, class IN', () => {
  assert.deepEqual(encodeQuery({ id: 0xbeef, name: 'app.test', type: 1 }),
    hex('beef 0100 0001 0000 0000 0000  03 617070 04 74657374 00  0001 0001'));
  assert.deepEqual(encodeQuery({ id: 1, name: '.', type: 6, recursionDesired: false }), hex('0001 0000 0001 0000 0000 0000 00 0006 0001'));
  assert.deepEqual(encodeName('app.test.'), encodeName('app.test'));
  assert.deepEqual(encodeName(''), hex('00'));
  assert.throws(() => encodeName('a..b'), /labels are 1-63 bytes/);
  assert.throws(() => encodeName(`${'x'.repeat(64)}.test`), /labels are 1-63 bytes/);
  assert.throws(() => encodeName(Array.from({ length: 5 }, () => 'x'.repeat(60)).join('.')), /longer than 255/);
});

test('decodes a reply with compressed names and formats its records', () => {
  const msg = hex(`
    1234 8183 0001 0003 0000 0000
    03 777777 04 74657374 00 0001 0001
    c00c 0005 0001 0000003c 0006 03 617070 c010
    c026 0001 0001 00000e10 0004 c0000201
    c026 001c 0001 00000e10 0010 20010db8000000000000000000000001`);
  const d = decodeMessage(msg);
  assert.ok(d.ok);
  const m = d.message;
  assert.deepEqual([m.id, m.qr, m.opcode, m.aa, m.tc, m.rd, m.ra, m.rcode], [0x1234, true, 0, false, false, true, true, 3]);
  assert.deepEqual(m.questions, [{ name: 'www.test', type: 1, class: 1 }]);
  assert.deepEqual(m.answers.map((r) => [r.name, r.type, r.ttl]), [['www.test', 5, 60], ['app.test', 1, 3600], ['app.test', 28, 3600]]);
  assert.deepEqual(m.answers.map((r) => formatRecord(r, msg)), ['CNAME app.test', 'A 192.0.2.1', 'AAAA 2001:db8::1']);
});

test('the decoder refuses bad bytes without throwing', () => {
  const cases: [string, RegExp][] = [
    ['1234 8180 0001', /shorter than a header/],
    ['1234 8180 0001 0000 0000 0000 03 6162', /runs past the end/],
    ['1234 8180 0001 0000 0000 0000 c00c 0001 0001', /does not point backwards/],
    ['1234 8180 0001 0000 0000 0000 01 61 c00c 0001 0001', /does not point backwards/],
    ['1234 8180 0000 0001 0000 0000 00 0001 0001 00000000 0004 0102', /runs past the end/],
    ['1234 8180 0001 0000 0000 0000 40 00', /reserved label type/],
  ];
  for (const [bytes, want] of cases) {
    const d = decodeMessage(hex(bytes));
    assert.ok(!d.ok, bytes);
    assert.match(d.error, want, bytes);
  }
  assert.deepEqual(decodeName(hex('03 612e62 00'), 0), { name: 'a\\.b', next: 5 });
  assert.equal(formatIPv6(hex('00000000000000000000000000000001')), '::1');
  assert.equal(formatIPv6(hex('20010db8000100000000000100000001')), '2001:db8:1::1:0:1');
  assert.equal(formatIPv6(hex('20010db8000100010001000100010001')), '2001:db8:1:1:1:1:1:1');
});

// A DNS server for the zone "test": app.test has two A records and no AAAA, slow.test never
// answers, broken.test gets SERVFAIL, noise.test first gets a reply with another ID, anything
// else NXDOMAIN. Replies copy the question and point at it for the answer names.
interface Query { id: number; name: string; type: number; question: Buffer }

function parseQuery(msg: Buffer): Query {
  let pos = 12;
  const labels: string[] = [];
  while (msg[pos] !== 0) {
    const len = msg[pos] ?? 0;
    labels.push(msg.subarray(pos + 1, pos + 1 + len).toString());
    pos += 1 + len;
  }
  const end = pos + 5;
  return { id: msg.readUInt16BE(0), name: labels.join('.'), type: msg.readUInt16BE(pos + 1), question: msg.subarray(12, end) };
}

function reply(q: Query, rcode: number, addresses: number[][], id = q.id): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8580 | rcode, 2); // QR, AA, RD, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const answers = addresses.map((a) => Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]), Buffer.from(a)]));
  return Buffer.concat([header, q.question, ...answers]);
}

async function withDnsServer(body: (port: number, queries: Query[]) => Promise<void>): Promise<void> {
  const server = createSocket('udp4');
  const queries: Query[] = [];
  server.on('message', (msg, from) => {
    const q = parseQuery(msg);
    queries.push(q);
    const send = (b: Buffer): void => server.send(b, from.port, from.address);
    if (q.name === 'slow.test') return;
    if (q.name === 'broken.test') send(reply(q, 2, []));
    else if (q.name === 'noise.test') {
      send(reply(q, 3, [], q.id ^ 0xffff));
      send(reply(q, 0, [[198, 51, 100, 7]]));
    } else if (q.name === 'app.test') send(reply(q, 0, q.type === 1 ? [[192, 0, 2, 1], [192, 0, 2, 2]] : []));
    else send(reply(q, 3, []));
  });
  const port = await bindUdp(server);
  try {
    await body(port, queries);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test('DNS probe: answers, NXDOMAIN, NODATA, SERVFAIL, a stray reply ignored', async () => {
  await withDnsServer(async (port, queries) => {
    const run = (name: string, type: 'A' | 'AAAA' = 'A', requireAnswer?: boolean): ReturnType<typeof probeOnce> =>
      probeOnce(dnsProbe({ host: '127.0.0.1', port, name, recordType: type, ...(requireAnswer !== undefined ? { requireAnswer } : {}) }));
    assert.deepEqual(await run('app.test'), {
      ok: true,
      detail: 'NOERROR, 2 answers for app.test A: A 192.0.2.1, A 192.0.2.2',
      stage: `waiting for 127.0.0.1:${port} to answer app.test A`,
    });
    assert.deepEqual(queries.map((q) => [q.name, q.type]), [['app.test', 1]]);
    assert.deepEqual([(await run('gone.test')).ok, (await run('gone.test')).detail], [false, 'NXDOMAIN for gone.test A']);
    assert.deepEqual([(await run('app.test', 'AAAA')).ok, (await run('app.test', 'AAAA')).detail], [false, 'NOERROR but no answers for app.test AAAA']);
    assert.equal((await run('app.test', 'AAAA', false)).ok, true, 'keepalived-style: NOERROR alone is enough');
    assert.equal((await run('broken.test')).detail, 'SERVFAIL for broken.test A');
    assert.equal((await run('noise.test')).detail, 'NOERROR, 1 answer for noise.test A: A 198.51.100.7');
  });
});

test('the test server and the decoder agree with a real resolver (c-ares in node:dns)', async () => {
  const raw: Buffer[] = [];
  const server = createSocket('udp4');
  server.on('message', (msg, from) => {
    raw.push(msg);
    server.send(reply(parseQuery(msg), 0, [[192, 0, 2, 9]]), from.port, from.address);
  });
  const port = await bindUdp(server);
  try {
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    assert.deepEqual(await resolver.resolve4('app.test'), ['192.0.2.9']);
    const d = decodeMessage(raw[0] ?? Buffer.alloc(0));
    assert.ok(d.ok);
    assert.equal(d.message.qr, false);
    assert.deepEqual(d.message.questions, [{ name: 'app.test', type: 1, class: 1 }]);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('DNS probe: a closed port is refused at once, a silent server times out', async () => {
  const closed = await freeUdpPort(createSocket('udp4'));
  assert.equal((await probeOnce(dnsProbe({ host: '127.0.0.1', port: closed, name: 'app.test', recordType: 'A' }))).detail,
    `ECONNREFUSED from 127.0.0.1:${closed} (ICMP port unreachable)`);
  await withDnsServer(async (port) => {
    const seen: CheckResult[] = [];
    const checker = new Checker(dnsProbe({ host: '127.0.0.1', port, name: 'slow.test', recordType: 'A' }),
      { intervalMs: 1000, timeoutMs: 100, rise: 1, fall: 1, warmupMs: 0 }, (r) => seen.push(r));
    checker.start();
    try {
      await until(() => seen.length >= 1);
    } finally {
      checker.stop();
    }
    assert.equal(seen[0]?.detail, `timed out after 100ms waiting for 127.0.0.1:${port} to answer slow.test A`);
    assert.equal(checker.up, false);
  });
});

test('DNS probe options are checked up front', () => {
  assert.throws(() => dnsProbe({ host: 'dns.example', name: 'a.test' }), /IP address/);
  assert.throws(() => dnsProbe({ host: '127.0.0.1', name: 'a..test' }), /labels/);
  assert.throws(() => dnsProbe({ host: '127.0.0.1', recordType: 70000 }), /bad DNS type/);
});
