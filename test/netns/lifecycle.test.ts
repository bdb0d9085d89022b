// The agent as an operator sees it: start-up validation, live reload that disturbs nothing it
// need not, stale VIPs from a killed run, and the metrics endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { vrrpInstance, startAgent, configYaml } from '../lab/agent.ts';
import { vip4 } from '../lab/lab.ts';
import { sleep } from '../lab/run.ts';
import { waitFor } from '../lab/wait.ts';
import { useLab, startAgents, assertServedBy, holders } from './scenario.ts';

const lab = useLab(2, 'life');

test('a malformed config file is refused at start with document, field and reason', async () => {
  const [n1] = lab().nodes;
  assert.ok(n1);
  const bad = configYaml([vrrpInstance({ vips: ['198.18.0.300/24'], vrid: 0 })]);
  const a = startAgent(lab(), n1, bad);
  const code = await a.proc.exited;
  assert.equal(code, 2);
  const text = a.proc.output.map((l) => l.line).join('\n');
  assert.match(text, /VrrpInstance\/vi \(document 1 of .*config\.yaml\): spec\.vrid: must be an integer from 1 to 255, got 0/);
  assert.match(text, /spec\.virtualIPs\[0\]: must be an address or CIDR/);
});

test('reload: an unchanged instance is not disturbed, a changed one is applied, a bad file is rejected and the old config kept', async (t) => {
  const [n1, n2] = lab().nodes;
  assert.ok(n1 && n2);
  const stable = vrrpInstance({ name: 'stable', vrid: 60, vips: [`${vip4(10)}/24`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], advertisementInterval: '100ms' });
  const moving = vrrpInstance({ name: 'moving', vrid: 61, vips: [`${vip4(11)}/24`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], advertisementInterval: '100ms' });
  const [a1, a2] = startAgents(lab(), [n1, n2], [stable, moving], t);
  await a1?.waitForState('stable', 'Master', 5000);
  await a1?.waitForState('moving', 'Master', 5000);
  await a2?.waitForState('moving', 'Backup', 5000);
  assert.ok(a1 && a2);

  // Give n2 the higher priority for `moving` only, on both nodes.
  const from1 = a1.proc.mark();
  const from2 = a2.proc.mark();
  const changed = vrrpInstance({ name: 'moving', vrid: 61, vips: [`${vip4(11)}/24`], advertisementInterval: '100ms', priority: 100, priorityOverrides: [{ node: 'n2', priority: 200 }] });
  writeFileSync(a1.configPath, configYaml([stable, changed]));
  writeFileSync(a2.configPath, configYaml([stable, changed]));
  await a2.waitForState('moving', 'Master', 5000, from2);
  await assertServedBy(lab(), vip4(11), n2);
  await sleep(500);
  const lines1 = a1.proc.output.slice(from1).map((l) => l.line);
  assert.ok(!lines1.some((l) => /"instance":"stable".*"to":/.test(l)), 'stable had no transition');
  assert.deepEqual(await holders(lab(), vip4(10)), ['n1']);

  // A broken file: rejected, named, and everything keeps running as it was.
  const from3 = a1.proc.mark();
  writeFileSync(a1.configPath, 'apiVersion: kubelived.io/v1alpha1\nkind: VrrpInstance\nmetadata: { name: stable }\nspec: { vrid: 999 }\n');
  const rejected = await a1.proc.waitForLine(/configuration rejected/, 3000, from3);
  assert.match(rejected, /spec\.vrid: must be an integer from 1 to 255, got 999/);
  await sleep(500);
  assert.ok(a1.proc.running);
  assert.deepEqual(await holders(lab(), vip4(10)), ['n1']);
  assert.ok(!a1.proc.output.slice(from3).some((l) => /"to":/.test(l.line)), 'no transition after a rejected reload');
});

test('start-up removes stale VIPs left by a killed run when the node is not master', async (t) => {
  const [n1, n2] = lab().nodes;
  assert.ok(n1 && n2);
  const VIP = vip4(12);
  const inst = vrrpInstance({ vrid: 62, vips: [`${VIP}/24`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], advertisementInterval: '100ms' });
  const [a1] = startAgents(lab(), [n1], [inst], t);
  await a1?.waitForState('vi', 'Master', 5000);
  // A leftover without a lifetime, as an older agent or a hand-made `ip addr add` leaves it.
  await lab().exec(n2.netns, ['ip', 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
  assert.deepEqual(await holders(lab(), VIP), ['n1', 'n2']);
  const [a2] = startAgents(lab(), [n2], [inst], t);
  await a2?.proc.waitForLine(/removed stale VIPs/, 5000);
  await a2?.waitForState('vi', 'Backup', 5000);
  await assertServedBy(lab(), VIP, n1);
});

test('metrics: state, adverts and event-loop lag are exported', async (t) => {
  const [n1] = lab().nodes;
  assert.ok(n1);
  const inst = vrrpInstance({ vrid: 63, vips: [`${vip4(13)}/24`], advertisementInterval: '100ms' });
  const a = startAgent(lab(), n1, configYaml([inst]), { metricsAddr: '127.0.0.1:9650' });
  t.after(async () => { await a.proc.stop(); });
  await a.waitForState('vi', 'Master', 5000);
  const body = await waitFor('metrics with adverts', async () => {
    const r = await lab().exec(n1.netns, [process.execPath, '-e', 'fetch("http://127.0.0.1:9650/metrics").then(r=>r.text()).then(t=>process.stdout.write(t))']);
    return /kubelived_vrrp_adverts_sent_total\{vrrp_instance="vi"\} [1-9]/.test(r.stdout) ? r.stdout : undefined;
  }, 5000, 200);
  assert.match(body, /kubelived_vrrp_state\{vrrp_instance="vi",state="Master"\} 1/);
  assert.match(body, /kubelived_vrrp_transitions_total\{vrrp_instance="vi",to="Master"\} 1/);
  assert.match(body, /nodejs_eventloop_lag_seconds/);
  assert.match(body, /kubelived_vrrp_timer_lateness_seconds/);
  const ready = await lab().exec(n1.netns, [process.execPath, '-e', 'fetch("http://127.0.0.1:9650/readyz").then(r=>process.stdout.write(String(r.status)))']);
  assert.equal(ready.stdout, '200');
});
