// Small helpers shared by the probes for the human-readable detail of a result.
import { isIPv6 } from 'node:net';

/** "127.0.0.1:80", "[::1]:80". */
export function formatAddress(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An error as one line: Node's own messages already name the syscall, code and address. */
export function errorDetail(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) {
    // net.connect with autoSelectFamily reports every address it tried.
    return e.errors.map(errorDetail).join('; ');
  }
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    // Node's hint for its own CLI users means nothing to an operator reading a check result.
    if (e.message) return e.message.replace(/; if the root CA is installed locally, try running Node\.js with --use-system-ca$/, '');
    return code ?? e.name;
  }
  return String(e);
}

/** Hex of at most `max` bytes, for showing datagrams in a detail. */
export function hexPreview(bytes: Uint8Array, max = 16): string {
  const hex = Buffer.from(bytes.subarray(0, max)).toString('hex');
  return bytes.length > max ? `${hex}... (${bytes.length} bytes)` : hex;
}
