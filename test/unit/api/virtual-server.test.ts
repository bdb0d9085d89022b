import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResources } from '../../../src/api/documents.ts';
import { ConfigError, IssueList } from '../../../src/api/issues.ts';
import { parseVirtualServerSpec } from '../../../src/api/virtual-server.ts';

const INSTANCES = `
apiVersion: kubelived.io/v1alpha1
kind: VrrpInstance
metadata: { name: vi4 }
spec: { vrid: 51, virtualIPs: ["198.18.0.100/24", "198.18.0.101"] }
---
apiVersion: kubelived.io/v1alpha1
kind: VrrpInstance
metadata: { name: vi6 }
spec: { vrid: 52, virtualIPs: ["2001:db8::100/64"] }
`;

function vs(spec: string, name = 'bad', namespace?: string): string {
  const meta = namespace === undefined ? `{ name: ${name} }` : `{ name: ${name}, namespace: ${namespace} }`;
  return `apiVersion: kubelived.io/v1alpha1\nkind: VirtualServer\nmetadata: ${meta}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
}

function file(...docs: string[]): string {
  return [INSTANCES, ...docs].join('---\n');
}

const MINIMAL = 'vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100\nport: 80\nrealServers: [{ address: 10.0.0.1 }]';

test('a minimal VirtualServer gets every default', () => {
  const set = parseResources(file(vs(MINIMAL, 'web')), 'cfg.yaml');
  assert.equal(set.virtualServers.length, 1);
  const v = set.virtualServers[0];
  assert.deepEqual(v, {
    namespace: 'default',
    name: 'web',
    spec: {
      vrrpInstanceRef: 'vi4',
      key: { family: 4, protocol: 'TCP', address: '198.18.0.100', port: 80 },
      virtualIP: '198.18.0.100',
      scheduler: 'wlc',
      schedulerFlags: [],
      forwarding: 'NAT',
      persistence: undefined,
      realServers: [{ address: '10.0.0.1', family: 4, port: 80, weight: 1, upperThreshold: 0, lowerThreshold: 0 }],
      backendRef: undefined,
      healthCheck: undefined,
      inhibitOnFailure: false,
      sorryServer: undefined,
      quorum: { min: 1, hysteresis: 0 },
      drainTimeoutMs: 30_000,
    },
  });
});

test('a full VirtualServer: every field read and typed', () => {
  const spec = `
vrrpInstanceRef: vi4
virtualIP: 198.18.0.101
port: 443
protocol: TCP
scheduler: sh
schedulerFlags: [sh-fallback, sh-port]
forwarding: NAT
persistence: { timeout: 10m, netmask: 24 }
realServers:
  - { address: 10.0.0.1, port: 8443, weight: 3, upperThreshold: 100, lowerThreshold: 50 }
  - { address: 10.0.0.2, port: 8443, weight: 0 }
healthCheck:
  type: HTTPS
  interval: 2s
  timeout: 500ms
  rise: 2
  fall: 4
  http:
    path: /healthz
    expectedStatus: [200, "301-302"]
    bodyDigest: ${'AB'.repeat(32)}
    host: www.example.com
    tls: { sni: www.example.com, insecureSkipVerify: true }
inhibitOnFailure: true
sorryServer: { address: 10.0.9.9, port: 8080 }
quorum: { min: 2, hysteresis: 1 }
drainTimeout: 1m`;
  const set = parseResources(file(vs(spec, 'tls', 'shop')), 'cfg.yaml');
  const v = set.virtualServers[0];
  assert.ok(v);
  assert.equal(v.namespace, 'shop');
  assert.deepEqual(v.spec.schedulerFlags, ['sh-fallback', 'sh-port']);
  assert.deepEqual(v.spec.persistence, { timeoutS: 600, netmask: 24 });
  assert.deepEqual(v.spec.realServers[0], { address: '10.0.0.1', family: 4, port: 8443, weight: 3, upperThreshold: 100, lowerThreshold: 50 });
  assert.equal(v.spec.realServers[1]?.weight, 0);
  assert.deepEqual(v.spec.healthCheck, {
    type: 'HTTPS', intervalMs: 2000, timeoutMs: 500, rise: 2, fall: 4, port: undefined,
    http: {
      path: '/healthz', expectedStatus: [{ from: 200, to: 200 }, { from: 301, to: 302 }], bodyDigest: 'ab'.repeat(32),
      host: 'www.example.com', tls: { sni: 'www.example.com', insecureSkipVerify: true },
    },
    udp: undefined, dns: undefined, exec: undefined,
  });
  assert.equal(v.spec.inhibitOnFailure, true);
  assert.deepEqual(v.spec.sorryServer, { address: '10.0.9.9', family: 4, port: 8080 });
  assert.deepEqual(v.spec.quorum, { min: 2, hysteresis: 1 });
  assert.equal(v.spec.drainTimeoutMs, 60_000);
});

test('health check defaults per type', () => {
  const check = (hc: string) => {
    const set = parseResources(file(vs(`${MINIMAL}\nhealthCheck: ${hc}`, 'web')), 'cfg.yaml');
    return set.virtualServers[0]?.spec.healthCheck;
  };
  assert.deepEqual(check('{ type: TCP }'), {
    type: 'TCP', intervalMs: 5000, timeoutMs: 3000, rise: 1, fall: 3, port: undefined,
    http: undefined, udp: undefined, dns: undefined, exec: undefined,
  });
  assert.equal(check('{ type: TCP, interval: 1s }')?.timeoutMs, 1000, 'the default timeout never exceeds the interval');
  assert.deepEqual(check('{ type: HTTP }')?.http, { path: '/', expectedStatus: [{ from: 200, to: 299 }], bodyDigest: undefined, host: undefined, tls: undefined });
  assert.deepEqual(check('{ type: HTTPS }')?.http?.tls, { sni: undefined, insecureSkipVerify: false });
  assert.deepEqual(check('{ type: UDP }')?.udp, { send: Buffer.alloc(0), expect: undefined });
  assert.deepEqual(check('{ type: UDP, udp: { send: ping, expect: pong } }')?.udp, { send: Buffer.from('ping'), expect: Buffer.from('pong') });
  assert.deepEqual(check('{ type: UDP, udp: { encoding: hex, send: "00ff", expect: "0A" } }')?.udp, { send: Buffer.from([0, 255]), expect: Buffer.from([10]) });
  assert.deepEqual(check('{ type: DNS, dns: { name: example.com } }')?.dns, { name: 'example.com', type: 'A' });
  assert.deepEqual(check('{ type: DNS, dns: { name: _sip._udp.example.com., type: SRV } }')?.dns, { name: '_sip._udp.example.com.', type: 'SRV' });
  assert.deepEqual(check('{ type: EXEC, exec: { command: [/bin/check, "--fast"] } }')?.exec, { command: ['/bin/check', '--fast'] });
});

test('IPv6, UDP, DR and TUN services', () => {
  const set = parseResources(file(
    vs('vrrpInstanceRef: vi6\nvirtualIP: "2001:db8:0::100"\nport: 53\nprotocol: UDP\nscheduler: rr\nrealServers: [{ address: "2001:DB8::a" }]', 'dns6'),
    vs('vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100\nport: 80\nforwarding: DR\nrealServers: [{ address: 10.0.0.1, port: 80 }, { address: 10.0.0.2 }]', 'dr'),
    vs('vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100\nport: 81\nprotocol: SCTP\nforwarding: TUN\nrealServers: [{ address: "2001:db8::7" }, { address: 10.0.0.3 }]', 'tun'),
  ), 'cfg.yaml');
  const [dns6, dr, tun] = set.virtualServers;
  assert.deepEqual(dns6?.spec.key, { family: 6, protocol: 'UDP', address: '2001:db8::100', port: 53 });
  assert.deepEqual(dns6?.spec.realServers[0], { address: '2001:db8::a', family: 6, port: 53, weight: 1, upperThreshold: 0, lowerThreshold: 0 });
  assert.deepEqual(dr?.spec.realServers.map((r) => r.port), [80, 80]);
  assert.deepEqual(tun?.spec.realServers.map((r) => r.family), [6, 4], 'TUN may mix address families');
  assert.equal(tun?.spec.key.protocol, 'SCTP');
});

test('firewall-mark services: family from the VIP or from the instance; real server port 0 keeps the port', () => {
  const set = parseResources(file(
    vs('vrrpInstanceRef: vi6\nfwmark: 7\nrealServers: [{ address: "2001:db8::a" }]\nhealthCheck: { type: TCP, port: 8080 }', 'm6'),
    vs('vrrpInstanceRef: vi4\nfwmark: 8\nvirtualIP: 198.18.0.101\npersistence: {}\nrealServers: [{ address: 10.0.0.1, port: 8080 }]', 'm4'),
  ), 'cfg.yaml');
  const [m6, m4] = set.virtualServers;
  assert.deepEqual(m6?.spec.key, { family: 6, fwmark: 7 });
  assert.equal(m6?.spec.realServers[0]?.port, 0);
  assert.equal(m6?.spec.healthCheck?.port, 8080);
  assert.deepEqual(m4?.spec.key, { family: 4, fwmark: 8 });
  assert.equal(m4?.spec.virtualIP, '198.18.0.101');
  assert.deepEqual(m4?.spec.persistence, { timeoutS: 300, netmask: 32 });
});

test('every scheduler is accepted', () => {
  for (const s of ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos']) {
    const set = parseResources(file(vs(`${MINIMAL}\nscheduler: ${s}`, 'web')), 'cfg.yaml');
    assert.equal(set.virtualServers[0]?.spec.scheduler, s);
  }
  const mh = parseResources(file(vs(`${MINIMAL}\nscheduler: mh\nschedulerFlags: [mh-port, mh-fallback]`, 'web')), 'cfg.yaml');
  assert.deepEqual(mh.virtualServers[0]?.spec.schedulerFlags, ['mh-port', 'mh-fallback']);
});

test('VirtualServer documents may come before their VrrpInstance', () => {
  const text = [vs(MINIMAL, 'web'), INSTANCES].join('---\n');
  assert.equal(parseResources(text, 'cfg.yaml').virtualServers.length, 1);
});

test('the same VIP and port in another protocol, or another port, is another service', () => {
  const set = parseResources(file(
    vs(MINIMAL, 'a'),
    vs(`${MINIMAL}\nprotocol: UDP`, 'b'),
    vs(MINIMAL.replace('port: 80', 'port: 81'), 'c'),
    vs(MINIMAL, 'a', 'other-namespace').replace('port: 80', 'port: 82'),
  ), 'cfg.yaml');
  assert.equal(set.virtualServers.length, 4);
});

const R = 'realServers: [{ address: 10.0.0.1 }]';
const BASE = 'vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100\nport: 80';
const HC = `${BASE}\n${R}\nhealthCheck:`;

/** [title, spec, field, message]: each manifest must be rejected with an issue on that field. */
const BAD: [string, string, string, RegExp][] = [
  ['unknown spec field', `${BASE}\n${R}\nschedular: rr`, 'spec.schedular', /unknown field/],
  ['no vrrpInstanceRef', `virtualIP: 198.18.0.100\nport: 80\n${R}`, 'spec.vrrpInstanceRef', /required/],
  ['vrrpInstanceRef not a string', `vrrpInstanceRef: 5\nvirtualIP: 198.18.0.100\nport: 80\n${R}`, 'spec.vrrpInstanceRef', /non-empty string/],
  ['reference to a missing instance', `vrrpInstanceRef: nope\nvirtualIP: 198.18.0.100\nport: 80\n${R}`, 'spec.vrrpInstanceRef', /VrrpInstance\/nope is not defined in cfg\.yaml/],
  ['no virtualIP nor fwmark', `vrrpInstanceRef: vi4\nport: 80\n${R}`, 'spec.virtualIP', /required \(or fwmark\)/],
  ['virtualIP not an address', `vrrpInstanceRef: vi4\nvirtualIP: web.example.com\nport: 80\n${R}`, 'spec.virtualIP', /must be an IP address/],
  ['virtualIP with a prefix', `vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100/24\nport: 80\n${R}`, 'spec.virtualIP', /without a prefix length/],
  ['virtualIP not a VIP of the instance', `vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.102\nport: 80\n${R}`, 'spec.virtualIP', /198\.18\.0\.102 is not one of the virtualIPs of VrrpInstance\/vi4 \(198\.18\.0\.100, 198\.18\.0\.101\)/],
  ['virtualIP of the other family', `vrrpInstanceRef: vi4\nvirtualIP: "2001:db8::100"\nport: 80\n${R}`, 'spec.virtualIP', /not one of the virtualIPs/],
  ['port missing', `vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100\n${R}`, 'spec.port', /required/],
  ['port 0', `vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100\nport: 0\n${R}`, 'spec.port', /1 to 65535, got 0/],
  ['port too large', `vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100\nport: 65536\n${R}`, 'spec.port', /1 to 65535/],
  ['port as a string', `vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100\nport: "80"\n${R}`, 'spec.port', /integer/],
  ['protocol ICMP', `${BASE}\nprotocol: ICMP\n${R}`, 'spec.protocol', /TCP, UDP, SCTP, got "ICMP"/],
  ['protocol lower case', `${BASE}\nprotocol: tcp\n${R}`, 'spec.protocol', /TCP, UDP, SCTP/],
  ['fwmark 0', `vrrpInstanceRef: vi4\nfwmark: 0\n${R}`, 'spec.fwmark', /1 to 4294967295/],
  ['fwmark with a port', `vrrpInstanceRef: vi4\nfwmark: 3\nport: 80\n${R}`, 'spec.port', /not allowed with fwmark/],
  ['fwmark with a protocol', `vrrpInstanceRef: vi4\nfwmark: 3\nprotocol: UDP\n${R}`, 'spec.protocol', /not allowed with fwmark/],
  ['unknown scheduler', `${BASE}\nscheduler: random\n${R}`, 'spec.scheduler', /must be one of rr, wrr/],
  ['unknown scheduler flag', `${BASE}\nscheduler: sh\nschedulerFlags: [sh-hash]\n${R}`, 'spec.schedulerFlags[0]', /must be one of sh-fallback/],
  ['sh flag without sh', `${BASE}\nscheduler: wrr\nschedulerFlags: [sh-port]\n${R}`, 'spec.schedulerFlags[0]', /sh-port applies only to the sh scheduler, not wrr/],
  ['sh flag on the default scheduler', `${BASE}\nschedulerFlags: [sh-fallback]\n${R}`, 'spec.schedulerFlags[0]', /only to the sh scheduler, not wlc/],
  ['mh flag with sh', `${BASE}\nscheduler: sh\nschedulerFlags: [mh-port]\n${R}`, 'spec.schedulerFlags[0]', /only to the mh scheduler/],
  ['duplicate scheduler flag', `${BASE}\nscheduler: mh\nschedulerFlags: [mh-port, mh-port]\n${R}`, 'spec.schedulerFlags[1]', /duplicate flag/],
  ['schedulerFlags not a list', `${BASE}\nscheduler: mh\nschedulerFlags: mh-port\n${R}`, 'spec.schedulerFlags', /must be a list/],
  ['forwarding MASQ', `${BASE}\nforwarding: MASQ\n${R}`, 'spec.forwarding', /NAT, DR, TUN/],
  ['persistence timeout fractional', `${BASE}\n${R}\npersistence: { timeout: 1500ms }`, 'spec.persistence.timeout', /whole seconds/],
  ['persistence timeout too short', `${BASE}\n${R}\npersistence: { timeout: 500ms }`, 'spec.persistence.timeout', /between 1000ms/],
  ['persistence timeout garbage', `${BASE}\n${R}\npersistence: { timeout: forever }`, 'spec.persistence.timeout', /duration/],
  ['persistence netmask too long for IPv4', `${BASE}\n${R}\npersistence: { netmask: 33 }`, 'spec.persistence.netmask', /1 to 32/],
  ['persistence netmask dotted', `${BASE}\n${R}\npersistence: { netmask: 255.255.255.0 }`, 'spec.persistence.netmask', /integer/],
  ['persistence unknown field', `${BASE}\n${R}\npersistence: { granularity: 24 }`, 'spec.persistence.granularity', /unknown field/],
  ['no real servers at all', BASE, 'spec.realServers', /at least one real server/],
  ['empty real server list', `${BASE}\nrealServers: []`, 'spec.realServers', /at least one real server/],
  ['real server not an object', `${BASE}\nrealServers: [10.0.0.1]`, 'spec.realServers[0]', /must be an object/],
  ['real server without address', `${BASE}\nrealServers: [{ port: 80 }]`, 'spec.realServers[0].address', /required/],
  ['real server address garbage', `${BASE}\nrealServers: [{ address: backend-1 }]`, 'spec.realServers[0].address', /must be an IP address/],
  ['real server multicast', `${BASE}\nrealServers: [{ address: 224.0.0.1 }]`, 'spec.realServers[0].address', /not a unicast address/],
  ['real server unspecified', `${BASE}\nrealServers: [{ address: 0.0.0.0 }]`, 'spec.realServers[0].address', /unspecified/],
  ['real server link-local IPv6', `vrrpInstanceRef: vi6\nvirtualIP: "2001:db8::100"\nport: 80\nrealServers: [{ address: "fe80::1" }]`, 'spec.realServers[0].address', /link-local/],
  ['NAT real server of the other family', `${BASE}\nrealServers: [{ address: "2001:db8::1" }]`, 'spec.realServers[0].address', /is IPv6 but the virtual service is IPv4: NAT needs one address family/],
  ['DR real server of the other family', `vrrpInstanceRef: vi6\nvirtualIP: "2001:db8::100"\nport: 80\nforwarding: DR\nrealServers: [{ address: 10.0.0.1 }]`, 'spec.realServers[0].address', /DR needs one address family/],
  ['fwmark NAT real server of the instance\'s other family', `vrrpInstanceRef: vi6\nfwmark: 3\nrealServers: [{ address: 10.0.0.1 }]`, 'spec.realServers[0].address', /is IPv4 but the virtual service is IPv6/],
  ['real server port 0', `${BASE}\nrealServers: [{ address: 10.0.0.1, port: 0 }]`, 'spec.realServers[0].port', /1 to 65535/],
  ['real server port too large', `${BASE}\nrealServers: [{ address: 10.0.0.1, port: 70000 }]`, 'spec.realServers[0].port', /1 to 65535/],
  ['DR with another port', `${BASE}\nforwarding: DR\nrealServers: [{ address: 10.0.0.1, port: 8080 }]`, 'spec.realServers[0].port', /DR cannot change the destination port: must be the service port 80/],
  ['TUN fwmark with a port', `vrrpInstanceRef: vi4\nfwmark: 3\nforwarding: TUN\nrealServers: [{ address: 10.0.0.1, port: 8080 }]`, 'spec.realServers[0].port', /TUN cannot change the destination port: leave port out/],
  ['weight negative', `${BASE}\nrealServers: [{ address: 10.0.0.1, weight: -1 }]`, 'spec.realServers[0].weight', /0 to 65535/],
  ['weight too large', `${BASE}\nrealServers: [{ address: 10.0.0.1, weight: 65536 }]`, 'spec.realServers[0].weight', /0 to 65535/],
  ['weight fractional', `${BASE}\nrealServers: [{ address: 10.0.0.1, weight: 1.5 }]`, 'spec.realServers[0].weight', /integer/],
  ['lower threshold without upper', `${BASE}\nrealServers: [{ address: 10.0.0.1, lowerThreshold: 5 }]`, 'spec.realServers[0].lowerThreshold', /needs an upperThreshold/],
  ['lower threshold above upper', `${BASE}\nrealServers: [{ address: 10.0.0.1, upperThreshold: 5, lowerThreshold: 6 }]`, 'spec.realServers[0].lowerThreshold', /must not exceed upperThreshold 5/],
  ['negative threshold', `${BASE}\nrealServers: [{ address: 10.0.0.1, upperThreshold: -5 }]`, 'spec.realServers[0].upperThreshold', /0 to 2147483647/],
  ['duplicate real server', `${BASE}\nrealServers: [{ address: 10.0.0.1 }, { address: 10.0.0.1, port: 80 }]`, 'spec.realServers[1]', /duplicate real server 10\.0\.0\.1:80/],
  ['duplicate IPv6 real server in two spellings', `vrrpInstanceRef: vi6\nvirtualIP: "2001:db8::100"\nport: 80\nrealServers: [{ address: "2001:db8::1" }, { address: "2001:DB8:0:0::1" }]`, 'spec.realServers[1]', /duplicate real server \[2001:db8::1\]:80/],
  ['real server unknown field', `${BASE}\nrealServers: [{ address: 10.0.0.1, wieght: 2 }]`, 'spec.realServers[0].wieght', /unknown field/],
  ['sorry server is a real server', `${BASE}\n${R}\nsorryServer: { address: 10.0.0.1 }`, 'spec.sorryServer', /10\.0\.0\.1:80 is also a real server/],
  ['sorry server without address', `${BASE}\n${R}\nsorryServer: { port: 80 }`, 'spec.sorryServer.address', /required/],
  ['sorry server of the other family', `${BASE}\n${R}\nsorryServer: { address: "2001:db8::9" }`, 'spec.sorryServer.address', /is IPv6/],
  ['sorry server not an object', `${BASE}\n${R}\nsorryServer: 10.0.0.9`, 'spec.sorryServer', /must be an object/],
  ['inhibitOnFailure not a bool', `${BASE}\n${R}\ninhibitOnFailure: "yes"`, 'spec.inhibitOnFailure', /true or false/],
  ['quorum negative', `${BASE}\n${R}\nquorum: { min: -1 }`, 'spec.quorum.min', /0 to 2147483647/],
  ['quorum hysteresis garbage', `${BASE}\n${R}\nquorum: { min: 2, hysteresis: lots }`, 'spec.quorum.hysteresis', /integer/],
  ['quorum out of reach', `${BASE}\nrealServers: [{ address: 10.0.0.1, weight: 2 }, { address: 10.0.0.2 }]\nquorum: { min: 3, hysteresis: 1 }`, 'spec.quorum.min', /can never be reached: min \+ hysteresis is 4 but the real servers' weights add up to 3/],
  ['quorum unknown field', `${BASE}\n${R}\nquorum: { minimum: 2 }`, 'spec.quorum.minimum', /unknown field/],
  ['drainTimeout too long', `${BASE}\n${R}\ndrainTimeout: 2h`, 'spec.drainTimeout', /between 0ms and 3600000ms/],
  ['drainTimeout a number', `${BASE}\n${R}\ndrainTimeout: 30`, 'spec.drainTimeout', /duration/],
  ['backendRef in a file', `${BASE}\nbackendRef: { name: web, port: http }`, 'spec.backendRef', /not supported by the standalone agent/],
  ['backendRef without name', `${BASE}\n${R}\nbackendRef: { port: 80 }`, 'spec.backendRef.name', /required/],
  ['health check without type', `${HC} { interval: 1s }`, 'spec.healthCheck.type', /required \(one of TCP, HTTP/],
  ['health check type ICMP', `${HC} { type: ICMP }`, 'spec.healthCheck.type', /must be one of TCP, HTTP, HTTPS, UDP, DNS, EXEC/],
  ['health check interval too short', `${HC} { type: TCP, interval: 10ms }`, 'spec.healthCheck.interval', /between 100ms/],
  ['health check timeout above interval', `${HC} { type: TCP, interval: 1s, timeout: 2s }`, 'spec.healthCheck.timeout', /must not exceed interval \(1000ms\)/],
  ['health check rise 0', `${HC} { type: TCP, rise: 0 }`, 'spec.healthCheck.rise', /1 to 100/],
  ['health check fall too large', `${HC} { type: TCP, fall: 101 }`, 'spec.healthCheck.fall', /1 to 100/],
  ['health check port 0', `${HC} { type: TCP, port: 0 }`, 'spec.healthCheck.port', /1 to 65535/],
  ['health check unknown field', `${HC} { type: TCP, retries: 3 }`, 'spec.healthCheck.retries', /unknown field/],
  ['http block on a TCP check', `${HC} { type: TCP, http: { path: / } }`, 'spec.healthCheck.http', /only for type HTTP or HTTPS, not TCP/],
  ['dns block on an HTTP check', `${HC} { type: HTTP, dns: { name: a } }`, 'spec.healthCheck.dns', /only for type DNS, not HTTP/],
  ['http path without slash', `${HC} { type: HTTP, http: { path: healthz } }`, 'spec.healthCheck.http.path', /must start with \//],
  ['http status out of range', `${HC} { type: HTTP, http: { expectedStatus: [700] } }`, 'spec.healthCheck.http.expectedStatus[0]', /100-599/],
  ['http status range reversed', `${HC} { type: HTTP, http: { expectedStatus: ["299-200"] } }`, 'spec.healthCheck.http.expectedStatus[0]', /range like "200-299"/],
  ['http status 2xx', `${HC} { type: HTTP, http: { expectedStatus: ["2xx"] } }`, 'spec.healthCheck.http.expectedStatus[0]', /status code/],
  ['http status empty list', `${HC} { type: HTTP, http: { expectedStatus: [] } }`, 'spec.healthCheck.http.expectedStatus', /at least one/],
  ['http body digest not sha256', `${HC} { type: HTTP, http: { bodyDigest: d41d8cd98f00b204e9800998ecf8427e } }`, 'spec.healthCheck.http.bodyDigest', /64 hex digits/],
  ['http host with a path', `${HC} { type: HTTP, http: { host: example.com/x } }`, 'spec.healthCheck.http.host', /host name/],
  ['tls on plain HTTP', `${HC} { type: HTTP, http: { tls: { sni: a } } }`, 'spec.healthCheck.http.tls', /only for type HTTPS/],
  ['tls unknown field', `${HC} { type: HTTPS, http: { tls: { verify: false } } }`, 'spec.healthCheck.http.tls.verify', /unknown field/],
  ['tls insecureSkipVerify not a bool', `${HC} { type: HTTPS, http: { tls: { insecureSkipVerify: 1 } } }`, 'spec.healthCheck.http.tls.insecureSkipVerify', /true or false/],
  ['udp hex odd length', `${HC} { type: UDP, udp: { encoding: hex, send: "abc" } }`, 'spec.healthCheck.udp.send', /hex bytes/],
  ['udp empty expect', `${HC} { type: UDP, udp: { expect: "" } }`, 'spec.healthCheck.udp.expect', /must not be empty/],
  ['udp unknown encoding', `${HC} { type: UDP, udp: { encoding: base64 } }`, 'spec.healthCheck.udp.encoding', /text, hex/],
  ['dns without block', `${HC} { type: DNS }`, 'spec.healthCheck.dns', /required for type DNS/],
  ['dns without name', `${HC} { type: DNS, dns: { type: A } }`, 'spec.healthCheck.dns.name', /required/],
  ['dns name with spaces', `${HC} { type: DNS, dns: { name: "a b" } }`, 'spec.healthCheck.dns.name', /DNS name/],
  ['dns query type ANY', `${HC} { type: DNS, dns: { name: a.example, type: ANY } }`, 'spec.healthCheck.dns.type', /must be one of A, AAAA/],
  ['exec without block', `${HC} { type: EXEC }`, 'spec.healthCheck.exec', /required for type EXEC/],
  ['exec empty command', `${HC} { type: EXEC, exec: { command: [] } }`, 'spec.healthCheck.exec.command', /non-empty list/],
  ['exec command a string', `${HC} { type: EXEC, exec: { command: "check --all" } }`, 'spec.healthCheck.exec.command', /must be a list/],
  ['fwmark check without a port', `vrrpInstanceRef: vi4\nfwmark: 3\n${R}\nhealthCheck: { type: HTTP }`, 'spec.healthCheck.port', /real server 10\.0\.0\.1 has no port of its own/],
];

for (const [title, spec, field, message] of BAD) {
  test(`rejects: ${title} (names ${field})`, () => {
    assert.throws(() => parseResources(file(vs(spec)), 'cfg.yaml'), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const hit = e.issues.find((i) => i.field === field);
      assert.ok(hit, `no issue for ${field}; got ${e.message}`);
      assert.match(hit.message, message);
      assert.equal(hit.where, 'VirtualServer/default/bad (document 3 of cfg.yaml)');
      return true;
    });
  });
}

test(`the bad-manifest table covers at least 30 cases (${BAD.length})`, () => {
  assert.ok(BAD.length >= 30);
});

test('two VirtualServers with one service key are rejected, across namespaces and spellings', () => {
  const text = file(
    vs(MINIMAL, 'a', 'ns1'),
    vs(MINIMAL, 'b', 'ns2'),
    vs('vrrpInstanceRef: vi6\nvirtualIP: "2001:db8::100"\nport: 80\nrealServers: [{ address: "2001:db8::1" }]', 'c'),
    vs('vrrpInstanceRef: vi6\nvirtualIP: "2001:DB8:0::100"\nport: 80\nrealServers: [{ address: "2001:db8::2" }]', 'd'),
    vs('vrrpInstanceRef: vi6\nfwmark: 9\nrealServers: [{ address: "2001:db8::1" }]', 'e'),
    vs('vrrpInstanceRef: vi6\nfwmark: 9\nrealServers: [{ address: "2001:db8::2" }]', 'f'),
  );
  assert.throws(() => parseResources(text, 'f.yaml'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.issues.length, 3, e.message);
    assert.match(e.message, /VirtualServer\/ns2\/b \(document 4 of f\.yaml\): spec\.port: the service TCP 198\.18\.0\.100:80 is already defined by VirtualServer\/ns1\/a/);
    assert.match(e.message, /VirtualServer\/default\/d \(document 6 of f\.yaml\): spec\.port: the service TCP \[2001:db8::100\]:80 is already defined by VirtualServer\/default\/c/);
    assert.match(e.message, /VirtualServer\/default\/f \(document 8 of f\.yaml\): spec\.fwmark: the service FWM 9 IPv6 is already defined by VirtualServer\/default\/e/);
    return true;
  });
});

test('a namespace and name defined twice is rejected', () => {
  const text = file(vs(MINIMAL, 'a'), vs(MINIMAL.replace('port: 80', 'port: 81'), 'a', 'default'));
  assert.throws(() => parseResources(text, 'f.yaml'), /VirtualServer\/default\/a \(document 4 of f\.yaml\): metadata\.name: defined twice/);
});

test('a reference to an instance that is itself invalid reports the instance only', () => {
  const broken = 'apiVersion: kubelived.io/v1alpha1\nkind: VrrpInstance\nmetadata: { name: broken }\nspec: { vrid: 0, virtualIPs: ["198.18.0.100"] }\n';
  const text = [broken, vs('vrrpInstanceRef: broken\nvirtualIP: 198.18.0.100\nport: 80\nrealServers: [{ address: 10.0.0.1 }]', 'web')].join('---\n');
  assert.throws(() => parseResources(text, 'f.yaml'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.issues.map((i) => i.field), ['spec.vrid']);
    return true;
  });
});

test('apiVersion, metadata and spec of a VirtualServer document are checked', () => {
  const wrongVersion = vs(MINIMAL, 'web').replace('kubelived.io/v1alpha1', 'kubelived.io/v1');
  assert.throws(() => parseResources(file(wrongVersion), 'f.yaml'), /VirtualServer\/default\/web \(document 3 of f\.yaml\): apiVersion: must be kubelived\.io\/v1alpha1/);
  const noSpec = 'apiVersion: kubelived.io/v1alpha1\nkind: VirtualServer\nmetadata: { name: web }\n';
  assert.throws(() => parseResources(file(noSpec), 'f.yaml'), /VirtualServer\/default\/web \(document 3 of f\.yaml\): spec: required/);
  const badNs = vs(MINIMAL, 'web').replace('{ name: web }', '{ name: web, namespace: 7 }');
  assert.throws(() => parseResources(file(badNs), 'f.yaml'), /metadata\.namespace: must be a non-empty string, got 7/);
});

test('several problems in one VirtualServer are all reported', () => {
  const spec = 'vrrpInstanceRef: vi4\nvirtualIP: 198.18.0.100\nport: 0\nscheduler: fast\nrealServers: [{ address: x }, { address: 10.0.0.1, weight: -3 }]';
  assert.throws(() => parseResources(file(vs(spec)), 'f.yaml'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.issues.map((i) => i.field).sort(), ['spec.port', 'spec.realServers[0].address', 'spec.realServers[1].weight', 'spec.scheduler']);
    return true;
  });
});

test('without the instance (the Kubernetes source), backendRef is accepted and the instance checks wait', () => {
  const issues = new IssueList('VirtualServer/shop/web');
  const v = parseVirtualServerSpec('shop', 'web', {
    vrrpInstanceRef: 'vi4', virtualIP: '198.18.0.222', port: 80, backendRef: { name: 'web', port: 'http' },
  }, issues);
  assert.equal(issues.issues.length, 0, issues.issues.map((i) => i.message).join('; '));
  assert.deepEqual(v?.spec.backendRef, { name: 'web', port: 'http' });
  assert.deepEqual(v?.spec.realServers, []);
  const numeric = parseVirtualServerSpec('shop', 'web', { vrrpInstanceRef: 'vi4', virtualIP: '198.18.0.222', port: 80, backendRef: { name: 'web', port: 8080 } }, issues);
  assert.deepEqual(numeric?.spec.backendRef, { name: 'web', port: 8080 });
  const bad = parseVirtualServerSpec('shop', 'web', { vrrpInstanceRef: 'vi4', virtualIP: '198.18.0.222', port: 80, backendRef: { name: 'web', port: 0 } }, issues);
  assert.equal(bad, undefined);
  assert.equal(issues.issues[0]?.field, 'spec.backendRef.port');
});

test('a sorry server alone makes a valid service (maintenance mode)', () => {
  const set = parseResources(file(vs(`${BASE}\nrealServers: []\nsorryServer: { address: 10.0.9.9 }`, 'web')), 'f.yaml');
  assert.deepEqual(set.virtualServers[0]?.spec.sorryServer, { address: '10.0.9.9', family: 4, port: 80 });
});

test('the error for an unknown kind names VirtualServer among the kinds', () => {
  assert.throws(() => parseResources('apiVersion: v1\nkind: Service\nmetadata: { name: x }\n', 'f.yaml'), /kind: must be VrrpInstance or Secret or VirtualServer, got "Service"/);
});
