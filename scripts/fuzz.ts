// `npm run fuzz`: the long differential fuzzing run of the WebAssembly kernels against their twins (not in CI;
// the suite runs 10,000 cases per kernel). Usage: npm run fuzz [-- CASES [FIRST_SEED]]. Exits 1 on any disagreement.
import { TarScanJs } from '../src/wasm/tar-scan-js.js';
import { TarScanWasm } from '../src/wasm/tar-scan.js';
import { Xxh64Js } from '../src/wasm/xxh64-js.js';
import { Xxh64Wasm } from '../src/wasm/xxh64.js';
import { TreeDiffJs } from '../src/wasm/tree-diff-js.js';
import { TreeDiffWasm } from '../src/wasm/tree-diff.js';
import { fuzzTarScan, rng } from '../test/helpers/tar-fuzz.js';
import { fuzzTreeDiff } from '../test/helpers/tree-fuzz.js';

const cases = Number(process.argv[2] ?? 1_000_000);
const firstSeed = Number(process.argv[3] ?? 1_000_000);
if (!Number.isSafeInteger(cases) || cases < 1 || !Number.isSafeInteger(firstSeed)) {
  process.stderr.write('usage: npm run fuzz [-- CASES [FIRST_SEED]]\n');
  process.exit(2);
}
let failed = false;
const started = Date.now();

// Tar scanner, in batches so progress shows.
const batch = 50_000;
const tar = { accepted: 0, rejected: 0, disagreed: 0 };
for (let done = 0; done < cases; done += batch) {
  const n = Math.min(batch, cases - done);
  const s = fuzzTarScan(new TarScanWasm(), new TarScanJs(), firstSeed + done, n);
  tar.accepted += s.accepted;
  tar.rejected += s.rejected;
  tar.disagreed += s.disagreed;
  for (const d of s.disagreements) process.stdout.write(`tar: DISAGREEMENT seed ${d.seed}: ${JSON.stringify(d)}\n`);
  process.stdout.write(`tar: ${done + n} cases, ${tar.disagreed} disagreements (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
}
failed ||= tar.disagreed > 0;
process.stdout.write(`tar scanner: ${cases} cases from seed ${firstSeed}: ${tar.accepted} accepted, ${tar.rejected} rejected, ${tar.disagreed} disagreements\n`);

// XXH64: random lengths and random splits.
const r = rng(firstSeed);
let xxDisagreed = 0;
const buf = new Uint8Array(4096);
for (let i = 0; i < cases; i++) {
  const len = r(8) === 0 ? r(4096) : r(300);
  for (let j = 0; j < len; j++) buf[j] = r(256);
  const input = buf.subarray(0, len);
  const cut = r(len + 1);
  const k = new Xxh64Wasm().update(input.subarray(0, cut)).update(input.subarray(cut)).digest();
  const t = new Xxh64Js().update(input).digest();
  if (k !== t) {
    if (++xxDisagreed <= 5) process.stdout.write(`xxh64: DISAGREEMENT case ${i}: length ${len}, cut ${cut}: kernel ${k}, twin ${t}\n`);
  }
}
failed ||= xxDisagreed > 0;
process.stdout.write(`xxh64: ${cases} cases: ${xxDisagreed} disagreements\n`);

// Tree diff.
const diff = fuzzTreeDiff(new TreeDiffWasm(), new TreeDiffJs(), firstSeed, cases);
if (diff.disagreed > 0) process.stdout.write(`tree diff: DISAGREEMENT first at seed ${diff.first}\n`);
failed ||= diff.disagreed > 0;
process.stdout.write(`tree diff: ${cases} cases: ${diff.changes} changes, ${diff.rejected} refused inputs, ${diff.disagreed} disagreements; total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
process.exit(failed ? 1 : 0);
