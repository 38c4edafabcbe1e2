import { kernelsAvailable } from './instance.js';

/** Which implementation each hot path uses, and why: what `roost info` shows (figures: bench/README.md). */
export interface HotPathChoice {
  path: string;
  implementation: string;
  reason: string;
}

export function hotPathChoices(): HotPathChoice[] {
  const wasm = kernelsAvailable() ? 'build/kernels.wasm loads' : 'build/kernels.wasm missing';
  return [
    {
      path: 'tar scan (load, pull, cp, build context)',
      implementation: 'tar-stream',
      reason: `the WebAssembly tar kernel scans faster, but scanning is a few per cent of applying a layer; not wired in (${wasm})`,
    },
    {
      path: 'checksums (build cache COPY keys)',
      implementation: 'node:crypto sha256',
      reason: 'the XXH64 kernel is faster, but a 64-bit non-cryptographic hash would let crafted content collide into a stale cache hit',
    },
    { path: 'layer diff (commit, copy driver)', implementation: 'TypeScript', reason: 'no diff kernel yet' },
  ];
}
