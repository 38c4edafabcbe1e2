import { bigIntToIPv6 } from './ipv6-subnet.js';

/**
 * The little of RFC 1035 the embedded DNS server needs: read a query's header and its one question, and
 * write an answer with A, AAAA or PTR records (names in answers point back at the question).
 */

export const RR = { A: 1, PTR: 12, AAAA: 28 } as const;
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface DnsQuery {
  id: number;
  /** Opcode (0 = a standard query). */
  opcode: number;
  recursionDesired: boolean;
  /** Lower-case, without the trailing dot. */
  name: string;
  type: number;
  klass: number;
  /** The question's bytes as sent (header excluded), echoed in the answer. */
  question: Buffer;
}

/** Parses a query; undefined when it is not one (a response, no question, a malformed name). */
export function parseQuery(packet: Buffer): DnsQuery | undefined {
  if (packet.length < 12) return undefined;
  const flags = packet.readUInt16BE(2);
  if (flags & 0x8000) return undefined;
  if (packet.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= packet.length) return undefined;
    const length = packet[at]!;
    // Compression pointers have no place in a question of one name.
    if (length & 0xc0) return undefined;
    at += 1;
    if (length === 0) break;
    if (at + length > packet.length) return undefined;
    labels.push(packet.subarray(at, at + length).toString('latin1'));
    at += length;
  }
  if (at + 4 > packet.length) return undefined;
  return {
    id: packet.readUInt16BE(0),
    opcode: (flags >> 11) & 0xf,
    recursionDesired: Boolean(flags & 0x0100),
    name: labels.join('.').toLowerCase(),
    type: packet.readUInt16BE(at),
    klass: packet.readUInt16BE(at + 2),
    question: packet.subarray(12, at + 4),
  };
}

/** The query's id, even when the rest cannot be read (for a FORMERR answer). */
export function queryId(packet: Buffer): number | undefined {
  return packet.length >= 2 ? packet.readUInt16BE(0) : undefined;
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean).map((label) => {
    const bytes = Buffer.from(label, 'latin1');
    return Buffer.concat([Buffer.from([Math.min(bytes.length, 63)]), bytes.subarray(0, 63)]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

export interface Answer {
  type: number;
  ttl: number;
  /** An IPv4 address (A), an IPv6 address (AAAA) or a name (PTR). */
  data: string;
}

function rdata(answer: Answer): Buffer {
  if (answer.type === RR.A) return Buffer.from(answer.data.split('.').map(Number));
  if (answer.type === RR.AAAA) {
    const [head, tail = ''] = answer.data.split('::') as [string, string?];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = answer.data.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
    return out;
  }
  return encodeName(answer.data);
}

/**
 * An answer to `query`: authoritative for the engine's own names (`authoritative`), with recursion
 * available; answers carry their owner name as a pointer to the question (offset 12).
 */
export function buildResponse(query: DnsQuery, rcode: number, answers: Answer[] = [], authoritative = true): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.id, 0);
  const flags = 0x8000 | (query.opcode << 11) | (authoritative ? 0x0400 : 0) | (query.recursionDesired ? 0x0100 : 0) | 0x0080 | (rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const records = answers.map((answer) => {
    const data = rdata(answer);
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0);
    fixed.writeUInt16BE(answer.type, 2);
    fixed.writeUInt16BE(1, 4);
    fixed.writeUInt32BE(answer.ttl, 6);
    fixed.writeUInt16BE(data.length, 10);
    return Buffer.concat([fixed, data]);
  });
  return Buffer.concat([header, query.question, ...records]);
}

/** A bare error answer for a packet that could not be parsed as a query (id kept, no question). */
export function errorResponse(id: number, rcode: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8000 | 0x0080 | (rcode & 0xf), 2);
  return header;
}

/** `2.0.0.0.(...).1.0.0.0.0.0.d.f.ip6.arpa` (32 nibbles) → `fd00:1::2`; undefined for other names. */
export function reverseIPv6(name: string): string | undefined {
  const m = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(name.toLowerCase());
  return m ? bigIntToIPv6(BigInt(`0x${m[1]!.split('.').filter(Boolean).reverse().join('')}`)) : undefined;
}

/** `4.3.2.1.in-addr.arpa` → `1.2.3.4`; undefined for other names. */
export function reverseIPv4(name: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/.exec(name);
  return m ? [m[4], m[3], m[2], m[1]].join('.') : undefined;
}
