// Builds tar archives byte by byte for the scanner tests: ustar, GNU and pax shapes, including hostile ones that
// tar writers refuse to produce.

export interface EntrySpec {
  name: string;
  type?: string; // typeflag character, default '0'
  data?: Uint8Array | string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  /** Header size field when it should differ from the data length. */
  size?: number;
  /** 'ustar' (default), 'gnu' or 'v7' magic. */
  format?: 'ustar' | 'gnu' | 'v7';
  /** Put the name in prefix/name (ustar) when it is long enough. */
  prefix?: string;
  /** pax records to put in an 'x' header before the entry. */
  pax?: Record<string, string | Uint8Array>;
  /** GNU 'L' / 'K' headers before the entry. */
  longName?: string | Uint8Array;
  longLink?: string | Uint8Array;
  /** Write the size as GNU base-256. */
  base256Size?: boolean;
  /** Break the header checksum. */
  badChecksum?: boolean;
}

const enc = new TextEncoder();
const bytesOf = (v: string | Uint8Array): Uint8Array => (typeof v === 'string' ? enc.encode(v) : v);

function octal(h: Uint8Array, off: number, len: number, value: number): void {
  const s = value.toString(8).padStart(len - 1, '0');
  h.set(enc.encode(s.slice(-(len - 1))), off);
  h[off + len - 1] = 0;
}

export function header(spec: { name: Uint8Array; type: string; size: number; linkname?: Uint8Array; mode?: number; uid?: number; gid?: number; mtime?: number; format?: string; prefix?: Uint8Array; base256Size?: boolean; badChecksum?: boolean }): Uint8Array {
  const h = new Uint8Array(512);
  h.set(spec.name.subarray(0, 100), 0);
  octal(h, 100, 8, spec.mode ?? 0o644);
  octal(h, 108, 8, spec.uid ?? 0);
  octal(h, 116, 8, spec.gid ?? 0);
  if (spec.base256Size) {
    h[124] = 0x80;
    let v = BigInt(spec.size);
    for (let i = 135; i > 124; i--) { h[i] = Number(v & 0xffn); v >>= 8n; }
  } else octal(h, 124, 12, spec.size);
  octal(h, 136, 12, spec.mtime ?? 1700000000);
  h[156] = spec.type.charCodeAt(0);
  if (spec.linkname) h.set(spec.linkname.subarray(0, 100), 157);
  if (spec.format === 'gnu') h.set(enc.encode('ustar  \0'), 257);
  else if (spec.format !== 'v7') { h.set(enc.encode('ustar\0'), 257); h.set(enc.encode('00'), 263); }
  if (spec.prefix) h.set(spec.prefix.subarray(0, 155), 345);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (spec.badChecksum) sum += 1;
  octal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

const padded = (data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
};

export function paxData(records: Record<string, string | Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [key, value] of Object.entries(records)) {
    const body = Buffer.concat([enc.encode(` ${key}=`), bytesOf(value), enc.encode('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len++;
    parts.push(Buffer.concat([enc.encode(String(len)), body]));
  }
  return Buffer.concat(parts);
}

export function entry(spec: EntrySpec): Uint8Array {
  const blocks: Uint8Array[] = [];
  const ext = (type: string, data: Uint8Array) => {
    blocks.push(header({ name: enc.encode('././@LongLink'), type, size: data.length, format: 'gnu' }), padded(data));
  };
  if (spec.longName !== undefined) ext('L', Buffer.concat([bytesOf(spec.longName), new Uint8Array(1)]));
  if (spec.longLink !== undefined) ext('K', Buffer.concat([bytesOf(spec.longLink), new Uint8Array(1)]));
  if (spec.pax) {
    const data = paxData(spec.pax);
    blocks.push(header({ name: enc.encode('PaxHeader'), type: 'x', size: data.length }), padded(data));
  }
  const data = bytesOf(spec.data ?? '');
  blocks.push(header({
    name: enc.encode(spec.name), type: spec.type ?? '0', size: spec.size ?? data.length,
    linkname: spec.linkname === undefined ? undefined : enc.encode(spec.linkname),
    mode: spec.mode, uid: spec.uid, gid: spec.gid, mtime: spec.mtime, format: spec.format,
    prefix: spec.prefix === undefined ? undefined : enc.encode(spec.prefix),
    base256Size: spec.base256Size, badChecksum: spec.badChecksum,
  }));
  blocks.push(padded(data));
  return Buffer.concat(blocks);
}

export function archive(entries: EntrySpec[], { end = true } = {}): Buffer {
  return Buffer.concat([...entries.map(entry), end ? new Uint8Array(1024) : new Uint8Array(0)]);
}
