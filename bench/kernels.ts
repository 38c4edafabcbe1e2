// The `kernels` benchmark group: each WebAssembly kernel against its TypeScript twin and the best other way
// (node:crypto, tar-stream), in one run. Bundled to dist/bench/kernels.mjs by scripts/bundle.mjs; bench/run.js
// runs it and prints the JSON lines it writes as one table. Standalone: node dist/bench/kernels.mjs [--quick].
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { Xxh64Js } from '../src/wasm/xxh64-js.js';
import { Xxh64Wasm } from '../src/wasm/xxh64.js';
import { TarScanJs } from '../src/wasm/tar-scan-js.js';
import { TarScanWasm } from '../src/wasm/tar-scan.js';
import { TarScanner } from '../src/wasm/tar-scanner.js';
import { TreeDiffJs } from '../src/wasm/tree-diff-js.js';
import { TreeDiffWasm } from '../src/wasm/tree-diff.js';
import { sortTree, type TreeEntry } from '../src/wasm/tree-format.js';
import type { TarScanEngine } from '../src/wasm/tar-format.js';
import { Readable } from 'node:stream';
import { applyLayer } from '../src/fs/layer-apply.js';
import { rng, smallFilesTar } from './small-files-tar.js';

const quick = process.argv.includes('--quick');
const REPS = quick ? 3 : 5;
const BOOKWORM = process.env.ROOST_BENCH_BOOKWORM ?? '/var/cache/roost-bench/bookworm-minbase.tar';
const CHUNK = 128 * 1024; // what the gunzip stream hands the layer applier

export interface KernelRow {
  key: string;
  name: string;
  unit: 'ms' | 'MB/s';
  /** Figures by implementation: 'wasm', 'twin', and others by name. */
  figures: Record<string, number>;
  /** For MB/s rows, entries per second alongside. */
  entriesPerSecond?: Record<string, number>;
  best: string;
  ratio: number;
  verdict: string;
  note?: string;
  /** Every timed sample (ms) by implementation, where there are several. */
  samples?: Record<string, number[]>;
  /** What the engine uses on this path, when the row says more than the ratio does. */
  hotPath?: string;
}

const emit = (row: KernelRow) => process.stdout.write(`${JSON.stringify(row)}\n`);
const log = (m: string) => process.stderr.write(`kernels: ${m}\n`);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeMs(fn: () => void, reps = REPS): number {
  fn(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(samples);
}

async function timeMsAsync(fn: () => Promise<void>, reps = REPS): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(samples);
}

function verdict(kernel: number, best: number, lowerIsBetter: boolean): { ratio: number; verdict: string } {
  const ratio = lowerIsBetter ? best / kernel : kernel / best;
  return { ratio, verdict: ratio >= 1.5 ? 'kernel ≥ 1.5× the best twin' : 'kernel < 1.5× the best twin' };
}

// ------------------------------------------------------------------------------------------- checksums

function makeContext(dir: string): string[] {
  const files: string[] = [];
  const random = rng(42);
  const target = 40 * 1024 * 1024;
  const weights = Array.from({ length: 2000 }, () => Math.exp(random() * Math.log(200))); // 1–200, log-uniform
  const total = weights.reduce((a, b) => a + b, 0);
  const block = crypto.randomBytes(1 << 20);
  for (let i = 0; i < weights.length; i++) {
    const size = Math.max(1, Math.round((weights[i]! / total) * target));
    const file = path.join(dir, `d${i % 40}`, `f${i}`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const content = Buffer.alloc(size);
    for (let off = 0; off < size; off += block.length) block.copy(content, off, 0, Math.min(block.length, size - off));
    content.writeUInt32LE(i, 0);
    fs.writeFileSync(file, content);
    files.push(file);
  }
  return files;
}

function benchChecksums(tmp: string): void {
  log('checksums: writing a 2,000-file, 40 MB build context');
  const files = makeContext(path.join(tmp, 'context'));
  const bytes = files.reduce((n, f) => n + fs.statSync(f).size, 0);
  const contents = files.map((f) => fs.readFileSync(f));
  const digestsOf = (hash: (data: Buffer) => string) => contents.map(hash);
  // Same answers first: a fast wrong kernel is worth nothing.
  const wasmDigests = digestsOf((d) => new Xxh64Wasm().update(d).digest());
  const twinDigests = digestsOf((d) => new Xxh64Js().update(d).digest());
  if (wasmDigests.join() !== twinDigests.join()) throw new Error('xxh64 kernel and twin disagree on the build context');

  const inMemory: Record<string, number> = {
    wasm: timeMs(() => { for (const d of contents) new Xxh64Wasm().update(d).digest(); }),
    twin: timeMs(() => { for (const d of contents) new Xxh64Js().update(d).digest(); }, quick ? 1 : 3),
  };
  for (const algo of ['sha256', 'sha1', 'md5']) inMemory[`node:crypto ${algo}`] = timeMs(() => { for (const d of contents) crypto.createHash(algo).update(d).digest('hex'); });
  const bestIn = Object.entries(inMemory).filter(([k]) => k !== 'wasm').sort((a, b) => a[1] - b[1])[0]!;
  emit({ key: 'xxh64-memory', name: `checksum 2,000 files / ${(bytes / 1e6).toFixed(0)} MB, in memory (XXH64)`, unit: 'ms', figures: inMemory, best: bestIn[0], ...verdict(inMemory.wasm!, bestIn[1], true) });

  // With the reads, as the build cache would do it: the kernel reads each file straight into its own memory.
  const withReads: Record<string, number> = {
    wasm: timeMs(() => {
      for (const f of files) {
        const fd = fs.openSync(f, 'r');
        try { new Xxh64Wasm().updateFromFd(fd).digest(); } finally { fs.closeSync(fd); }
      }
    }),
    twin: timeMs(() => { for (const f of files) new Xxh64Js().update(fs.readFileSync(f)).digest(); }, quick ? 1 : 3),
  };
  for (const algo of ['sha256', 'sha1', 'md5']) withReads[`node:crypto ${algo}`] = timeMs(() => { for (const f of files) crypto.createHash(algo).update(fs.readFileSync(f)).digest('hex'); });
  const bestRead = Object.entries(withReads).filter(([k]) => k !== 'wasm').sort((a, b) => a[1] - b[1])[0]!;
  emit({ key: 'xxh64-files', name: `checksum 2,000 files / ${(bytes / 1e6).toFixed(0)} MB, read from the page cache (XXH64)`, unit: 'ms', figures: withReads, best: bestRead[0], ...verdict(withReads.wasm!, bestRead[1], true) });
}

// ------------------------------------------------------------------------------------------- tar scan

function scanWith(engine: TarScanEngine, bytes: Buffer): number {
  const scanner = new TarScanner(engine);
  let entries = 0;
  for (let off = 0; off < bytes.length; off += CHUNK) entries += scanner.push(bytes.subarray(off, off + CHUNK)).length;
  return entries + scanner.end().length;
}

async function scanWithTarStream(bytes: Buffer): Promise<number> {
  const extract = tar.extract();
  let entries = 0;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (_h, stream, next) => { entries++; stream.on('end', next); stream.resume(); });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  for (let off = 0; off < bytes.length; off += CHUNK) {
    if (!extract.write(bytes.subarray(off, off + CHUNK))) await new Promise<void>((r) => extract.once('drain', () => r()));
  }
  extract.end(null);
  await done;
  return entries;
}

function* chunks(bytes: Buffer): Generator<Buffer> {
  for (let off = 0; off < bytes.length; off += CHUNK) yield bytes.subarray(off, off + CHUNK);
}

/** A digest of an unpacked tree: per entry its name, type, mode, owner, size, mtime (ns), link target, content. */
function treeDigest(root: string): { digest: string; entries: number } {
  const hash = crypto.createHash('sha256');
  let entries = 0;
  const visit = (rel: string) => {
    const abs = path.join(root, rel);
    const st = fs.lstatSync(abs, { bigint: true });
    entries++;
    // (the root's own times come from the tar only when it has a './' entry: left out)
    hash.update(rel === '' ? `\0${st.mode}\0${st.uid}:${st.gid}\0` : `${rel}\0${st.mode}\0${st.uid}:${st.gid}\0${st.size}\0${st.mtimeNs}\0${st.rdev}\0`);
    if (st.isSymbolicLink()) hash.update(fs.readlinkSync(abs));
    else if (st.isFile()) hash.update(fs.readFileSync(abs));
    else if (st.isDirectory()) for (const name of fs.readdirSync(abs).sort()) visit(rel === '' ? name : `${rel}/${name}`);
    hash.update('\0');
  };
  visit('');
  return { digest: hash.digest('hex').slice(0, 16), entries: entries - 1 };
}

/**
 * End to end: the layer applier on the same tar with each parser (tar-stream, the kernel, the twin), into fresh
 * directories, engines alternating; and GNU tar's extraction of it, whose tree every parser's tree must equal.
 */
async function benchApply(label: string, key: string, file: string, bytes: Buffer, tmp: string, reps: number): Promise<void> {
  // ROOST_BENCH_APPLY_DIR: unpack elsewhere (e.g. a tmpfs, to see the parsers without the disk).
  const where = process.env.ROOST_BENCH_APPLY_DIR ? fs.mkdtempSync(path.join(process.env.ROOST_BENCH_APPLY_DIR, 'roost-apply-')) : tmp;
  const scanners = ['tar-stream', 'wasm', 'typescript'] as const;
  const samples: Record<string, number[]> = { 'tar-stream': [], wasm: [], typescript: [], 'GNU tar -x': [] };
  const digests: Record<string, string> = {};
  let entries = 0;
  // Writing and removing big trees leaves dirty data the next unpack would pay for: sync before each.
  const settle = () => { spawnSync('sync'); };
  settle();
  for (let rep = 0; rep < reps; rep++) {
    // A different parser goes first in each repetition.
    for (const scanner of [...scanners.slice(rep % 3), ...scanners.slice(0, rep % 3)]) {
      const target = path.join(where, `apply-${key}-${scanner}`);
      const t = process.hrtime.bigint();
      await applyLayer(Readable.from(chunks(bytes)), target, { whiteouts: 'delete', ownership: false, tarScanner: scanner });
      samples[scanner]!.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (rep === 0) ({ digest: digests[scanner]!, entries } = treeDigest(target));
      settle();
    }
    const target = path.join(where, `apply-${key}-gnutar`);
    fs.mkdirSync(target);
    const t = process.hrtime.bigint();
    const tar = spawnSync('tar', ['-xf', file, '-C', target, '--numeric-owner'], { stdio: ['ignore', 'ignore', 'pipe'] });
    samples['GNU tar -x']!.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (tar.status !== 0) throw new Error(`tar -xf ${file}: ${tar.stderr.toString().trim().split('\n').pop()}`);
    if (rep === 0) digests['GNU tar -x'] = treeDigest(target).digest;
    // The trees go only now, together, so that no unpack pays for the removal of the one before it.
    for (const name of [...scanners, 'gnutar']) fs.rmSync(path.join(where, `apply-${key}-${name}`), { recursive: true, force: true });
    settle();
  }
  if (where !== tmp) fs.rmSync(where, { recursive: true, force: true });
  const figures = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const same = new Set(Object.values(digests)).size === 1;
  const best = figures['tar-stream']! <= figures.typescript! ? 'tar-stream' : 'typescript';
  const ratio = figures[best]! / figures.wasm!;
  emit({
    key, name: `end to end: applyLayer of the ${label} into ${where === tmp ? os.tmpdir() : process.env.ROOST_BENCH_APPLY_DIR} (${entries.toLocaleString('en')} tree entries; median of ${reps}, GNU tar for reference)`, unit: 'ms',
    figures: { wasm: figures.wasm!, twin: figures.typescript!, 'tar-stream': figures['tar-stream']!, 'GNU tar -x': figures['GNU tar -x']! },
    samples: { wasm: samples.wasm!, twin: samples.typescript!, 'tar-stream': samples['tar-stream']!, 'GNU tar -x': samples['GNU tar -x']! },
    best: best === 'typescript' ? 'twin' : best, ratio,
    verdict: same ? `unpacked trees identical for all parsers and GNU tar (tree digest ${Object.values(digests)[0]})` : `TREES DIFFER: ${JSON.stringify(digests)}`,
    hotPath: ratio >= 1.5 && same ? 'kernel' : `tar-stream (kernel ${ratio.toFixed(2)}× end to end, goal 1.5×)`,
  });
  if (!same) process.exitCode = 1;
}

async function benchTar(label: string, key: string, file: string, tmp: string): Promise<void> {
  const bytes = fs.readFileSync(file);
  const counts = { wasm: scanWith(new TarScanWasm(), bytes), twin: scanWith(new TarScanJs(), bytes), 'tar-stream': await scanWithTarStream(bytes) };
  if (counts.wasm !== counts.twin || counts.wasm !== counts['tar-stream']) throw new Error(`${label}: entry counts differ: ${JSON.stringify(counts)}`);
  const reps = quick ? 1 : 3;
  const ms: Record<string, number> = {
    wasm: timeMs(() => { scanWith(new TarScanWasm(), bytes); }, reps),
    twin: timeMs(() => { scanWith(new TarScanJs(), bytes); }, reps),
    'tar-stream': await timeMsAsync(async () => { await scanWithTarStream(bytes); }, reps),
  };
  const mbps: Record<string, number> = {};
  const eps: Record<string, number> = {};
  for (const [k, v] of Object.entries(ms)) { mbps[k] = bytes.length / 1e6 / (v / 1000); eps[k] = counts.wasm / (v / 1000); }
  const best = Object.entries(mbps).filter(([k]) => k !== 'wasm').sort((a, b) => b[1] - a[1])[0]!;
  emit({ key, name: `tar scan: ${label} (${(bytes.length / 1e6).toFixed(0)} MB, ${counts.wasm.toLocaleString('en')} entries)`, unit: 'MB/s', figures: mbps, entriesPerSecond: eps, best: best[0], ...verdict(mbps.wasm!, best[1], false), hotPath: 'tar-stream (see the end-to-end row)' });
  await benchApply(label, `apply-${key}`, file, bytes, tmp, quick ? 1 : key === 'tar-small' ? 2 : reps);
}

// ------------------------------------------------------------------------------------------- tree diff

function benchTreeDiff(): void {
  const random = rng(11);
  const oldTree: TreeEntry[] = sortTree(Array.from({ length: 50_000 }, (_, i) => ({
    name: `usr/lib/pkg-${i % 500}/share/file-${i}.so`, mode: 0o100644, size: Math.floor(random() * 100_000),
    mtimeSec: 1_700_000_000 + Math.floor(random() * 1e6), mtimeNsec: Math.floor(random() * 1e9), ino: 1000 + i,
  })));
  // 1 % changed: a third of those deleted, a third modified, and as many added.
  const newTree: TreeEntry[] = [];
  for (const [i, e] of oldTree.entries()) {
    if (i % 300 === 0) continue;
    newTree.push(i % 300 === 100 ? { ...e, size: e.size + 1 } : e);
  }
  for (let i = 0; i < 166; i++) newTree.push({ ...oldTree[i * 300 + 7]!, name: `${oldTree[i * 300 + 7]!.name}.new` });
  sortTree(newTree);
  const kernel = new TreeDiffWasm();
  const twin = new TreeDiffJs();
  const k = kernel.diff(oldTree, newTree);
  const t = twin.diff(oldTree, newTree);
  if (JSON.stringify(k) !== JSON.stringify(t)) throw new Error('tree diff: kernel and twin disagree');
  const changed = k.added.length + k.modified.length + k.deleted.length;
  const figures = {
    wasm: timeMs(() => { kernel.diff(oldTree, newTree); }, 7),
    twin: timeMs(() => { twin.diff(oldTree, newTree); }, 7),
  };
  emit({ key: 'tree-diff', name: `tree diff: 50,000 files, ${changed} changed (${k.added.length} added, ${k.modified.length} modified, ${k.deleted.length} deleted), metadata in memory; median of 7`, unit: 'ms', figures, best: 'twin', ...verdict(figures.wasm, figures.twin, true), hotPath: 'no engine path uses a tree diff engine yet' });
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-bench-kernels-'));
  try {
    benchChecksums(tmp);
    benchTreeDiff();
    if (fs.existsSync(BOOKWORM)) {
      log(`tar scan: ${BOOKWORM}`);
      await benchTar('bookworm minbase layer', 'tar-bookworm', BOOKWORM, tmp);
    } else log(`tar scan: ${BOOKWORM} not found: that row is skipped (scripts/make-bookworm-rootfs.sh makes it)`);
    log('tar scan: writing a 200,000-small-file tar');
    const small = path.join(tmp, 'small-files.tar');
    await smallFilesTar(small);
    await benchTar('200,000 small files', 'tar-small', small, tmp);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`kernels: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
