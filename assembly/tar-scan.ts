// Tar header scanner: walks decompressed tar bytes, validates every header and emits one fixed-size record per
// entry (names normalised into an arena, payload offsets, no payload copied). src/wasm/tar-scan-js.ts is its
// twin and must stay byte-for-byte equivalent: same records, same rejections (error code and header offset).

// Error codes (negative return values); src/wasm/tar-format.ts holds their messages.
const E_CHECKSUM: i32 = -1;
const E_NUMBER: i32 = -2;
const E_NEGATIVE: i32 = -3;
const E_OVERFLOW: i32 = -4;
const E_TYPE: i32 = -5;
const E_TRUNCATED: i32 = -6;
const E_PAX: i32 = -7;
const E_NUL: i32 = -8;
const E_TRAVERSAL: i32 = -9;
const E_LINK: i32 = -10;
const E_NAME: i32 = -11;
const E_EXTENSION: i32 = -12;

export const TAR_RECORD_BYTES: usize = 96;
const MAX_SAFE: u64 = 9007199254740991; // 2^53 - 1: sizes and ids stay exact as JS numbers
const MAX_EXT_DATA: u64 = 262144; // one pax / GNU long-name header's data
const MAX_EXT_HEADERS: i32 = 4; // extension headers before one entry
const MAX_NAME: u32 = 4095;

let skip: u64 = 0; // payload bytes of the last entry still to pass over
let skipHeader: f64 = 0; // that entry's header offset (for the error when the archive ends inside it)
let ended: bool = false;
let consumed: usize = 0;
let errorOffset: f64 = 0;
let errorUnit: f64 = 0; // first header of the entry the error belongs to
let arenaUsed: usize = 0;
let numError: i32 = 0;

export function tarScanReset(): void {
  skip = 0;
  ended = false;
}
/** Restores one stream's state: several streams share this instance, each scan call belongs to one of them. */
export function tarScanSetState(skipBytes: f64, isEnded: bool, skipHeaderOffset: f64): void {
  skip = <u64>skipBytes;
  ended = isEnded;
  skipHeader = skipHeaderOffset;
}
export function tarScanSkip(): f64 { return <f64>skip; }
export function tarScanSetSkip(n: f64): void { skip = <u64>n; }
export function tarScanEnded(): bool { return ended; }
export function tarScanSkipHeader(): f64 { return skipHeader; }
export function tarScanConsumed(): usize { return consumed; }
export function tarScanErrorOffset(): f64 { return errorOffset; }
export function tarScanErrorUnit(): f64 { return errorUnit; }
export function tarScanArenaUsed(): usize { return arenaUsed; }

@inline function pad512(n: u64): u64 { return (n + 511) & ~(<u64>511); }

/** A numeric header field: octal digits (leading spaces, trailing spaces/NULs) or GNU base-256. Sets numError. */
function parseNumeric(p: usize, len: usize): u64 {
  const first = load<u8>(p);
  if (first & 0x80) {
    if (first & 0x40) { if (numError == 0) numError = E_NEGATIVE; return 0; }
    let v: u64 = <u64>(first & 0x3f);
    for (let i: usize = 1; i < len; i++) {
      v = (v << 8) | <u64>load<u8>(p + i);
      if (v > MAX_SAFE) { if (numError == 0) numError = E_OVERFLOW; return 0; }
    }
    return v;
  }
  let i: usize = 0;
  while (i < len && load<u8>(p + i) == 0x20) i++;
  let v: u64 = 0;
  while (i < len) {
    const c = load<u8>(p + i);
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + <u64>(c - 0x30);
    if (v > MAX_SAFE) { if (numError == 0) numError = E_OVERFLOW; return 0; }
    i++;
  }
  while (i < len) {
    const c = load<u8>(p + i);
    if (c != 0x20 && c != 0) { if (numError == 0) numError = E_NUMBER; return 0; }
    i++;
  }
  return v;
}

/** Decimal digits only, at least one, at most MAX_SAFE. Sets numError (as E_PAX / E_OVERFLOW). */
function parseDecimal(p: usize, end: usize): u64 {
  if (p >= end) { if (numError == 0) numError = E_PAX; return 0; }
  let v: u64 = 0;
  for (let q = p; q < end; q++) {
    const c = load<u8>(q);
    if (c < 0x30 || c > 0x39) { if (numError == 0) numError = E_PAX; return 0; }
    v = v * 10 + <u64>(c - 0x30);
    if (v > MAX_SAFE) { if (numError == 0) numError = E_OVERFLOW; return 0; }
  }
  return v;
}

@inline function cstrLen(p: usize, max: usize): usize {
  let n: usize = 0;
  while (n < max && load<u8>(p + n) != 0) n++;
  return n;
}

function bytesEqual(p: usize, len: usize, lit: string): bool {
  if (<usize>lit.length != len) return false;
  for (let i: usize = 0; i < len; i++) if (<u32>load<u8>(p + i) != <u32>lit.charCodeAt(<i32>i)) return false;
  return true;
}

/**
 * Normalises the path at [a, a+len) in place: '' and '.' components vanish, '..' pops one (error when none is
 * left), leading slashes go. Returns the new length, or a negative error code.
 */
function normalizeInPlace(a: usize, len: usize, escapeError: i32): i32 {
  let w = a;
  let s = a;
  const end = a + len;
  while (s <= end) {
    let e = s;
    while (e < end && load<u8>(e) != 0x2f) e++;
    const clen = e - s;
    if (clen == 0 || (clen == 1 && load<u8>(s) == 0x2e)) {
      // nothing
    } else if (clen == 2 && load<u8>(s) == 0x2e && load<u8>(s + 1) == 0x2e) {
      if (w == a) return escapeError;
      while (w > a && load<u8>(w - 1) != 0x2f) w--;
      if (w > a) w--; // the separator before the popped component
    } else {
      if (w > a) { store<u8>(w, 0x2f); w++; }
      memory.copy(w, s, clen);
      w += clen;
    }
    s = e + 1;
  }
  return <i32>(w - a);
}

/** Copies a raw path into the arena; rejects NUL bytes. Returns its arena offset or a negative code. */
function hasNul(p: usize, len: usize): bool {
  for (let i: usize = 0; i < len; i++) if (load<u8>(p + i) == 0) return true;
  return false;
}

/**
 * Scans input[0, len), whose first byte is at stream offset `base`. Returns the number of records written,
 * or a negative error code (tarScanErrorOffset() is then the offending header's stream offset). Stops early,
 * at an entry boundary, when the input ends inside headers (unless `final`) or records/arena are full;
 * tarScanConsumed() says how many input bytes were used.
 */
export function tarScan(input: usize, len: usize, base: f64, final: bool, records: usize, recordCap: usize, arena: usize, arenaCap: usize): i32 {
  let pos: usize = 0;
  let count: usize = 0;
  let arenaPos: usize = 0;
  consumed = 0;
  arenaUsed = 0;
  if (ended) { consumed = len; return 0; }
  if (skip > 0) {
    const take: u64 = skip < <u64>len ? skip : <u64>len;
    pos = <usize>take;
    skip -= take;
    if (skip > 0) {
      consumed = pos;
      if (final) { errorOffset = skipHeader; return E_TRUNCATED; }
      return 0;
    }
  }
  for (;;) {
    const unitStart = pos;
    const arenaMark = arenaPos;
    errorUnit = base + <f64>unitStart;
    if (count >= recordCap) break;
    // pending extension values for this unit: [start, len) in the input, -1 when absent
    let paxPathP: isize = -1, paxPathL: usize = 0;
    let paxLinkP: isize = -1, paxLinkL: usize = 0;
    let longNameP: isize = -1, longNameL: usize = 0;
    let longLinkP: isize = -1, longLinkL: usize = 0;
    let paxSize: i64 = -1, paxUid: i64 = -1, paxGid: i64 = -1;
    let paxMtime: i64 = 0, paxMtimeNs: u32 = 0, hasPaxMtime = false;
    const xattrStart = arenaPos;
    let xattrCount: u32 = 0;
    let extHeaders: i32 = 0;
    let incomplete = false;
    let arenaFull = false;
    for (;;) {
      errorOffset = base + <f64>pos;
      if (pos + 512 > len) {
        if (!final) { incomplete = true; break; }
        if (pos == len && pos == unitStart) { ended = true; consumed = len; arenaUsed = arenaPos; return <i32>count; }
        return E_TRUNCATED;
      }
      const h = input + pos;
      let zero = true;
      for (let i: usize = 0; i < 512; i += 8) if (load<u64>(h + i) != 0) { zero = false; break; }
      if (zero) {
        if (pos != unitStart) return E_EXTENSION;
        ended = true;
        consumed = len;
        arenaUsed = arenaPos;
        return <i32>count;
      }
      numError = 0;
      const stored = parseNumeric(h + 148, 8);
      if (numError != 0) return E_CHECKSUM;
      let usum: u32 = 0;
      let ssum: i32 = 0;
      for (let i: usize = 0; i < 512; i++) {
        const b = (i >= 148 && i < 156) ? <u8>0x20 : load<u8>(h + i);
        usum += <u32>b;
        ssum += <i32><i8>b;
      }
      if (<u64>usum != stored && <i64>ssum != <i64>stored) return E_CHECKSUM;
      const type = load<u8>(h + 156);
      const size = parseNumeric(h + 124, 12);
      if (numError != 0) return numError;
      if (type == 0x78 || type == 0x67 || type == 0x4c || type == 0x4b) { // 'x' 'g' 'L' 'K'
        extHeaders++;
        if (extHeaders > MAX_EXT_HEADERS || size > MAX_EXT_DATA) return E_EXTENSION;
        const dataP = pos + 512;
        if (<u64>dataP + pad512(size) > <u64>len) {
          if (!final) { incomplete = true; break; }
          return E_TRUNCATED;
        }
        const d = input + dataP;
        const dEnd = d + <usize>size;
        if (type == 0x4c || type == 0x4b) {
          let n = <usize>size;
          while (n > 0 && load<u8>(d + n - 1) == 0) n--;
          if (hasNul(d, n)) return E_NUL;
          if (type == 0x4c) { longNameP = <isize>d; longNameL = n; } else { longLinkP = <isize>d; longLinkL = n; }
        } else {
          let r = d;
          while (r < dEnd) {
            let q = r;
            let rlen: u64 = 0;
            while (q < dEnd && load<u8>(q) >= 0x30 && load<u8>(q) <= 0x39) {
              rlen = rlen * 10 + <u64>(load<u8>(q) - 0x30);
              if (rlen > MAX_EXT_DATA) return E_PAX;
              q++;
            }
            if (q == r || q >= dEnd || load<u8>(q) != 0x20) return E_PAX;
            const recEnd = r + <usize>rlen;
            if (recEnd > dEnd || recEnd <= q + 1 || load<u8>(recEnd - 1) != 0x0a) return E_PAX;
            const k = q + 1;
            let eq = k;
            while (eq < recEnd - 1 && load<u8>(eq) != 0x3d) eq++;
            if (eq >= recEnd - 1 || eq == k) return E_PAX;
            const klen = eq - k;
            const v = eq + 1;
            const vlen = recEnd - 1 - v;
            if (type == 0x78) {
              numError = 0;
              if (bytesEqual(k, klen, 'path')) { paxPathP = <isize>v; paxPathL = vlen; }
              else if (bytesEqual(k, klen, 'linkpath')) { paxLinkP = <isize>v; paxLinkL = vlen; }
              else if (bytesEqual(k, klen, 'size')) paxSize = <i64>parseDecimal(v, v + vlen);
              else if (bytesEqual(k, klen, 'uid')) paxUid = <i64>parseDecimal(v, v + vlen);
              else if (bytesEqual(k, klen, 'gid')) paxGid = <i64>parseDecimal(v, v + vlen);
              else if (bytesEqual(k, klen, 'mtime')) {
                let m = v;
                const mEnd = v + vlen;
                let neg = false;
                if (m < mEnd && load<u8>(m) == 0x2d) { neg = true; m++; }
                let dot = m;
                while (dot < mEnd && load<u8>(dot) != 0x2e) dot++;
                const secs = parseDecimal(m, dot);
                let ns: u32 = 0;
                if (numError == 0 && dot < mEnd) {
                  let f = dot + 1;
                  if (f == mEnd && numError == 0) numError = E_PAX;
                  let digits: u32 = 0;
                  for (; f < mEnd; f++) {
                    const c = load<u8>(f);
                    if (c < 0x30 || c > 0x39) { if (numError == 0) numError = E_PAX; break; }
                    if (digits < 9) { ns = ns * 10 + <u32>(c - 0x30); digits++; }
                  }
                  for (; digits < 9; digits++) ns *= 10;
                }
                paxMtime = neg ? -<i64>secs : <i64>secs;
                paxMtimeNs = ns;
                hasPaxMtime = true;
              } else if (klen > 13 && bytesEqual(k, 13, 'SCHILY.xattr.')) {
                const nameLen = klen - 13;
                const need: usize = 8 + nameLen + vlen;
                if (arenaPos + need > arenaCap) { incomplete = true; arenaFull = true; break; }
                store<u32>(arena + arenaPos, <u32>nameLen);
                memory.copy(arena + arenaPos + 4, k + 13, nameLen);
                store<u32>(arena + arenaPos + 4 + nameLen, <u32>vlen);
                memory.copy(arena + arenaPos + 8 + nameLen, v, vlen);
                arenaPos += need;
                xattrCount++;
              }
              if (numError != 0) return numError;
            }
            r = recEnd;
          }
          if (incomplete) break;
        }
        pos = dataP + <usize>pad512(size);
        continue;
      }
      // the entry's own header
      const isFile = type == 0x30 || type == 0 || type == 0x37;
      if (!isFile && (type < 0x31 || type > 0x36)) return E_TYPE;
      const mode = parseNumeric(h + 100, 8);
      const uid = parseNumeric(h + 108, 8);
      const gid = parseNumeric(h + 116, 8);
      const mtime = parseNumeric(h + 136, 12);
      if (numError != 0) return numError;
      const posix = bytesEqual(h + 257, 6, 'ustar\0');
      const gnu = bytesEqual(h + 257, 8, 'ustar  \0');
      let devMajor: u64 = 0, devMinor: u64 = 0;
      if (posix || gnu) {
        devMajor = parseNumeric(h + 329, 8);
        devMinor = parseNumeric(h + 337, 8);
        if (numError != 0) return numError;
        if (devMajor > 0xffffffff || devMinor > 0xffffffff) return E_OVERFLOW;
      }
      // the name: pax path, else GNU long name, else [prefix/]name
      const nameAt = arenaPos;
      let rawLen: usize;
      if (paxPathP >= 0) rawLen = paxPathL;
      else if (longNameP >= 0) rawLen = longNameL;
      else {
        const nl = cstrLen(h, 100);
        const pl = posix ? cstrLen(h + 345, 155) : 0;
        rawLen = pl > 0 ? pl + 1 + nl : nl;
      }
      if (arenaPos + rawLen > arenaCap) { incomplete = true; arenaFull = true; break; }
      if (paxPathP >= 0) memory.copy(arena + nameAt, <usize>paxPathP, rawLen);
      else if (longNameP >= 0) memory.copy(arena + nameAt, <usize>longNameP, rawLen);
      else {
        const nl = cstrLen(h, 100);
        const pl = posix ? cstrLen(h + 345, 155) : 0;
        if (pl > 0) {
          memory.copy(arena + nameAt, h + 345, pl);
          store<u8>(arena + nameAt + pl, 0x2f);
          memory.copy(arena + nameAt + pl + 1, h, nl);
        } else memory.copy(arena + nameAt, h, nl);
      }
      if (hasNul(arena + nameAt, rawLen)) return E_NUL;
      const nameLen = normalizeInPlace(arena + nameAt, rawLen, E_TRAVERSAL);
      if (nameLen < 0) return nameLen;
      if ((nameLen == 0 && type != 0x35) || <u32>nameLen > MAX_NAME) return E_NAME;
      arenaPos += <usize>nameLen;
      // the link target (hard and symbolic links only)
      const linkAt = arenaPos;
      let linkLen: i32 = 0;
      if (type == 0x31 || type == 0x32) {
        let lp: usize, ll: usize;
        if (paxLinkP >= 0) { lp = <usize>paxLinkP; ll = paxLinkL; }
        else if (longLinkP >= 0) { lp = <usize>longLinkP; ll = longLinkL; }
        else { lp = h + 157; ll = cstrLen(h + 157, 100); }
        if (arenaPos + ll > arenaCap) { incomplete = true; arenaFull = true; break; }
        if (hasNul(lp, ll)) return E_NUL;
        memory.copy(arena + linkAt, lp, ll);
        // symlink targets are kept verbatim (resolved later inside the container); hard links must name an
        // entry inside the layer
        linkLen = type == 0x31 ? normalizeInPlace(arena + linkAt, ll, E_LINK) : <i32>ll;
        if (linkLen < 0) return linkLen;
        if (linkLen == 0 || <u32>linkLen > MAX_NAME) return E_LINK;
        arenaPos += <usize>linkLen;
      }
      const finalSize: u64 = paxSize >= 0 ? <u64>paxSize : size;
      const rec = records + count * TAR_RECORD_BYTES;
      store<u32>(rec, isFile ? 0x30 : <u32>type);
      store<u32>(rec + 4, <u32>(mode & 0xfff));
      store<f64>(rec + 8, paxUid >= 0 ? <f64>paxUid : <f64>uid);
      store<f64>(rec + 16, paxGid >= 0 ? <f64>paxGid : <f64>gid);
      store<f64>(rec + 24, hasPaxMtime ? <f64>paxMtime : <f64>mtime);
      store<u32>(rec + 32, hasPaxMtime ? paxMtimeNs : 0);
      store<u32>(rec + 36, <u32>devMajor);
      store<f64>(rec + 40, <f64>finalSize);
      store<f64>(rec + 48, base + <f64>(pos + 512));
      store<u32>(rec + 56, <u32>nameAt);
      store<u32>(rec + 60, <u32>nameLen);
      store<u32>(rec + 64, <u32>linkAt);
      store<u32>(rec + 68, <u32>linkLen);
      store<u32>(rec + 72, <u32>xattrStart);
      store<u32>(rec + 76, xattrCount);
      store<u32>(rec + 80, <u32>devMinor);
      store<f64>(rec + 88, base + <f64>unitStart);
      count++;
      pos += 512;
      const payload = pad512(finalSize);
      if (<u64>pos + payload <= <u64>len) pos += <usize>payload;
      else {
        skip = payload - <u64>(len - pos);
        skipHeader = base + <f64>unitStart;
        pos = len;
        if (final) { errorOffset = base + <f64>unitStart; return E_TRUNCATED; }
      }
      break;
    }
    if (incomplete) {
      if (count == 0 && arenaFull) { errorOffset = base + <f64>unitStart; return E_EXTENSION; }
      pos = unitStart;
      arenaPos = arenaMark;
      break;
    }
  }
  consumed = pos;
  arenaUsed = arenaPos;
  return <i32>count;
}
