// XXH64 (xxHash, 64-bit variant), written from the public specification (doc/xxhash_spec.md in Cyan4973/xxHash).
// Streaming: the state lives in host-chosen memory (STATE_BYTES at statePtr), so several hashes can be open at once.

const P1: u64 = 0x9E3779B185EBCA87;
const P2: u64 = 0xC2B2AE3D27D4EB4F;
const P3: u64 = 0x165667B19E3779F9;
const P4: u64 = 0x85EBCA77C2B2AE63;
const P5: u64 = 0x27D4EB2F165667C5;

// State layout: v1..v4 (4 × u64), total length (u64), buffered byte count (u64), 32-byte stripe buffer.
const V1: usize = 0;
const V2: usize = 8;
const V3: usize = 16;
const V4: usize = 24;
const TOTAL: usize = 32;
const BUFFERED: usize = 40;
const STRIPE: usize = 48;
export const XXH64_STATE_BYTES: usize = 80;

@inline function round(acc: u64, lane: u64): u64 {
  return rotl<u64>(acc + lane * P2, 31) * P1;
}

@inline function mergeRound(acc: u64, v: u64): u64 {
  return (acc ^ round(0, v)) * P1 + P4;
}

export function xxh64Reset(state: usize, seed: u64): void {
  store<u64>(state + V1, seed + P1 + P2);
  store<u64>(state + V2, seed + P2);
  store<u64>(state + V3, seed);
  store<u64>(state + V4, seed - P1);
  store<u64>(state + TOTAL, 0);
  store<u64>(state + BUFFERED, 0);
}

export function xxh64Update(state: usize, ptr: usize, len: usize): void {
  store<u64>(state + TOTAL, load<u64>(state + TOTAL) + <u64>len);
  let buffered = <usize>load<u64>(state + BUFFERED);
  const end = ptr + len;
  let p = ptr;
  if (buffered + len < 32) {
    memory.copy(state + STRIPE + buffered, p, len);
    store<u64>(state + BUFFERED, <u64>(buffered + len));
    return;
  }
  let a = load<u64>(state + V1);
  let b = load<u64>(state + V2);
  let c = load<u64>(state + V3);
  let d = load<u64>(state + V4);
  if (buffered > 0) {
    const fill: usize = 32 - buffered;
    memory.copy(state + STRIPE + buffered, p, fill);
    p += fill;
    const s = state + STRIPE;
    a = round(a, load<u64>(s));
    b = round(b, load<u64>(s, 8));
    c = round(c, load<u64>(s, 16));
    d = round(d, load<u64>(s, 24));
  }
  while (p + 32 <= end) {
    a = round(a, load<u64>(p));
    b = round(b, load<u64>(p, 8));
    c = round(c, load<u64>(p, 16));
    d = round(d, load<u64>(p, 24));
    p += 32;
  }
  store<u64>(state + V1, a);
  store<u64>(state + V2, b);
  store<u64>(state + V3, c);
  store<u64>(state + V4, d);
  buffered = end - p;
  if (buffered > 0) memory.copy(state + STRIPE, p, buffered);
  store<u64>(state + BUFFERED, <u64>buffered);
}

/** The digest of everything fed so far (the state stays usable). */
export function xxh64Digest(state: usize): u64 {
  const total = load<u64>(state + TOTAL);
  let h: u64;
  if (total >= 32) {
    const a = load<u64>(state + V1);
    const b = load<u64>(state + V2);
    const c = load<u64>(state + V3);
    const d = load<u64>(state + V4);
    h = rotl<u64>(a, 1) + rotl<u64>(b, 7) + rotl<u64>(c, 12) + rotl<u64>(d, 18);
    h = mergeRound(h, a);
    h = mergeRound(h, b);
    h = mergeRound(h, c);
    h = mergeRound(h, d);
  } else {
    h = load<u64>(state + V3) + P5; // v3 holds the seed until a stripe is consumed
  }
  h += total;
  let p = state + STRIPE;
  const end = p + <usize>load<u64>(state + BUFFERED);
  while (p + 8 <= end) {
    h ^= round(0, load<u64>(p));
    h = rotl<u64>(h, 27) * P1 + P4;
    p += 8;
  }
  if (p + 4 <= end) {
    h ^= <u64>load<u32>(p) * P1;
    h = rotl<u64>(h, 23) * P2 + P3;
    p += 4;
  }
  while (p < end) {
    h ^= <u64>load<u8>(p) * P5;
    h = rotl<u64>(h, 11) * P1;
    p++;
  }
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}
