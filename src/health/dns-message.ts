// The small part of the DNS wire format (RFC 1035 section 4) a health check needs: encode one
// query, decode a reply. The decoder never throws on bad bytes; it returns the reason.

export const DNS_TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33 } as const;
export type DnsTypeName = keyof typeof DNS_TYPES;

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
const CLASS_IN = 1;
const HEADER = 12;
const MAX_NAME = 255;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord extends DnsQuestion {
  ttl: number;
  data: Uint8Array;
  /** Offset of data in the message, for decoding compressed names inside it. */
  dataOffset: number;
}

export interface DnsMessage {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export function typeCode(type: DnsTypeName | number): number {
  const code = typeof type === 'number' ? type : DNS_TYPES[type];
  if (!Number.isInteger(code) || code < 1 || code > 0xffff) throw new RangeError(`bad DNS type ${String(type)}`);
  return code;
}

export function typeName(code: number): string {
  return (Object.keys(DNS_TYPES) as DnsTypeName[]).find((k) => DNS_TYPES[k] === code) ?? `TYPE${code}`;
}

export function rcodeName(code: number): string {
  return RCODES[code] ?? `RCODE${code}`;
}

/** "example.test", "example.test." and "." / "" (the root). Throws RangeError on a bad name. */
export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const parts: Buffer[] = [];
  if (trimmed !== '') {
    for (const label of trimmed.split('.')) {
      const bytes = Buffer.from(label, 'utf8');
      if (bytes.length === 0 || bytes.length > 63) throw new RangeError(`bad DNS name ${JSON.stringify(name)}: labels are 1-63 bytes`);
      parts.push(Buffer.from([bytes.length]), bytes);
    }
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > MAX_NAME) throw new RangeError(`bad DNS name ${JSON.stringify(name)}: longer than ${MAX_NAME} bytes`);
  return out;
}

export interface QueryOptions {
  id: number;
  name: string;
  type: number;
  /** RD flag; default true, as keepalived's DNS_CHECK sends. */
  recursionDesired?: boolean;
}

export function encodeQuery(q: QueryOptions): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt16BE(q.id & 0xffff, 0);
  header.writeUInt16BE((q.recursionDesired ?? true) ? 0x0100 : 0, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(q.type, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, encodeName(q.name), tail]);
}

class Malformed extends Error {}

/** Reads a possibly compressed name at `offset`; returns it and the offset just past it. */
export function decodeName(msg: Uint8Array, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let length = 1;
  // Pointers must go strictly backwards, which rules out loops.
  let limit = offset;
  for (;;) {
    const len = msg[pos];
    if (len === undefined) throw new Malformed('name runs past the end');
    if ((len & 0xc0) === 0xc0) {
      const low = msg[pos + 1];
      if (low === undefined) throw new Malformed('name pointer runs past the end');
      const target = ((len & 0x3f) << 8) | low;
      if (target >= limit) throw new Malformed('name pointer does not point backwards');
      if (next < 0) next = pos + 2;
      pos = limit = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new Malformed(`reserved label type 0x${len.toString(16)}`);
    if (len === 0) break;
    if (pos + 1 + len > msg.length) throw new Malformed('label runs past the end');
    length += len + 1;
    if (length > MAX_NAME) throw new Malformed('name longer than 255 bytes');
    labels.push(Buffer.from(msg.subarray(pos + 1, pos + 1 + len)).toString('latin1').replace(/[^\x21-\x7e]|[.\\]/g,
      (c) => (c === '.' || c === '\\' ? `\\${c}` : `\\${c.charCodeAt(0).toString().padStart(3, '0')}`)));
    pos += 1 + len;
  }
  return { name: labels.length === 0 ? '.' : labels.join('.'), next: next < 0 ? pos + 1 : next };
}

function u16(msg: Uint8Array, at: number): number {
  const hi = msg[at];
  const lo = msg[at + 1];
  if (hi === undefined || lo === undefined) throw new Malformed('truncated');
  return (hi << 8) | lo;
}

export function decodeMessage(msg: Uint8Array): { ok: true; message: DnsMessage } | { ok: false; error: string } {
  try {
    if (msg.length < HEADER) throw new Malformed(`${msg.length} bytes, shorter than a header`);
    const flags = u16(msg, 2);
    const counts = [u16(msg, 4), u16(msg, 6), u16(msg, 8), u16(msg, 10)];
    let pos = HEADER;
    const questions: DnsQuestion[] = [];
    for (let i = 0; i < (counts[0] ?? 0); i++) {
      const { name, next } = decodeName(msg, pos);
      questions.push({ name, type: u16(msg, next), class: u16(msg, next + 2) });
      pos = next + 4;
    }
    const sections: DnsRecord[][] = [[], [], []];
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < (counts[s + 1] ?? 0); i++) {
        const { name, next } = decodeName(msg, pos);
        const rdlength = u16(msg, next + 8);
        const dataOffset = next + 10;
        if (dataOffset + rdlength > msg.length) throw new Malformed('record data runs past the end');
        sections[s]?.push({
          name,
          type: u16(msg, next),
          class: u16(msg, next + 2),
          ttl: u16(msg, next + 4) * 65536 + u16(msg, next + 6),
          data: msg.subarray(dataOffset, dataOffset + rdlength),
          dataOffset,
        });
        pos = dataOffset + rdlength;
      }
    }
    return {
      ok: true,
      message: {
        id: u16(msg, 0),
        qr: (flags & 0x8000) !== 0,
        opcode: (flags >> 11) & 0xf,
        aa: (flags & 0x0400) !== 0,
        tc: (flags & 0x0200) !== 0,
        rd: (flags & 0x0100) !== 0,
        ra: (flags & 0x0080) !== 0,
        rcode: flags & 0xf,
        questions,
        answers: sections[0] ?? [],
        authorities: sections[1] ?? [],
        additionals: sections[2] ?? [],
      },
    };
  } catch (e) {
    if (e instanceof Malformed) return { ok: false, error: e.message };
    throw e;
  }
}

/** "A 192.0.2.1", "AAAA 2001:db8::1", "CNAME www.example.test", "MX (12 bytes)". */
export function formatRecord(r: DnsRecord, msg: Uint8Array): string {
  const t = typeName(r.type);
  if (r.type === DNS_TYPES.A && r.data.length === 4) return `A ${r.data.join('.')}`;
  if (r.type === DNS_TYPES.AAAA && r.data.length === 16) return `AAAA ${formatIPv6(r.data)}`;
  if (r.type === DNS_TYPES.CNAME || r.type === DNS_TYPES.NS || r.type === DNS_TYPES.PTR) {
    try {
      return `${t} ${decodeName(msg, r.dataOffset).name}`;
    } catch {
      return `${t} (malformed)`;
    }
  }
  return `${t} (${r.data.length} bytes)`;
}

/** RFC 5952 text of 16 address bytes: the longest run of two or more zero groups becomes "::". */
export function formatIPv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
