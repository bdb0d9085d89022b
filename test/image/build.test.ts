// The image's build stage without a container engine: scripts/build-image-root.sh runs on a
// copy of what `docker build` would send (the git-visible files less .dockerignore), the copy
// is deleted, and the runtime tree left behind is started with the project's node 24 standing
// in for the base image's. Runs as root, like the network tests. Takes a minute or more: npm ci
// and node-gyp.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, matchesGlob, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const node = join(root, 'node_modules/.bin/node');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};

let work = '';
let app = '';

before(() => {
  work = mkdtempSync(join(tmpdir(), 'kubelived-image-'));
  const context = join(work, 'context');
  copyBuildContext(context);
  const started = Date.now();
  run('bash', [join(context, 'scripts/build-image-root.sh'), context, join(work, 'out')], { expectExit: 0 });
  console.log(`# build-image-root.sh took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  // Whatever the tree still needed from the build directory breaks the checks below.
  rmSync(context, { recursive: true, force: true });
  app = join(work, 'out/app');
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the Dockerfile builds with this script into the tree it copies, and starts what the tree holds', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^RUN bash scripts\/build-image-root\.sh \/src \/out$/m);
  assert.match(dockerfile, /^COPY --from=build \/out\/app \/app$/m);
  const entrypoint = /^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1];
  assert.deepEqual(JSON.parse(entrypoint ?? 'null'), ['tini', '--', 'node', '/app/dist/cli/main.js']);
  assert.ok(existsSync(join(app, 'dist/cli/main.js')), 'the tree has dist/cli/main.js');
});

test('the runtime tree holds only compiled code, the addon, the manifests and production dependencies', () => {
  const files = walk(app).map((f) => relative(app, f));
  const own = files.filter((f) => !f.startsWith('node_modules/'));
  const unexpected = own.filter(
    (f) => !['package.json', 'package-lock.json', 'native/build/Release/kubelived_native.node'].includes(f) &&
      !/^dist\/.+\.js$/.test(f),
  );
  assert.deepEqual(unexpected, [], 'no TypeScript sources, tests, maps or build leftovers');
  for (const tool of ['typescript', 'eslint', 'node-gyp', 'node']) {
    assert.ok(!existsSync(join(app, 'node_modules', tool)), `node_modules/${tool} is a build tool`);
  }
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '') continue;
    assert.equal(existsSync(join(app, path)), !entry.dev, `${path} ${entry.dev ? 'is dev-only' : 'is needed at run time'}`);
  }
  const bytes = files.reduce((sum, f) => sum + lstatSync(join(app, f)).size, 0);
  console.log(`# runtime tree: ${files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB ` +
    `(${own.length} of them kubelived's own)`);
});

test('kubelived --version from the tree prints the package version', () => {
  const { stdout } = run(node, [join(app, 'dist/cli/main.js'), '--version'], { expectExit: 0 });
  assert.match(stdout, new RegExp(`^kubelived ${pkg.version.replaceAll('.', '\\.')} \\(node v24\\.`));
});

// An oracle independent of the addon: the kernel lists ip_vs here once the module is loaded.
const ipvsLoaded = existsSync('/proc/net/ip_vs');

test('self-check as root: capabilities, addon, VRRP socket and rtnetlink ok; IPVS as the kernel has it', () => {
  const { stdout } = run(node, [join(app, 'dist/cli/main.js'), 'self-check'], { expectExit: 0 });
  assert.match(stdout, /^ok +capabilities: CAP_NET_ADMIN and CAP_NET_RAW effective$/m);
  assert.ok(stdout.includes(`ok   native addon: loaded ${join(app, 'native/build/Release/kubelived_native.node')}\n`), stdout);
  assert.match(stdout, /^ok +raw VRRP socket on lo: /m);
  assert.match(stdout, /^ok +rtnetlink: \d+ links: lo\b/m);
  assert.match(stdout, ipvsLoaded ? /^ok +IPVS: IPVS \d/m : /^warn +IPVS: .*modprobe ip_vs/m);
});

test('self-check --require-ipvs fails exactly when the kernel has no IPVS', () => {
  const { stdout } = run(node, [join(app, 'dist/cli/main.js'), 'self-check', '--require-ipvs'], {
    expectExit: ipvsLoaded ? 0 : 1,
  });
  assert.match(stdout, ipvsLoaded ? /^ok +IPVS: /m : /^fail +IPVS: .*modprobe ip_vs/m);
});

test('self-check without NET_ADMIN and NET_RAW (an agent pod missing its capabilities) fails and says why', () => {
  const { stdout } = run(
    'setpriv',
    ['--bounding-set', '-net_admin,-net_raw', node, join(app, 'dist/cli/main.js'), 'self-check'],
    { expectExit: 1 },
  );
  assert.match(stdout, /^fail capabilities: CAP_NET_ADMIN and CAP_NET_RAW not effective/m);
  assert.match(stdout, /^fail raw VRRP socket on lo: .*Operation not permitted/m);
});

/** What `docker build .` would send: the files git tracks or would track, less .dockerignore. */
function copyBuildContext(to: string): void {
  const listed = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, expectExit: 0 });
  const ignore = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const files = listed.stdout.split('\0').filter((f) => f && existsSync(join(root, f)) && !dockerIgnores(ignore, f));
  assert.ok(files.includes('scripts/build-image-root.sh'), 'the context has the build script');
  for (const f of files) {
    mkdirSync(join(to, dirname(f)), { recursive: true });
    // A tracked symlink (the chart's crds/ -> ../../../crds) stays a symlink, as in the context.
    const src = join(root, f);
    if (lstatSync(src).isSymbolicLink()) symlinkSync(readlinkSync(src), join(to, f));
    else cpSync(src, join(to, f));
  }
}

/** Docker's rule: the last pattern matching the path or one of its parent directories decides. */
function dockerIgnores(patterns: string[], file: string): boolean {
  const paths = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const line of patterns) {
    const negated = line.startsWith('!');
    const pattern = (negated ? line.slice(1) : line).replace(/^\/+/, '');
    if (paths.some((p) => matchesGlob(p, pattern))) ignored = !negated;
  }
  return ignored;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => !e.isDirectory())
    .map((e) => join(e.parentPath, e.name));
}

/**
 * Runs a command in the environment of a fresh shell: no npm_* variables from an npm that
 * started the test, no KUBELIVED_* overrides, and the project's node 24 first in PATH.
 */
function run(cmd: string, args: string[], opts: { cwd?: string; expectExit: number }): { stdout: string } {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(npm_|KUBELIVED_)/i.test(k)),
  );
  env.PATH = `${join(root, 'node_modules/.bin')}:${process.env.PATH ?? ''}`;
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? tmpdir(), env, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  if (r.error) throw r.error;
  const tail = `${r.stdout}${r.stderr}`.split('\n').slice(-40).join('\n');
  assert.equal(r.status, opts.expectExit, `${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${tail}`);
  return { stdout: r.stdout };
}
