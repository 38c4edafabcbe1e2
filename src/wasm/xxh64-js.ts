/**
 * XXH64 in TypeScript: the twin of assembly/xxh64.ts (same output for the same input). 64-bit lanes are
 * held as two unsigned 32-bit halves so that no BigInt is touched on the hot path.
 */

// The five primes as [high, low] halves.
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

// Result registers of the helpers below (avoids allocating a pair per operation).
let rh = 0;
let rl = 0;

/** (ah:al) × (bh:bl) mod 2^64 into rh:rl. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const mid = a0 * b1 + a1 * b0; // < 2^33
  const low = a0 * b0 + (mid % 65536) * 65536; // < 2^33
  const high = a1 * b1 + Math.floor(mid / 65536) + Math.floor(low / 4294967296);
  rl = low >>> 0;
  rh = (high + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** (ah:al) + (bh:bl) mod 2^64 into rh:rl. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const low = al + bl;
  rl = low >>> 0;
  rh = (ah + bh + (low > 0xffffffff ? 1 : 0)) >>> 0;
}

/** rotate-left of (h:l) by r bits (0 < r < 32) into rh:rl. */
function rotl(h: number, l: number, r: number): void {
  rh = ((h << r) | (l >>> (32 - r))) >>> 0;
  rl = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** round(acc, lane) = rotl(acc + lane × P2, 31) × P1 into rh:rl. */
function round(acch: number, accl: number, laneh: number, lanel: number): void {
  mul(laneh, lanel, P2H, P2L);
  add(acch, accl, rh, rl);
  rotl(rh, rl, 31);
  mul(rh, rl, P1H, P1L);
}

/** A streaming XXH64 (seed 0). `update` any number of times, `digest` returns 16 lowercase hex digits. */
export class Xxh64Js {
  // v1..v4 as high/low halves
  private v = new Uint32Array(8);
  private total = 0;
  private readonly stripe = new Uint8Array(32);
  private buffered = 0;

  constructor() {
    this.reset();
  }

  reset(): this {
    const v = this.v;
    add(P1H, P1L, P2H, P2L);
    v[0] = rh; v[1] = rl;
    v[2] = P2H; v[3] = P2L;
    v[4] = 0; v[5] = 0;
    v[6] = ~P1H >>> 0; v[7] = (-P1L) >>> 0; // 0 - P1 (two's complement; P1L is not 0)
    this.total = 0;
    this.buffered = 0;
    return this;
  }

  private stripes(data: Uint8Array, start: number, end: number): void {
    const v = this.v;
    let ah = v[0]!, al = v[1]!, bh = v[2]!, bl = v[3]!, ch = v[4]!, cl = v[5]!, dh = v[6]!, dl = v[7]!;
    for (let p = start; p + 32 <= end; p += 32) {
      round(ah, al, le32(data, p + 4), le32(data, p)); ah = rh; al = rl;
      round(bh, bl, le32(data, p + 12), le32(data, p + 8)); bh = rh; bl = rl;
      round(ch, cl, le32(data, p + 20), le32(data, p + 16)); ch = rh; cl = rl;
      round(dh, dl, le32(data, p + 28), le32(data, p + 24)); dh = rh; dl = rl;
    }
    v[0] = ah; v[1] = al; v[2] = bh; v[3] = bl; v[4] = ch; v[5] = cl; v[6] = dh; v[7] = dl;
  }

  update(data: Uint8Array): this {
    this.total += data.length;
    let p = 0;
    if (this.buffered + data.length < 32) {
      this.stripe.set(data, this.buffered);
      this.buffered += data.length;
      return this;
    }
    if (this.buffered > 0) {
      p = 32 - this.buffered;
      this.stripe.set(data.subarray(0, p), this.buffered);
      this.stripes(this.stripe, 0, 32);
    }
    const whole = p + Math.floor((data.length - p) / 32) * 32;
    this.stripes(data, p, whole);
    this.stripe.set(data.subarray(whole));
    this.buffered = data.length - whole;
    return this;
  }

  digest(): string {
    const v = this.v;
    let hh: number, hl: number;
    if (this.total >= 32) {
      rotl(v[0]!, v[1]!, 1); let sh = rh, sl = rl;
      rotl(v[2]!, v[3]!, 7); add(sh, sl, rh, rl); sh = rh; sl = rl;
      rotl(v[4]!, v[5]!, 12); add(sh, sl, rh, rl); sh = rh; sl = rl;
      rotl(v[6]!, v[7]!, 18); add(sh, sl, rh, rl); hh = rh; hl = rl;
      for (let i = 0; i < 8; i += 2) {
        round(0, 0, v[i]!, v[i + 1]!);
        mul((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, P1H, P1L);
        add(rh, rl, P4H, P4L); hh = rh; hl = rl;
      }
    } else {
      hh = P5H; hl = P5L; // seed 0 + P5
    }
    add(hh, hl, Math.floor(this.total / 4294967296) >>> 0, this.total >>> 0); hh = rh; hl = rl;
    const s = this.stripe;
    let p = 0;
    const end = this.buffered;
    for (; p + 8 <= end; p += 8) {
      round(0, 0, le32(s, p + 4), le32(s, p));
      rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 27);
      mul(rh, rl, P1H, P1L); add(rh, rl, P4H, P4L); hh = rh; hl = rl;
    }
    if (p + 4 <= end) {
      mul(0, le32(s, p), P1H, P1L);
      rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 23);
      mul(rh, rl, P2H, P2L); add(rh, rl, P3H, P3L); hh = rh; hl = rl;
      p += 4;
    }
    for (; p < end; p++) {
      mul(0, s[p]!, P5H, P5L);
      rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 11);
      mul(rh, rl, P1H, P1L); hh = rh; hl = rl;
    }
    // avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32
    hl = (hl ^ (hh >>> 1)) >>> 0;
    mul(hh, hl, P2H, P2L); hh = rh; hl = rl;
    hl = (hl ^ ((hh << 3) | (hl >>> 29))) >>> 0;
    hh = (hh ^ (hh >>> 29)) >>> 0;
    mul(hh, hl, P3H, P3L); hh = rh; hl = rl;
    hl = (hl ^ hh) >>> 0;
    return hex8(hh) + hex8(hl);
  }
}

function le32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
