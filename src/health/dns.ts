// DNS probe (keepalived's DNS_CHECK): one query over UDP to the server, a success when the
// reply has RCODE NOERROR and, unless requireAnswer is false, at least one answer record.
// keepalived accepts NOERROR alone; an empty answer (NODATA) usually means a zone that lost its
// data, so it fails here by default. Replies with another ID or without the QR bit are ignored
// and the wait goes on, as in keepalived. Defaults follow keepalived: type SOA, name "." .
import { isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import type { Probe } from './checker.ts';
import { formatAddress } from './detail.ts';
import { decodeMessage, encodeName, encodeQuery, formatRecord, rcodeName, typeCode, typeName } from './dns-message.ts';
import type { DnsTypeName } from './dns-message.ts';
import { udpExchange } from './udp.ts';

export interface DnsProbeOptions {
  /** The DNS server: an IP address. */
  host: string;
  /** Default 53. */
  port?: number;
  /** Default "." (keepalived's default). */
  name?: string;
  /** Query type; default SOA (keepalived's default). */
  recordType?: DnsTypeName | number;
  /** Default true: NOERROR with no answer records fails. */
  requireAnswer?: boolean;
  /** RD flag; default true. */
  recursionDesired?: boolean;
  /** Source address to send from. */
  bindAddress?: string;
}

const SHOWN_ANSWERS = 3;

export function dnsProbe(options: DnsProbeOptions): Probe {
  const port = options.port ?? 53;
  const name = options.name ?? '.';
  const type = typeCode(options.recordType ?? 'SOA');
  encodeName(name); // refuse a bad name now, not at every run
  if (isIP(options.host) === 0) throw new RangeError(`DNS server must be an IP address, got ${JSON.stringify(options.host)}`);
  const target = formatAddress(options.host, port);
  const question = `${name} ${typeName(type)}`;
  const requireAnswer = options.requireAnswer ?? true;

  return ({ signal, stage }) => {
    const id = randomInt(0, 0x10000);
    const query = encodeQuery({ id, name, type, recursionDesired: options.recursionDesired ?? true });
    return udpExchange({
      address: options.host, port, payload: query, bindAddress: options.bindAddress, signal, target,
      onSent: () => stage(`waiting for ${target} to answer ${question}`),
      onReply: (bytes) => {
        const decoded = decodeMessage(bytes);
        if (!decoded.ok) return { ok: false, detail: `malformed reply from ${target}: ${decoded.error}` };
        const m = decoded.message;
        if (m.id !== id || !m.qr) return undefined; // not the answer to this query: keep waiting
        if (m.rcode !== 0) return { ok: false, detail: `${rcodeName(m.rcode)} for ${question}` };
        if (m.answers.length === 0) {
          const why = `NOERROR but no answers for ${question}${m.tc ? ' (truncated)' : ''}`;
          return requireAnswer ? { ok: false, detail: why } : { ok: true, detail: why };
        }
        const shown = m.answers.slice(0, SHOWN_ANSWERS).map((r) => formatRecord(r, bytes));
        if (m.answers.length > SHOWN_ANSWERS) shown.push('...');
        const n = m.answers.length;
        return { ok: true, detail: `NOERROR, ${n} answer${n === 1 ? '' : 's'} for ${question}: ${shown.join(', ')}` };
      },
    });
  };
}
