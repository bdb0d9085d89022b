// The VM harness itself: the guest boots Debian's kernel, the command channel reports exactly,
// IPVS works (modules, ipvsadm, NAT traffic between namespaces inside the guest).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { useVm, VmExecError } from './vm.ts';

const vm = useVm();

test('the VM boots Debian kernel and reports it', async (t) => {
  const v = vm();
  assert.match(v.kernelRelease, /^\d+\.\d+\.\d+-\d+-amd64$/);
  assert.equal((await v.run(['uname', '-r'])).trim(), v.kernelRelease);
  assert.equal(v.kernel.release, v.kernelRelease);
  // No network device: loopback only.
  const links = await v.run(['ip', '-o', 'link', 'show']);
  assert.deepEqual(links.trim().split('\n').map((l) => l.split(': ')[1]), ['lo']);
  const slowdown = await v.measureSlowdown();
  assert.ok(slowdown > 0.3 && slowdown === v.slowdown, `slowdown ${slowdown}`);
  t.diagnostic(
    `kernel ${v.kernel.package} ${v.kernel.version} (${v.kernel.fresh ? 'downloaded now' : 'cached'}, prepared in ${v.kernel.prepareMs} ms), ` +
      `accel ${v.accel}, boot ${v.bootMs} ms, JS slowdown ${slowdown}x`,
  );
});

test('the project runs inside: Node 24 with type stripping, cwd the project root', async () => {
  const v = vm();
  const r = await v.exec([
    'node_modules/.bin/node',
    '-e',
    "import('./test/ipvs-vm/calibrate.ts').then((m) => console.log(process.version, typeof m.calibrate, process.cwd()))",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^v24\.\d+\.\d+ function (\S+)\n$/);
  assert.equal(r.stdout.trim().split(' ')[2], process.cwd());
});

test('exec reports stdout, stderr and the exit code exactly', async () => {
  const v = vm();
  assert.deepEqual(await v.exec('printf "out\\nno newline"; printf "err 1\\n" >&2; exit 3'), {
    stdout: 'out\nno newline',
    stderr: 'err 1\n',
    code: 3,
  });
  assert.deepEqual(await v.exec(['sh', '-c', 'echo "$1|$2"', 'sh', 'a b', '$HOME']), { stdout: 'a b|$HOME\n', stderr: '', code: 0 });
  // Input, environment, cwd.
  assert.equal((await v.exec(['cat'], { input: 'line 1\nline 2' })).stdout, 'line 1\nline 2');
  assert.equal((await v.exec('echo "$KL_A $KL_B"', { env: { KL_A: 'x', KL_B: 'y z' } })).stdout, 'x y z\n');
  assert.equal((await v.exec(['pwd'], { cwd: '/proc' })).stdout, '/proc\n');
  // Large output arrives whole and in order (1 MiB, then a marker).
  const big = await v.exec('head -c 1048576 /dev/zero | tr "\\0" a; echo; echo end');
  assert.equal(big.stdout.length, 1048576 + 5);
  assert.ok(big.stdout.endsWith('a\nend\n'));
  // UTF-8 split across chunks survives.
  assert.equal((await v.exec(['printf', 'h\u00e9llo \u2603'])).stdout, 'h\u00e9llo \u2603');
  // A signal: 128 + signo, and the signal's name.
  assert.deepEqual(await v.exec('kill -TERM $$'), { stdout: '', stderr: '', code: 143, signal: 'SIGTERM' });
  // run(): stdout, or a VmExecError with stderr.
  assert.equal(await v.run('echo ok'), 'ok\n');
  await assert.rejects(v.run('echo bad >&2; exit 7'), (e: unknown) => e instanceof VmExecError && e.code === 7 && /bad/.test(e.message));
  // A command that cannot start.
  await assert.rejects(v.exec(['/nonexistent/binary']), (e: unknown) => e instanceof VmExecError && /cannot start.*ENOENT/.test(e.message));
});

test('a hung command times out, with its whole process group, and the VM carries on', async () => {
  const v = vm();
  const t0 = Date.now();
  // The child sleeps in the background of the shell (same process group) and in the foreground.
  const p = v.exec('echo before; echo warn >&2; sleep 1001 & sleep 1002', { timeoutMs: 1500 });
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VmExecError);
    assert.equal(e.timedOut, true);
    assert.equal(e.stdout, 'before\n');
    assert.equal(e.stderr, 'warn\n');
    assert.match(e.message, /timed out after 1500 ms/);
    return true;
  });
  const took = Date.now() - t0;
  assert.ok(took >= 1500 && took < 15_000, `took ${took} ms`);
  // Neither sleep survives.
  const left = await v.exec('busybox ps -o args | grep -c "^sleep 100[12]"');
  assert.equal(left.stdout.trim(), '0');
  assert.equal(await v.run('echo still here'), 'still here\n');
});

test('commands run concurrently; one that leaves a daemon behind still returns', async () => {
  const v = vm();
  const t0 = Date.now();
  const [a, b] = await Promise.all([v.run('sleep 2; echo a'), v.run('sleep 2; echo b')]);
  assert.equal(a + b, 'a\nb\n');
  assert.ok(Date.now() - t0 < 3900, 'the two sleeps overlapped');
  // The background sleep keeps stdout open; exec returns anyway once the shell has exited.
  const r = await v.exec('sleep 30 & echo started', { timeoutMs: 20_000 });
  assert.equal(r.stdout, 'started\n');
});

test('spawn: a long-running process, its lines, and kill', async () => {
  const v = vm();
  const p = v.spawn('echo ready; while read l; do echo "got $l"; done', { stdin: true });
  await p.waitForLine(/^ready$/, 20_000);
  p.write('one\n');
  assert.equal(await p.waitForLine(/^got /, 20_000), 'got one');
  p.kill('SIGKILL');
  const r = await p.exited;
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(p.running, false);
});

test('the share directory is read-write on both sides at the same path', async () => {
  const v = vm();
  writeFileSync(join(v.shareDir, 'from-host.txt'), 'hello guest\n');
  assert.equal(await v.run(['cat', join(v.shareDir, 'from-host.txt')]), 'hello guest\n');
  await v.run(['sh', '-c', 'echo hello host > "$1"', 'sh', join(v.shareDir, 'from-guest.txt')]);
  assert.equal(readFileSync(join(v.shareDir, 'from-guest.txt'), 'utf8'), 'hello host\n');
  // The rest of the root is read-only underneath, writable through the tmpfs overlay.
  await v.run('echo x > /etc/kubelived-vm-test && cat /etc/kubelived-vm-test');
});

test('modprobe ip_vs, scheduler modules load on demand, dummy and veth interfaces work', async () => {
  const v = vm();
  await v.run(['modprobe', 'ip_vs']);
  assert.match(await v.run(['cat', '/proc/net/ip_vs']), /IP Virtual Server version/);
  await v.run('ip netns add kl-mod && ip -n kl-mod link add d0 type dummy && ip -n kl-mod link add v0 type veth peer name v1');
  // ipvsadm asks for the scheduler by name; the kernel loads ip_vs_<name> itself.
  for (const [i, s] of ['wrr', 'sh', 'mh'].entries())
    await v.run(['ip', 'netns', 'exec', 'kl-mod', 'ipvsadm', '-A', '-t', `198.18.0.${100 + i}:80`, '-s', s]);
  const lsmod = await v.run(['cat', '/proc/modules']);
  for (const m of ['ip_vs', 'ip_vs_wrr', 'ip_vs_sh', 'ip_vs_mh', 'dummy', 'veth']) assert.match(lsmod, new RegExp(`^${m} `, 'm'), `${m} loaded`);
  await v.run('ip netns del kl-mod');
});

// Director d between a client c and two real servers rs1, rs2, all inside the guest:
//
//   c  eth0 198.18.0.2/24 --- d  c0  198.18.0.1/24, VIP 198.18.0.100
//                             d  r1  198.18.1.1/24 --- rs1 eth0 198.18.1.11/24
//                             d  r2  198.18.2.1/24 --- rs2 eth0 198.18.2.12/24
//
// The real servers route the client's subnet back through d (NAT needs the replies to pass it).
const VIP = '198.18.0.100';
const TOPOLOGY = `
set -e
for n in c d rs1 rs2; do ip netns add kl-$n; ip -n kl-$n link set lo up; done
ip -n kl-c link add eth0 type veth peer name c0 netns kl-d
ip -n kl-d link add r1 type veth peer name eth0 netns kl-rs1
ip -n kl-d link add r2 type veth peer name eth0 netns kl-rs2
ip -n kl-c addr add 198.18.0.2/24 dev eth0
ip -n kl-d addr add 198.18.0.1/24 dev c0
ip -n kl-d addr add ${VIP}/32 dev c0
ip -n kl-d addr add 198.18.1.1/24 dev r1
ip -n kl-d addr add 198.18.2.1/24 dev r2
ip -n kl-rs1 addr add 198.18.1.11/24 dev eth0
ip -n kl-rs2 addr add 198.18.2.12/24 dev eth0
for l in c:eth0 d:c0 d:r1 d:r2 rs1:eth0 rs2:eth0; do ip -n kl-\${l%%:*} link set \${l#*:} up; done
ip -n kl-rs1 route add 198.18.0.0/24 via 198.18.1.1
ip -n kl-rs2 route add 198.18.0.0/24 via 198.18.2.1
ip netns exec kl-d sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
`;
// Sequential requests, each on a new connection (no keep-alive); prints who answered each.
const HTTP_CLIENT = `
const [url, n] = process.argv.slice(1);
const http = require('node:http');
const get = () => new Promise((resolve, reject) => {
  http.get(url, { agent: false, timeout: 10000 }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d)).on('end', () => resolve(body.trim()));
  }).on('error', reject).on('timeout', function () { this.destroy(new Error('timeout')); });
});
(async () => { for (let i = 0; i < Number(n); i++) console.log(await get()); })().catch((e) => { console.error(e.message); process.exit(1); });
`;
const HTTP_SERVER = `
const [name, host] = process.argv.slice(1);
require('node:http')
  .createServer((req, res) => res.end(name + '\\n'))
  .listen(8080, host, () => console.log('listening ' + name));
`;

test('ipvsadm: a TCP NAT service with two real servers', async () => {
  const v = vm();
  await v.run(TOPOLOGY);
  const d = ['ip', 'netns', 'exec', 'kl-d', 'ipvsadm'];
  await v.run([...d, '-A', '-t', `${VIP}:80`, '-s', 'rr']);
  await v.run([...d, '-a', '-t', `${VIP}:80`, '-r', '198.18.1.11:8080', '-m', '-w', '1']);
  await v.run([...d, '-a', '-t', `${VIP}:80`, '-r', '198.18.2.12:8080', '-m', '-w', '1']);
  const list = await v.run([...d, '-Ln']);
  assert.match(list, new RegExp(`^TCP  ${VIP.replace(/\./g, '\\.')}:80 rr\\s*$`, 'm'));
  assert.match(list, /^ {2}-> 198\.18\.1\.11:8080\s+Masq\s+1\s+0\s+0\s*$/m);
  assert.match(list, /^ {2}-> 198\.18\.2\.12:8080\s+Masq\s+1\s+0\s+0\s*$/m);
  // IPVS state is per network namespace: the guest's root namespace has none of it.
  assert.doesNotMatch(await v.run(['ipvsadm', '-Ln']), /TCP/);
});

test('NAT traffic: requests from the client alternate between the two real servers (rr)', async () => {
  const v = vm();
  const servers = ['rs1:198.18.1.11', 'rs2:198.18.2.12'].map((s) => {
    const [name = '', addr = ''] = s.split(':');
    return v.spawn(['ip', 'netns', 'exec', `kl-${name}`, 'node', '-e', HTTP_SERVER, name, addr]);
  });
  for (const s of servers) await s.waitForLine(/^listening /, 60_000);
  // Each request is a new TCP connection: rr sends each to the next real server.
  const answers = (await v.run(['ip', 'netns', 'exec', 'kl-c', 'node', '-e', HTTP_CLIENT, `http://${VIP}/`, '6'])).trim().split('\n');
  assert.deepEqual(answers.filter((a) => a === 'rs1').length, 3, answers.join(' '));
  assert.deepEqual(answers.filter((a) => a === 'rs2').length, 3, answers.join(' '));
  for (let i = 1; i < answers.length; i++) assert.notEqual(answers[i], answers[i - 1], `alternates: ${answers.join(' ')}`);
  // The kernel counted them: 3 connections per real server. The counters ipvsadm --stats shows
  // are summed from per-CPU counters by the rate estimator every 2 s: poll.
  let stats = '';
  for (const t0 = Date.now(); Date.now() - t0 < 15_000; ) {
    stats = await v.run(['ip', 'netns', 'exec', 'kl-d', 'ipvsadm', '-Ln', '--stats']);
    if (/^ {2}-> 198\.18\.1\.11:8080\s+3\s/m.test(stats) && /^ {2}-> 198\.18\.2\.12:8080\s+3\s/m.test(stats)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.match(stats, /^ {2}-> 198\.18\.1\.11:8080\s+3\s/m);
  assert.match(stats, /^ {2}-> 198\.18\.2\.12:8080\s+3\s/m);
  for (const s of servers) s.kill('SIGTERM');
  await Promise.all(servers.map((s) => s.exited));
});

// Debian 12's default kernel (6.1) has every IPVS scheduler but twos; its 6.12 kernel has twos.
describe('the 6.12 kernel (bootVm({ kernel }))', () => {
  const vm612 = useVm({ kernel: 'linux-image-6.12-amd64' });

  test('boots, and the twos scheduler loads (its modules are xz-compressed) for a service the addon creates', async () => {
    const v = vm612();
    assert.match(v.kernelRelease, /^6\.12\./);
    assert.equal(v.kernel.package.startsWith('linux-image-6.12'), true);
    // Created through kubelived's own addon, so the last scheduler is covered by it too.
    const add = `import { Ipvs } from './src/net/ipvs.ts';
      const ipvs = new Ipvs();
      const [r] = await ipvs.apply([{ op: 'addService', service: { key: { family: 4, protocol: 'TCP', address: '198.18.0.100', port: 80 }, scheduler: 'twos', flags: 0, timeout: 0, netmask: 32 } }]);
      ipvs.close();
      if (!r.ok) throw r.error;`;
    await v.run('ip netns add kl-twos');
    await v.run(['ip', 'netns', 'exec', 'kl-twos', 'node', '--input-type=module', '-e', add], { timeoutMs: 120_000 });
    assert.match(await v.run('ip netns exec kl-twos ipvsadm -Ln'), /^TCP {2}198\.18\.0\.100:80 twos\s*$/m);
    assert.match(await v.run(['cat', '/proc/modules']), /^ip_vs_twos /m);
  });
});
