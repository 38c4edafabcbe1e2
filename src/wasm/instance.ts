import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../util/errors.js';

/** The compiled AssemblyScript kernels (build/kernels.wasm), as assembly/index.ts exports them. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  tarHeaderChecksum(offset: number): number;
  xxh64Reset(state: number, seed: bigint): void;
  xxh64Update(state: number, ptr: number, len: number): void;
  xxh64Digest(state: number): bigint;
  tarScan(input: number, inputLen: number, base: number, final: number, records: number, recordCap: number, arena: number, arenaCap: number): number;
  tarScanConsumed(): number;
  tarScanErrorOffset(): number;
  tarScanArenaUsed(): number;
}

/**
 * Memory layout the host keeps (kernels never allocate):
 *   [0, 512)            one tar header (tarHeaderChecksum)
 *   [4096, 65536)       XXH64 states, STATE_SLOT bytes each
 *   [65536, …)          per-call work areas, laid out by each loader; memory grows on demand
 */
export const STATE_BASE = 4096;
export const STATE_SLOT = 128;
export const STATE_SLOTS = (65536 - STATE_BASE) / STATE_SLOT;
export const WORK_BASE = 65536;
const PAGE = 65536;

let kernels: KernelExports | undefined;

export function wasmPath(): string {
  // src/wasm/ and dist/daemon/ are two levels below the checkout, dist/cli-tar.cjs (CommonJS, where
  // import.meta is empty and __dirname is set) one.
  const meta = import.meta as { url?: string };
  const candidates = meta.url
    ? [path.resolve(path.dirname(fileURLToPath(meta.url)), '..', '..', 'build', 'kernels.wasm')]
    : [path.resolve(__dirname, '..', 'build', 'kernels.wasm'), path.resolve(__dirname, '..', '..', 'build', 'kernels.wasm')];
  return candidates.find((file) => fs.existsSync(file)) ?? candidates[0]!;
}

/** The kernels, instantiated once; throws `unavailable` when build/kernels.wasm is missing or stale. */
export function loadKernels(): KernelExports {
  if (kernels) return kernels;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(wasmPath());
  } catch (err) {
    throw new EngineError('unavailable', `WebAssembly kernels not found at ${wasmPath()}`, { hint: 'run `npm run build:wasm`', cause: err });
  }
  const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(bytes)), {
    env: { abort: () => { throw new EngineError('internal', 'WebAssembly kernel aborted'); } },
  });
  const exports = instance.exports as unknown as KernelExports;
  for (const name of ['xxh64Update', 'tarScan'] as const) {
    if (typeof exports[name] !== 'function') throw new EngineError('unavailable', `build/kernels.wasm lacks ${name}`, { hint: 'run `npm run build:wasm`' });
  }
  kernels = exports;
  return kernels;
}

/** Grows the kernels' memory so that [0, end) is addressable; returns the (possibly new) buffer. */
export function ensureMemory(k: KernelExports, end: number): ArrayBuffer {
  const have = k.memory.buffer.byteLength;
  if (end > have) k.memory.grow(Math.ceil((end - have) / PAGE));
  return k.memory.buffer;
}

/** Whether the kernels can be loaded here (for `roost info` and for choosing an implementation). */
export function kernelsAvailable(): boolean {
  try {
    loadKernels();
    return true;
  } catch {
    return false;
  }
}
