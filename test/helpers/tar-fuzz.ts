// Differential fuzzing of the tar scanner: random archives (valid, hostile and mutated) go through the kernel
// and the twin, each fed in its own random chunking; any difference in records or in the rejection is reported.
import { isDeepStrictEqual } from 'node:util';
import { TarScanError, type TarEntryRecord, type TarScanEngine } from '../../src/wasm/tar-format.js';
import { TarScanner } from '../../src/wasm/tar-scanner.js';
import { archive, type EntrySpec } from './tar-build.js';

/** A small deterministic PRNG (mulberry32), so every case replays from its seed. */
export function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

const NAME_PARTS = ['a', 'b', 'dir', '.', '', 'x.wh.y', '.wh..wh..opq', 'é', 'long'.repeat(30), '/'];
const HOSTILE_PARTS = ['..', '\0', '../..'];

function randomName(r: (n: number) => number): string {
  const parts: string[] = [];
  for (let i = r(5) + 1; i > 0; i--) parts.push(r(12) === 0 ? HOSTILE_PARTS[r(HOSTILE_PARTS.length)]! : NAME_PARTS[r(NAME_PARTS.length)]!);
  return (r(4) === 0 ? '/' : r(4) === 0 ? './' : '') + parts.join('/');
}

function randomSpec(r: (n: number) => number): EntrySpec {
  const types = ['0', '0', '0', '5', '2', '1', '3', '6', '7', '\0'];
  const type = r(40) === 0 ? 'S' : types[r(types.length)]!;
  const data = type === '0' || type === '7' ? new Uint8Array(r(4) === 0 ? r(3000) : r(40)).fill(0x61 + r(26)) : new Uint8Array(0);
  const name = randomName(r);
  const spec: EntrySpec = { name: name.slice(0, 99), type, data, mode: r(0o10000), uid: r(70000), gid: r(70000), mtime: r(2 ** 31) };
  if (type === '1' || type === '2') spec.linkname = randomName(r).slice(0, 99);
  const shape = r(8);
  if (shape === 0) spec.format = 'gnu';
  if (shape === 1) spec.format = 'v7';
  if (shape === 2) { spec.longName = name; spec.format = 'gnu'; if (spec.linkname !== undefined && r(2)) spec.longLink = randomName(r); }
  if (shape === 3 || shape === 4) {
    spec.pax = { path: name };
    if (r(2)) spec.pax.mtime = `${r(2) ? '-' : ''}${r(2 ** 31)}${r(2) ? `.${r(1e9)}` : ''}`;
    if (r(3) === 0) spec.pax.size = String(r(3) === 0 ? 2 ** 53 : data.length);
    if (r(3) === 0) spec.pax.uid = String(r(2 ** 33));
    if (r(2)) spec.pax[`SCHILY.xattr.${r(2) ? 'user.x' : 'security.capability'}`] = new Uint8Array(r(20)).fill(r(256));
    if (spec.linkname !== undefined && r(2)) spec.pax.linkpath = randomName(r);
  }
  if (shape === 5 && r(2)) spec.prefix = randomName(r).slice(0, 150);
  if (shape === 6) spec.base256Size = true;
  if (r(50) === 0) spec.badChecksum = true;
  return spec;
}

/** One case's archive: a few random entries, then (sometimes) random damage. */
export function fuzzArchive(seed: number): Uint8Array {
  const r = rng(seed);
  const entries: EntrySpec[] = [];
  for (let i = r(6); i >= 0; i--) entries.push(randomSpec(r));
  const tar = archive(entries, { end: r(5) !== 0 });
  const damage = r(4);
  if (damage === 0) for (let i = r(8) + 1; i > 0; i--) tar[r(tar.length)] = r(256);
  // damage to one header field, keeping the checksum right, so the checks behind the checksum are reached
  if (damage === 2 && tar.length >= 512) {
    const h = r(Math.floor(tar.length / 512)) * 512;
    for (let i = r(3) + 1; i > 0; i--) tar[h + r(148)] = r(4) === 0 ? r(256) : [0, 0x20, 0x2f, 0x2e, 0x37, 0x38, 0x80, 0xff][r(8)]!;
    tar.fill(0x20, h + 148, h + 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[h + i]!;
    tar.set(new TextEncoder().encode(sum.toString(8).padStart(6, '0').slice(-6)), h + 148);
    tar[h + 154] = 0;
  }
  if (damage === 1) return tar.subarray(0, r(tar.length + 1));
  return tar;
}

type Outcome = { records: TarEntryRecord[] } | { error: { code: number; offset: number } };

export function run(engine: TarScanEngine, tar: Uint8Array, r: (n: number) => number): Outcome {
  const scanner = new TarScanner(engine);
  const records: TarEntryRecord[] = [];
  try {
    for (let off = 0; off < tar.length;) {
      const end = r(3) === 0 ? tar.length : Math.min(tar.length, off + 1 + r(2000));
      records.push(...scanner.push(tar.subarray(off, end)));
      off = end;
    }
    records.push(...scanner.end());
    return { records };
  } catch (err) {
    if (err instanceof TarScanError) return { error: { code: err.scanCode, offset: err.offset } };
    throw err;
  }
}

export interface FuzzSummary {
  cases: number;
  accepted: number;
  rejected: number;
  disagreed: number;
  disagreements: Array<{ seed: number; kernel: Outcome; twin: Outcome }>;
}

export function fuzzTarScan(kernel: TarScanEngine, twin: TarScanEngine, firstSeed: number, cases: number, keep = 5): FuzzSummary {
  const summary: FuzzSummary = { cases, accepted: 0, rejected: 0, disagreed: 0, disagreements: [] };
  for (let seed = firstSeed; seed < firstSeed + cases; seed++) {
    const tar = fuzzArchive(seed);
    const k = run(kernel, tar, rng(seed ^ 0x5bd1e995));
    const t = run(twin, tar, rng(seed ^ 0x1b873593));
    if (!isDeepStrictEqual(k, t)) {
      summary.disagreed++;
      if (summary.disagreements.length < keep) summary.disagreements.push({ seed, kernel: k, twin: t });
    }
    if ('error' in t) summary.rejected++;
    else summary.accepted++;
  }
  return summary;
}
