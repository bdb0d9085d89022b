// docs/migrating-from-keepalived.md: the worked example's YAML is a valid kubelived config that
// says what the keepalived.conf beside it says, and the keyword tables answer for every
// keepalived keyword a migration meets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseResources } from '../../../src/api/documents.ts';

const DOC = readFileSync(new URL('../../../docs/migrating-from-keepalived.md', import.meta.url), 'utf8');
const blocks = (language: string): string[] => [...DOC.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1] ?? '');

test('the worked example parses and carries the keepalived.conf over', () => {
  const [yaml, ...more] = blocks('yaml');
  assert.ok(yaml !== undefined && more.length === 0, 'one yaml block: the example');
  const set = parseResources(yaml, 'docs/migrating-from-keepalived.md');
  const [web] = set.vrrpInstances;
  assert.ok(web && set.vrrpInstances.length === 1);
  const s = web.spec;
  assert.deepEqual(
    { vrid: s.vrid, version: s.version, interface: s.interface, priority: s.priority, overrides: s.priorityOverrides, advertMs: s.advertisementIntervalMs, vips: s.virtualIPs.map((v) => `${v.address}/${v.prefixLen}`) },
    { vrid: 51, version: 2, interface: 'eth0', priority: 100, overrides: [{ node: 'lb1', priority: 150 }], advertMs: 1000, vips: ['192.0.2.10/24'] },
  );
  assert.deepEqual(s.tracks.map((t) => ({ name: t.name, weight: t.weight, command: t.exec?.command })), [
    { name: 'maintenance', weight: -60, command: ['test', '!', '-e', '/var/lib/kubelived/maintenance'] },
  ]);
  // auth_pass from the Secret.
  const ref = s.authentication?.secretRef;
  const secret = set.secrets.find((x) => x.namespace === ref?.namespace && x.name === ref.name);
  assert.equal(secret?.data[ref?.key ?? '']?.toString(), 's3cret');

  const byPort = new Map(set.virtualServers.map((v) => [v.spec.key.port, v.spec]));
  const http = byPort.get(80);
  assert.ok(http);
  assert.deepEqual(
    { scheduler: http.scheduler, forwarding: http.forwarding, quorum: http.quorum, sorry: http.sorryServer, inhibit: http.inhibitOnFailure, rs: http.realServers.map((r) => [r.address, r.port, r.weight]) },
    { scheduler: 'wrr', forwarding: 'NAT', quorum: { min: 1, hysteresis: 2 }, sorry: { address: '10.0.1.5', family: 4, port: 8080 }, inhibit: true, rs: [['10.0.1.11', 8080, 2], ['10.0.1.12', 8080, 1]] },
  );
  assert.equal(http.persistence?.timeoutS, 300);
  assert.deepEqual({ type: http.healthCheck?.type, intervalMs: http.healthCheck?.intervalMs, timeoutMs: http.healthCheck?.timeoutMs, fall: http.healthCheck?.fall },
    { type: 'HTTP', intervalMs: 5000, timeoutMs: 2000, fall: 3 });
  const https = byPort.get(443);
  assert.deepEqual({ scheduler: https?.scheduler, forwarding: https?.forwarding, check: https?.healthCheck?.type, rs: https?.realServers.map((r) => [r.address, r.port]) },
    { scheduler: 'sh', forwarding: 'DR', check: 'TCP', rs: [['10.0.1.11', 443], ['10.0.1.12', 443]] });
});

test('the keyword tables answer for every keepalived keyword of a typical config', () => {
  const keywords = [...DOC.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...(m[1] ?? '').matchAll(/`([a-z_A-Z0-9-]+)/g)].map((k) => k[1]));
  for (const k of [
    'vrrp_instance', 'state', 'interface', 'virtual_router_id', 'priority', 'advert_int', 'vrrp_version', 'nopreempt', 'preempt_delay',
    'virtual_ipaddress', 'unicast_peer', 'unicast_src_ip', 'authentication', 'track_script', 'track_interface', 'notify_master',
    'vrrp_sync_group', 'garp_master_delay', 'garp_master_repeat', 'garp_master_refresh', 'use_vmac',
    'virtual_server', 'protocol', 'lb_algo', 'lb_kind', 'persistence_timeout', 'persistence_granularity', 'delay_loop', 'quorum',
    'hysteresis', 'sorry_server', 'inhibit_on_failure', 'real_server', 'weight', 'virtualhost', 'notify_up', 'lvs_sync_daemon',
    'TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'MISC_CHECK', 'DNS_CHECK', 'UDP_CHECK', 'SMTP_CHECK', 'connect_port', 'connect_timeout', 'retry',
    'delay_before_retry',
  ]) assert.ok(keywords.includes(k), `no row for ${k}`);
});
