import { TarScanError, type TarEntryRecord, type TarScanEngine } from './tar-format.js';

/**
 * The tar scanner in TypeScript: the twin of assembly/tar-scan.ts, written to follow it step by step so that
 * both accept and reject exactly the same archives (test/unit/tar-scan.test.ts checks that differentially).
 */
const E_CHECKSUM = 1, E_NUMBER = 2, E_NEGATIVE = 3, E_OVERFLOW = 4, E_TYPE = 5, E_TRUNCATED = 6, E_PAX = 7,
  E_NUL = 8, E_TRAVERSAL = 9, E_LINK = 10, E_NAME = 11, E_EXTENSION = 12;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_EXT_DATA = 262144;
const MAX_EXT_HEADERS = 4;
const MAX_NAME = 4095;
const pad512 = (n: number): number => Math.ceil(n / 512) * 512;

class Fail {
  constructor(readonly code: number, readonly detail?: string) {}
}
const quote = (s: string): string => JSON.stringify(s);

/** Numeric header field (octal or GNU base-256); the first error found wins, as in the kernel. */
function parseNumeric(b: Uint8Array, p: number, len: number, err: { code: number }): number {
  const first = b[p]!;
  if (first & 0x80) {
    if (first & 0x40) { if (!err.code) err.code = E_NEGATIVE; return 0; }
    let v = first & 0x3f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + b[p + i]!;
      if (v > MAX_SAFE) { if (!err.code) err.code = E_OVERFLOW; return 0; }
    }
    return v;
  }
  let i = 0;
  while (i < len && b[p + i] === 0x20) i++;
  let v = 0;
  for (; i < len; i++) {
    const c = b[p + i]!;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    if (v > MAX_SAFE) { if (!err.code) err.code = E_OVERFLOW; return 0; }
  }
  for (; i < len; i++) {
    const c = b[p + i]!;
    if (c !== 0x20 && c !== 0) { if (!err.code) err.code = E_NUMBER; return 0; }
  }
  return v;
}

function parseDecimal(b: Uint8Array, p: number, end: number, err: { code: number }): number {
  if (p >= end) { if (!err.code) err.code = E_PAX; return 0; }
  let v = 0;
  for (let q = p; q < end; q++) {
    const c = b[q]!;
    if (c < 0x30 || c > 0x39) { if (!err.code) err.code = E_PAX; return 0; }
    v = v * 10 + (c - 0x30);
    if (v > MAX_SAFE) { if (!err.code) err.code = E_OVERFLOW; return 0; }
  }
  return v;
}

function cstrLen(b: Uint8Array, p: number, max: number): number {
  let n = 0;
  while (n < max && b[p + n] !== 0) n++;
  return n;
}

function bytesEqual(b: Uint8Array, p: number, len: number, lit: string): boolean {
  if (lit.length !== len) return false;
  for (let i = 0; i < len; i++) if (b[p + i] !== lit.charCodeAt(i)) return false;
  return true;
}

/** Lexical normalisation of a path's bytes, as the kernel's normalizeInPlace. */
function normalize(raw: Uint8Array, escapeError: number, detail: () => string): Uint8Array {
  const out = new Uint8Array(raw.length);
  let w = 0;
  let s = 0;
  const end = raw.length;
  while (s <= end) {
    let e = s;
    while (e < end && raw[e] !== 0x2f) e++;
    const clen = e - s;
    if (clen === 0 || (clen === 1 && raw[s] === 0x2e)) {
      // nothing
    } else if (clen === 2 && raw[s] === 0x2e && raw[s + 1] === 0x2e) {
      if (w === 0) throw new Fail(escapeError, detail());
      while (w > 0 && out[w - 1] !== 0x2f) w--;
      if (w > 0) w--;
    } else {
      if (w > 0) out[w++] = 0x2f;
      out.set(raw.subarray(s, e), w);
      w += clen;
    }
    s = e + 1;
  }
  return out.subarray(0, w);
}

const decode = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
const hasNul = (bytes: Uint8Array): boolean => bytes.includes(0);

export class TarScanJs implements TarScanEngine {
  readonly name = 'typescript';
  private skip = 0;
  private skipHeader = 0;
  private ended = false;

  reset(): void {
    this.skip = 0;
    this.ended = false;
  }

  scan(input: Uint8Array, base: number, final: boolean): { records: TarEntryRecord[]; consumed: number; ended: boolean } {
    const records: TarEntryRecord[] = [];
    const len = input.length;
    let pos = 0;
    if (this.ended) return { records, consumed: len, ended: true };
    if (this.skip > 0) {
      const take = Math.min(this.skip, len);
      pos = take;
      this.skip -= take;
      if (this.skip > 0) {
        if (final) throw new TarScanError(E_TRUNCATED, this.skipHeader);
        return { records, consumed: pos, ended: false };
      }
    }
    let errorOffset = base + pos;
    try {
      for (;;) {
        const unitStart = pos;
        let paxPath: Uint8Array | undefined, paxLink: Uint8Array | undefined;
        let longName: Uint8Array | undefined, longLink: Uint8Array | undefined;
        let paxSize = -1, paxUid = -1, paxGid = -1;
        let paxMtime = 0, paxMtimeNs = 0, hasPaxMtime = false;
        const xattrs: Array<[string, Buffer]> = [];
        let extHeaders = 0;
        let incomplete = false;
        for (;;) {
          errorOffset = base + pos;
          if (pos + 512 > len) {
            if (!final) { incomplete = true; break; }
            if (pos === len && pos === unitStart) { this.ended = true; return { records, consumed: len, ended: true }; }
            throw new Fail(E_TRUNCATED);
          }
          const h = pos;
          let zero = true;
          for (let i = 0; i < 512; i++) if (input[h + i] !== 0) { zero = false; break; }
          if (zero) {
            if (pos !== unitStart) throw new Fail(E_EXTENSION);
            this.ended = true;
            return { records, consumed: len, ended: true };
          }
          const err = { code: 0 };
          const stored = parseNumeric(input, h + 148, 8, err);
          if (err.code) throw new Fail(E_CHECKSUM);
          let usum = 0;
          let ssum = 0;
          for (let i = 0; i < 512; i++) {
            const b = i >= 148 && i < 156 ? 0x20 : input[h + i]!;
            usum += b;
            ssum += b >= 128 ? b - 256 : b;
          }
          if (usum !== stored && ssum !== stored) throw new Fail(E_CHECKSUM);
          const type = input[h + 156]!;
          const size = parseNumeric(input, h + 124, 12, err);
          if (err.code) throw new Fail(err.code);
          if (type === 0x78 || type === 0x67 || type === 0x4c || type === 0x4b) {
            extHeaders++;
            if (extHeaders > MAX_EXT_HEADERS || size > MAX_EXT_DATA) throw new Fail(E_EXTENSION);
            const d = pos + 512;
            if (d + pad512(size) > len) {
              if (!final) { incomplete = true; break; }
              throw new Fail(E_TRUNCATED);
            }
            const dEnd = d + size;
            if (type === 0x4c || type === 0x4b) {
              let n = size;
              while (n > 0 && input[d + n - 1] === 0) n--;
              const value = input.subarray(d, d + n);
              if (hasNul(value)) throw new Fail(E_NUL);
              if (type === 0x4c) longName = value; else longLink = value;
            } else {
              let r = d;
              while (r < dEnd) {
                let q = r;
                let rlen = 0;
                while (q < dEnd && input[q]! >= 0x30 && input[q]! <= 0x39) {
                  rlen = rlen * 10 + (input[q]! - 0x30);
                  if (rlen > MAX_EXT_DATA) throw new Fail(E_PAX);
                  q++;
                }
                if (q === r || q >= dEnd || input[q] !== 0x20) throw new Fail(E_PAX);
                const recEnd = r + rlen;
                if (recEnd > dEnd || recEnd <= q + 1 || input[recEnd - 1] !== 0x0a) throw new Fail(E_PAX);
                const k = q + 1;
                let eq = k;
                while (eq < recEnd - 1 && input[eq] !== 0x3d) eq++;
                if (eq >= recEnd - 1 || eq === k) throw new Fail(E_PAX);
                const klen = eq - k;
                const v = eq + 1;
                const vEnd = recEnd - 1;
                if (type === 0x78) {
                  const perr = { code: 0 };
                  if (bytesEqual(input, k, klen, 'path')) paxPath = input.subarray(v, vEnd);
                  else if (bytesEqual(input, k, klen, 'linkpath')) paxLink = input.subarray(v, vEnd);
                  else if (bytesEqual(input, k, klen, 'size')) paxSize = parseDecimal(input, v, vEnd, perr);
                  else if (bytesEqual(input, k, klen, 'uid')) paxUid = parseDecimal(input, v, vEnd, perr);
                  else if (bytesEqual(input, k, klen, 'gid')) paxGid = parseDecimal(input, v, vEnd, perr);
                  else if (bytesEqual(input, k, klen, 'mtime')) {
                    let m = v;
                    let neg = false;
                    if (m < vEnd && input[m] === 0x2d) { neg = true; m++; }
                    let dot = m;
                    while (dot < vEnd && input[dot] !== 0x2e) dot++;
                    const secs = parseDecimal(input, m, dot, perr);
                    let ns = 0;
                    if (perr.code === 0 && dot < vEnd) {
                      let f = dot + 1;
                      if (f === vEnd && !perr.code) perr.code = E_PAX;
                      let digits = 0;
                      for (; f < vEnd; f++) {
                        const c = input[f]!;
                        if (c < 0x30 || c > 0x39) { if (!perr.code) perr.code = E_PAX; break; }
                        if (digits < 9) { ns = ns * 10 + (c - 0x30); digits++; }
                      }
                      for (; digits < 9; digits++) ns *= 10;
                    }
                    paxMtime = neg ? -secs : secs;
                    paxMtimeNs = ns;
                    hasPaxMtime = true;
                  } else if (klen > 13 && bytesEqual(input, k, 13, 'SCHILY.xattr.')) {
                    xattrs.push([decode(input.subarray(k + 13, eq)), Buffer.from(input.subarray(v, vEnd))]);
                  }
                  if (perr.code) throw new Fail(perr.code);
                }
                r = recEnd;
              }
            }
            pos = d + pad512(size);
            continue;
          }
          const isFile = type === 0x30 || type === 0 || type === 0x37;
          if (!isFile && (type < 0x31 || type > 0x36)) throw new Fail(E_TYPE);
          const mode = parseNumeric(input, h + 100, 8, err);
          const uid = parseNumeric(input, h + 108, 8, err);
          const gid = parseNumeric(input, h + 116, 8, err);
          const mtime = parseNumeric(input, h + 136, 12, err);
          if (err.code) throw new Fail(err.code);
          const posix = bytesEqual(input, h + 257, 6, 'ustar\0');
          const gnu = bytesEqual(input, h + 257, 8, 'ustar  \0');
          let devMajor = 0, devMinor = 0;
          if (posix || gnu) {
            devMajor = parseNumeric(input, h + 329, 8, err);
            devMinor = parseNumeric(input, h + 337, 8, err);
            if (err.code) throw new Fail(err.code);
            if (devMajor > 0xffffffff || devMinor > 0xffffffff) throw new Fail(E_OVERFLOW);
          }
          let raw: Uint8Array;
          if (paxPath) raw = paxPath;
          else if (longName) raw = longName;
          else {
            const nl = cstrLen(input, h, 100);
            const pl = posix ? cstrLen(input, h + 345, 155) : 0;
            if (pl > 0) {
              raw = new Uint8Array(pl + 1 + nl);
              raw.set(input.subarray(h + 345, h + 345 + pl));
              raw[pl] = 0x2f;
              raw.set(input.subarray(h, h + nl), pl + 1);
            } else raw = input.subarray(h, h + nl);
          }
          const rawName = decode(raw);
          if (hasNul(raw)) throw new Fail(E_NUL, `layer entry ${quote(rawName)} contains a NUL byte`);
          const name = normalize(raw, E_TRAVERSAL, () => `layer entry ${quote(rawName)} escapes the target directory`);
          if ((name.length === 0 && type !== 0x35) || name.length > MAX_NAME) throw new Fail(E_NAME, `layer entry ${quote(rawName.slice(0, 200))} has an empty or too long name`);
          let link: Uint8Array = new Uint8Array(0);
          if (type === 0x31 || type === 0x32) {
            const lraw = paxLink ?? longLink ?? input.subarray(h + 157, h + 157 + cstrLen(input, h + 157, 100));
            const what = `layer ${type === 0x31 ? 'hard link' : 'symlink'} ${quote(rawName)}`;
            if (hasNul(lraw)) throw new Fail(E_NUL, `${what} has a target containing a NUL byte`);
            link = type === 0x31 ? normalize(lraw, E_LINK, () => `${what} points to ${quote(decode(lraw))}, which escapes the target directory`) : lraw;
            if (link.length === 0 || link.length > MAX_NAME) throw new Fail(E_LINK, `${what} has an empty or too long target`);
          }
          const finalSize = paxSize >= 0 ? paxSize : size;
          records.push({
            type: String.fromCharCode(isFile ? 0x30 : type),
            name: decode(name),
            linkname: decode(link),
            mode: mode & 0xfff,
            uid: paxUid >= 0 ? paxUid : uid,
            gid: paxGid >= 0 ? paxGid : gid,
            mtime: hasPaxMtime ? paxMtime : mtime,
            mtimeNs: hasPaxMtime ? paxMtimeNs : 0,
            size: finalSize,
            devmajor: devMajor,
            devminor: devMinor,
            offset: base + pos + 512,
            header: base + unitStart,
            xattrs,
          });
          pos += 512;
          const payload = pad512(finalSize);
          if (pos + payload <= len) pos += payload;
          else {
            this.skip = payload - (len - pos);
            this.skipHeader = base + unitStart;
            pos = len;
            if (final) { errorOffset = base + unitStart; throw new Fail(E_TRUNCATED); }
          }
          break;
        }
        if (incomplete) {
          pos = unitStart;
          break;
        }
      }
    } catch (err) {
      if (err instanceof Fail) throw new TarScanError(err.code, errorOffset, err.detail);
      throw err;
    }
    return { records, consumed: pos, ended: false };
  }
}
