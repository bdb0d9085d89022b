// The guest kernel: Debian's stock generic kernel (linux-image-<abi>-amd64, the package the
// metapackage linux-image-amd64 currently points at), fetched with `apt-get download` and
// unpacked with dpkg-deb into a cache directory, never installed into the host's /boot.
//
//   <cache>/<package>_<version>/boot/vmlinuz-<release>
//   <cache>/<package>_<version>/lib/modules/<release>/...   (depmod run on it)
//   <cache>/<package>_<version>/kernel.json                 (written last: the entry is complete)
//
// <cache> is $KUBELIVED_VM_CACHE, else $XDG_CACHE_HOME/kubelived-vm, else ~/.cache/kubelived-vm:
// outside the work tree, so fresh clones on one machine (CI) share it. An entry is unpacked in a
// temporary directory and renamed into place, so concurrent first runs cannot see half an entry.
// bootVm({ kernel }) or $KUBELIVED_VM_KERNEL_PACKAGE picks another metapackage or package:
// linux-image-6.12-amd64 (Debian 12 has it too) is the one with the twos scheduler.
//
// Everything missing fails loudly with what to install: a VM test never skips.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface GuestKernel {
  package: string;
  version: string;
  /** `uname -r` inside the guest, e.g. 6.1.0-56-amd64. */
  release: string;
  vmlinuz: string;
  /**
   * What qemu boots: the uncompressed vmlinux through its PVH entry point when the kernel has
   * one (no BIOS real-mode setup, no decompression inside the guest: about 3 s less under TCG),
   * else vmlinuz.
   */
  image: string;
  /** The kernel's module tree (…/lib/modules/<release>), depmod'ed. */
  modulesDir: string;
  /** True when this call downloaded and unpacked it (a first run). */
  fresh: boolean;
  /** Milliseconds spent resolving, and downloading + unpacking if fresh. */
  prepareMs: number;
}

export class VmSetupError extends Error {
  constructor(message: string) {
    super(`ipvs-vm: ${message}`);
    this.name = 'VmSetupError';
  }
}

/** The Debian packages the harness needs on the host (also in .ci/run). */
export const HOST_PACKAGES = 'qemu-system-x86 busybox-static kmod xz-utils ipvsadm iproute2';

const METAPACKAGE = 'linux-image-amd64';
const REQUIRED_TOOLS: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  tar: 'tar',
  depmod: 'kmod',
  xz: 'xz-utils',
  modprobe: 'kmod',
  ipvsadm: 'ipvsadm',
  ip: 'iproute2',
};
// Module directories no IPVS test needs: left out when unpacking (a quarter of the size).
const PRUNE = [
  'kernel/sound',
  'kernel/drivers/gpu',
  'kernel/drivers/media',
  'kernel/drivers/net/wireless',
  'kernel/drivers/net/ethernet',
  'kernel/drivers/infiniband',
  'kernel/drivers/staging',
  'kernel/drivers/scsi',
  'kernel/drivers/usb',
  'kernel/drivers/hid',
  'kernel/drivers/iio',
  'kernel/drivers/bluetooth',
  'kernel/drivers/input',
  'kernel/drivers/mmc',
  'kernel/drivers/video',
  'kernel/net/bluetooth',
  'kernel/net/wireless',
  'kernel/net/mac80211',
];

export function cacheRoot(): string {
  if (process.env.KUBELIVED_VM_CACHE) return process.env.KUBELIVED_VM_CACHE;
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'kubelived-vm');
}

function which(tool: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    const p = join(d, tool);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Absolute path of tool, or a VmSetupError naming the package to install. */
export function requireTool(tool: string): string {
  const p = which(tool);
  if (!p) {
    const pkg = REQUIRED_TOOLS[tool] ?? tool;
    throw new VmSetupError(`${tool} not found: apt-get install ${pkg}   (all of the harness's: apt-get install ${HOST_PACKAGES})`);
  }
  return p;
}

/** Every host tool the harness uses, checked up front so a missing one fails before any boot. */
export function checkHostTools(): void {
  const missing = Object.keys(REQUIRED_TOOLS).filter((t) => !which(t));
  if (missing.length)
    throw new VmSetupError(
      `missing host tools: ${missing.join(', ')}: apt-get install ${[...new Set(missing.map((t) => REQUIRED_TOOLS[t]))].join(' ')}` +
        `   (the harness needs: apt-get install ${HOST_PACKAGES})`,
    );
}

function aptCache(args: string[]): string {
  const r = spawnSync('apt-cache', args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

type Resolved = { pkg: string; version: string };

/**
 * resolvePackage(name), remembered in <cache>/resolved.json until apt's package lists change
 * (two apt-cache calls cost a second or more). The last answer per name also serves when apt
 * knows no candidate (no package lists) but the cache has that kernel.
 */
function resolvePackageCached(root: string, name: string): Resolved | undefined {
  const file = join(root, 'resolved.json');
  let all: Record<string, Resolved & { lists: number }> = {};
  try {
    all = JSON.parse(readFileSync(file, 'utf8')) as typeof all;
  } catch {
    /* none yet */
  }
  let lists = 0;
  try {
    lists = statSync('/var/lib/apt/lists').mtimeMs;
  } catch {
    /* no lists at all */
  }
  const known = all[name];
  if (known && known.lists === lists) return { pkg: known.pkg, version: known.version };
  const got = resolvePackage(name);
  if (!got) return known && readEntry(join(root, entryName(known.pkg, known.version))) ? known : undefined;
  all[name] = { ...got, lists };
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(all, null, 2) + '\n');
  renameSync(tmp, file);
  return got;
}

/**
 * The concrete kernel package behind name and apt's candidate version, or undefined. name is a
 * metapackage (linux-image-amd64, linux-image-6.12-amd64: the kernel package it depends on) or
 * a kernel package itself (linux-image-6.1.0-56-amd64).
 */
function resolvePackage(name: string): Resolved | undefined {
  const deps = aptCache(['depends', '--important', name]);
  const pkg = /Depends:\s*(linux-image-[0-9][^\s]*-amd64)\s*$/m.exec(deps)?.[1] ?? name;
  const v = /Candidate:\s*(\S+)/.exec(aptCache(['policy', pkg]))?.[1];
  if (!v || v === '(none)') return undefined;
  return { pkg, version: v };
}

interface Manifest {
  package: string;
  version: string;
  release: string;
}

function readEntry(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

function entryName(pkg: string, version: string): string {
  return `${pkg}_${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`;
}

function toKernel(dir: string, m: Manifest, fresh: boolean, t0: number): GuestKernel {
  const vmlinuz = join(dir, 'boot', `vmlinuz-${m.release}`);
  const modulesDir = join(dir, 'lib', 'modules', m.release);
  if (!existsSync(vmlinuz) || !existsSync(join(modulesDir, 'modules.dep')))
    throw new VmSetupError(`cache entry ${dir} is incomplete (no vmlinuz or modules.dep): delete it and run again`);
  // Mark it used, so the pruning of other versions (below) leaves it alone for a while.
  const now = new Date();
  utimesSync(join(dir, 'kernel.json'), now, now);
  const image = pvhImage(vmlinuz, join(dir, 'boot', `vmlinux-${m.release}`)) ?? vmlinuz;
  return { package: m.package, version: m.version, release: m.release, vmlinuz, image, modulesDir, fresh, prepareMs: Date.now() - t0 };
}

/**
 * The uncompressed kernel at out, extracted from the bzImage once (kept in the cache entry), if
 * it is an ELF with a PVH entry note; undefined otherwise (a marker file remembers that).
 */
function pvhImage(bzImage: string, out: string): string | undefined {
  if (existsSync(out)) return out;
  const marker = `${out}.no-pvh`;
  if (existsSync(marker)) return undefined;
  const elf = decompressPayload(readFileSync(bzImage));
  if (!elf || !hasPvhNote(elf)) {
    writeFileSync(marker, 'the kernel has no PVH entry (or an unknown compression): booting vmlinuz\n');
    return undefined;
  }
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, elf);
  renameSync(tmp, out);
  return out;
}

/** The compressed kernel inside a bzImage (x86 boot protocol >= 2.08), decompressed. */
function decompressPayload(b: Buffer): Buffer | undefined {
  if (b.length < 0x250 || b.toString('latin1', 0x202, 0x206) !== 'HdrS' || b.readUInt16LE(0x206) < 0x208) return undefined;
  const setupSects = b[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + b.readUInt32LE(0x248);
  // The payload is the compressed stream followed by the uncompressed size (4 bytes).
  const payload = b.subarray(start, start + b.readUInt32LE(0x24c) - 4);
  const xz = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
  let cmd: string[] | undefined;
  if (payload.subarray(0, 6).equals(xz)) cmd = [requireTool('xz'), '-dc', '--single-stream'];
  else if (payload.subarray(0, 4).equals(zstd)) cmd = ['zstd', '-dc'];
  else if (payload[0] === 0x1f && payload[1] === 0x8b) {
    try {
      return gunzipSync(payload);
    } catch {
      return undefined;
    }
  }
  if (!cmd) return undefined;
  const [file = '', ...args] = cmd;
  const r = spawnSync(file, args, { input: payload, maxBuffer: 1024 * 1024 * 1024 });
  return r.status === 0 ? r.stdout : undefined;
}

/** ELF64 with a Xen PHYS32_ENTRY note (type 18): qemu can start it through PVH. */
function hasPvhNote(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4 /* PT_NOTE */) continue;
    let p = Number(elf.readBigUInt64LE(ph + 8));
    const end = p + Number(elf.readBigUInt64LE(ph + 32));
    while (p + 12 <= end) {
      const namesz = elf.readUInt32LE(p);
      const descsz = elf.readUInt32LE(p + 4);
      const type = elf.readUInt32LE(p + 8);
      const name = elf.toString('latin1', p + 12, p + 12 + namesz).replace(/\0+$/, '');
      if (name === 'Xen' && type === 18) return true;
      p += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4;
    }
  }
  return false;
}

function run(cmd: string, args: string[], cwd?: string): void {
  try {
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new VmSetupError(`${cmd} ${args.join(' ')} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

function download(root: string, pkg: string, version: string): string {
  const tmp = mkdtempSync(join(root, '.unpack-'));
  try {
    // As root apt-get download would drop to the _apt user, who cannot write here: stay root.
    run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', `${pkg}=${version}`], tmp);
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new VmSetupError(`apt-get download ${pkg}=${version} produced no .deb`);
    const tree = join(tmp, 'tree');
    mkdirSync(tree);
    const excludes = PRUNE.map((p) => `--exclude=./lib/modules/*/${p}`);
    // dpkg-deb -x cannot exclude: stream the data tarball through tar instead.
    const sh = `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ${excludes.map((e) => `'${e}'`).join(' ')}`;
    run('bash', ['-c', `set -o pipefail; ${sh}`, 'bash', join(tmp, deb), tree]);
    rmSync(join(tmp, deb));
    const releases = readdirSync(join(tree, 'lib', 'modules'));
    const release = releases[0];
    if (releases.length !== 1 || !release) throw new VmSetupError(`${pkg}: expected one module tree, found ${releases.join(', ') || 'none'}`);
    run('depmod', ['-b', tree, release]);
    const manifest: Manifest = { package: pkg, version, release };
    writeFileSync(join(tree, 'kernel.json'), JSON.stringify(manifest, null, 2) + '\n');
    const final = join(root, entryName(pkg, version));
    try {
      renameSync(tree, final);
    } catch (e) {
      // Someone else finished first (concurrent first runs): theirs is as good as ours.
      if (!readEntry(final)) throw e;
    }
    return final;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Remove other versions' entries unused for a day (a kernel update leaves the old one behind). */
function pruneOld(root: string, keep: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const e of readdirSync(root)) {
    const dir = join(root, e);
    if (dir === keep) continue;
    try {
      if (e.startsWith('.unpack-') ? statSync(dir).mtimeMs < dayAgo : statSync(join(dir, 'kernel.json')).mtimeMs < dayAgo)
        rmSync(dir, { recursive: true, force: true });
    } catch {
      /* not an entry */
    }
  }
}

/** The default kernel: $KUBELIVED_VM_KERNEL_PACKAGE, else Debian's linux-image-amd64. */
export function defaultKernelPackage(): string {
  return process.env.KUBELIVED_VM_KERNEL_PACKAGE || METAPACKAGE;
}

/**
 * The guest kernel named by `name` (see resolvePackage), from the cache or downloaded and
 * unpacked now. Fails loudly when apt knows no candidate and the cache does not have it.
 */
export function prepareKernel(name = defaultKernelPackage()): GuestKernel {
  const t0 = Date.now();
  const root = cacheRoot();
  mkdirSync(root, { recursive: true });
  const want = resolvePackageCached(root, name);
  if (!want)
    throw new VmSetupError(
      `apt knows no candidate for ${name} and the cache ${root} does not have it: ` +
        `run apt-get update (the harness downloads the kernel package with apt-get download)`,
    );
  const dir = join(root, entryName(want.pkg, want.version));
  const m = readEntry(dir);
  if (m) return toKernel(dir, m, false, t0);
  const got = download(root, want.pkg, want.version);
  pruneOld(root, got);
  const gm = readEntry(got);
  if (!gm) throw new VmSetupError(`unpacked ${want.pkg} but ${got}/kernel.json is missing`);
  return toKernel(got, gm, true, t0);
}
