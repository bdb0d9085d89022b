// The guest's initramfs: an uncompressed newc cpio archive holding the host's static busybox,
// guest/init.sh as /init, and the few modules stage 1 needs before the host's root is mounted
// (virtio PCI, virtio console, 9p over virtio, overlayfs), with their dependencies in load order,
// decompressed if the kernel ships them compressed.
// Built per boot in the VM's temporary directory: it takes milliseconds.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { VmSetupError } from './kernel.ts';

/** Modules stage 1 loads (their dependencies come first, from modules.dep). */
export const STAGE1_MODULES = ['virtio_pci', 'virtio_console', '9pnet_virtio', '9p', 'overlay'];

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

interface Entry {
  name: string;
  mode: number;
  data?: Buffer;
  rdev?: [number, number];
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** newc ("070701") cpio: the format the kernel unpacks into its initial rootfs. */
export function cpioNewc(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (e: Entry): void => {
    const name = Buffer.from(e.name + '\0');
    const data = e.data ?? Buffer.alloc(0);
    const fields = [
      ino++,
      e.mode,
      0, // uid
      0, // gid
      (e.mode & S_IFDIR) === S_IFDIR ? 2 : 1, // nlink
      0, // mtime
      data.length,
      0, // devmajor
      0, // devminor
      e.rdev?.[0] ?? 0,
      e.rdev?.[1] ?? 0,
      name.length,
      0, // check
    ];
    const header = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
    parts.push(Buffer.from(header, 'ascii'), name, Buffer.alloc(pad4(110 + name.length)));
    parts.push(data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) push(e);
  push({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(parts);
}

/** The modules to load, dependencies first, as paths relative to modulesDir. */
export function moduleLoadOrder(modulesDir: string, wanted: string[]): string[] {
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon);
    deps.set(path, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
    const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\.\w+)?$/, '');
    byName.set(base.replace(/-/g, '_'), path);
  }
  const builtin = new Set(
    readFileSync(join(modulesDir, 'modules.builtin'), 'utf8')
      .split('\n')
      .map((p) => p.slice(p.lastIndexOf('/') + 1).replace(/\.ko$/, '').replace(/-/g, '_')),
  );
  const order: string[] = [];
  const visit = (path: string): void => {
    if (order.includes(path)) return;
    // modules.dep lists the full transitive closure in load order, last loaded last.
    for (const d of [...(deps.get(path) ?? [])].reverse()) if (!order.includes(d)) order.push(d);
    order.push(path);
  };
  for (const w of wanted) {
    const path = byName.get(w.replace(/-/g, '_'));
    if (path) visit(path);
    else if (!builtin.has(w.replace(/-/g, '_'))) throw new VmSetupError(`guest kernel has no module ${w} (${modulesDir})`);
  }
  return order;
}

function readModule(path: string): Buffer {
  const raw = readFileSync(path);
  if (path.endsWith('.ko')) return raw;
  if (path.endsWith('.ko.gz')) return gunzipSync(raw);
  const tool = path.endsWith('.ko.xz') ? 'xz' : path.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (!tool) throw new VmSetupError(`module ${path}: unknown compression`);
  const r = spawnSync(tool, ['-dc'], { input: raw, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new VmSetupError(`${tool} -dc ${path} failed${r.error ? `: ${r.error.message}` : ''} (apt-get install ${tool === 'xz' ? 'xz-utils' : 'zstd'})`);
  return r.stdout;
}

/** True when the ELF file has no program interpreter (statically linked). */
function isStaticElf(buf: Buffer): boolean {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2) return false; // ELF64 only
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (buf.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  return true;
}

export function buildInitramfs(out: string, opts: { busybox: string; modulesDir: string; initScript: string }): void {
  const busybox = readFileSync(opts.busybox);
  if (!isStaticElf(busybox))
    throw new VmSetupError(`${opts.busybox} is not a static busybox (the initramfs has no libc): apt-get install busybox-static`);
  const order = moduleLoadOrder(opts.modulesDir, STAGE1_MODULES);
  const entries: Entry[] = [
    { name: 'bin', mode: S_IFDIR | 0o755 },
    { name: 'dev', mode: S_IFDIR | 0o755 },
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] },
    { name: 'dev/null', mode: S_IFCHR | 0o666, rdev: [1, 3] },
    { name: 'proc', mode: S_IFDIR | 0o755 },
    { name: 'sys', mode: S_IFDIR | 0o755 },
    { name: 'mnt', mode: S_IFDIR | 0o755 },
    { name: 'modules', mode: S_IFDIR | 0o755 },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { name: 'init', mode: S_IFREG | 0o755, data: readFileSync(opts.initScript) },
  ];
  const names: string[] = [];
  for (const rel of order) {
    // Stage 1's busybox insmod wants a plain .ko: decompress here (newer Debian kernels ship .ko.xz).
    const name = rel.slice(rel.lastIndexOf('/') + 1).replace(/\.ko\.\w+$/, '.ko');
    names.push(name);
    entries.push({ name: `modules/${name}`, mode: S_IFREG | 0o644, data: readModule(join(opts.modulesDir, rel)) });
  }
  entries.push({ name: 'modules.list', mode: S_IFREG | 0o644, data: Buffer.from(names.join('\n') + '\n') });
  writeFileSync(out, cpioNewc(entries));
}
