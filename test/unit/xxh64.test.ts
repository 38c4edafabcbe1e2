import test from 'ava';
import { Xxh64Js } from '../../src/wasm/xxh64-js.js';
import { Xxh64Wasm, xxh64Wasm } from '../../src/wasm/xxh64.js';

// Reference digests from the xxHash C library (libxxhash 0.8.1, XXH64 with seed 0), taken once by hand.
const kilo = new Uint8Array(1027).map((_, i) => (i < 1024 ? i & 0xff : 'xyz'.charCodeAt(i - 1024)));
const vectors: Array<[string, Uint8Array, string]> = [
  ['empty', new Uint8Array(0), 'ef46db3751d8e999'],
  ['"a"', Buffer.from('a'), 'd24ec4f1a98c6e5b'],
  ['"abc"', Buffer.from('abc'), '44bc2cf5ad770999'],
  ['32 bytes', Buffer.from('0123456789abcdef0123456789abcdef'), '642a94958e71e6c5'],
  ['1027 bytes', kilo, 'e146cb31b65bc21a'],
];

for (const [name, input, digest] of vectors) {
  test(`XXH64 of ${name}: the kernel and the twin give the reference digest`, (t) => {
    t.is(xxh64Wasm(input), digest);
    t.is(new Xxh64Js().update(input).digest(), digest);
  });
}

/** A deterministic byte generator (xorshift32), so a failure replays. */
function bytes(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

test('XXH64: kernel and twin agree on 10,000 inputs of every length up to 300 bytes and random splits', (t) => {
  let rng = 12345;
  const next = (m: number) => { rng = (Math.imul(rng, 1103515245) + 12345) >>> 0; return rng % m; };
  for (let i = 0; i < 10_000; i++) {
    const input = bytes(i + 1, i < 300 ? i : next(5000));
    const whole = xxh64Wasm(input);
    t.is(new Xxh64Js().update(input).digest(), whole, `length ${input.length}`);
    // streamed in random pieces through both
    const k = new Xxh64Wasm();
    const j = new Xxh64Js();
    for (let off = 0; off < input.length;) {
      const end = Math.min(input.length, off + 1 + next(70));
      k.update(input.subarray(off, end));
      j.update(input.subarray(off, end));
      off = end;
    }
    const kd = k.digest();
    if (kd !== whole || j.digest() !== whole) t.fail(`streamed digest differs at case ${i}`);
  }
});

test('XXH64: a 3 MiB input crosses the kernel chunk size and still matches the twin', (t) => {
  const input = bytes(7, 3 * 1024 * 1024 + 13);
  t.is(xxh64Wasm(input), new Xxh64Js().update(input).digest());
});

test('XXH64: a digest taken twice is an error, not a wrong answer', (t) => {
  const h = new Xxh64Wasm();
  h.digest();
  t.throws(() => h.digest(), { message: /twice/ });
});
