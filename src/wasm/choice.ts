import { invalid } from '../util/errors.js';
import { kernelsAvailable } from './instance.js';

export type TarScannerChoice = 'tar-stream' | 'wasm' | 'typescript';
const TAR_SCANNERS: readonly TarScannerChoice[] = ['tar-stream', 'wasm', 'typescript'];

/** The tar parser layer extraction uses unless told otherwise: chosen by `npm run bench -- --only kernels`. */
export const MEASURED_TAR_SCANNER: TarScannerChoice = 'tar-stream';

/** MEASURED_TAR_SCANNER, or ROOST_TAR_SCANNER when set (for benchmarks and tests); the kernel only when it loads. */
export function defaultTarScanner(): TarScannerChoice {
  const env = process.env.ROOST_TAR_SCANNER;
  if (env !== undefined && env !== '' && !TAR_SCANNERS.includes(env as TarScannerChoice)) {
    throw invalid(`ROOST_TAR_SCANNER must be one of ${TAR_SCANNERS.join(', ')}, not ${JSON.stringify(env)}`);
  }
  const choice = (env || MEASURED_TAR_SCANNER) as TarScannerChoice;
  return choice === 'wasm' && !kernelsAvailable() ? 'tar-stream' : choice;
}

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
      implementation: tarScannerName(),
      reason: `measured default ${MEASURED_TAR_SCANNER}; the WebAssembly kernel scans faster but scanning is a few per cent of applying a layer (${wasm})`,
    },
    {
      path: 'checksums (build cache COPY keys)',
      implementation: 'node:crypto sha256',
      reason: 'the XXH64 kernel is faster, but a 64-bit non-cryptographic hash would let crafted content collide into a stale cache hit',
    },
    { path: 'container changes (diff, commit)', implementation: 'TypeScript tree walk', reason: 'overlay: the upper directory is the change list; copy driver: the comparison is a small part next to the lstat calls, and the tree diff kernel (bench: kernels) is not wired in' },
  ];
}

function tarScannerName(): string {
  try {
    const choice = defaultTarScanner();
    return process.env.ROOST_TAR_SCANNER ? `${choice} (ROOST_TAR_SCANNER)` : choice;
  } catch (err) {
    return `${MEASURED_TAR_SCANNER} (${(err as Error).message})`;
  }
}
