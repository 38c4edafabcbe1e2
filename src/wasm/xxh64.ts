import fs from 'node:fs';
import { EngineError } from '../util/errors.js';
import { ensureMemory, loadKernels, STATE_BASE, STATE_SLOT, STATE_SLOTS, WORK_BASE, type KernelExports } from './instance.js';

/** Bytes handed to the kernel per call: big inputs go through in chunks of this size. */
const CHUNK = 1 << 20;
const freeSlots: number[] = Array.from({ length: STATE_SLOTS }, (_, i) => STATE_BASE + (STATE_SLOTS - 1 - i) * STATE_SLOT);

/** One chunk-sized input window at WORK_BASE, grown once. */
function window(k: KernelExports, bytes: number): Uint8Array {
  return new Uint8Array(ensureMemory(k, WORK_BASE + bytes), WORK_BASE, bytes);
}

/** A streaming XXH64 (seed 0) in WebAssembly; `Xxh64Js` is its twin. Call `digest` once: it frees the state. */
export class Xxh64Wasm {
  private readonly k = loadKernels();
  private state: number;

  constructor() {
    const slot = freeSlots.pop();
    if (slot === undefined) throw new EngineError('internal', `more than ${STATE_SLOTS} XXH64 hashes open at once`);
    this.state = slot;
    this.k.xxh64Reset(slot, 0n);
  }

  update(data: Uint8Array): this {
    for (let off = 0; off < data.length; off += CHUNK) {
      const part = data.subarray(off, Math.min(off + CHUNK, data.length));
      window(this.k, CHUNK).set(part);
      this.k.xxh64Update(this.state, WORK_BASE, part.length);
    }
    return this;
  }

  /** Feeds the rest of an open file, read straight into the kernel's memory (no intermediate buffer). */
  updateFromFd(fd: number): this {
    for (;;) {
      const n = fs.readSync(fd, window(this.k, CHUNK), 0, CHUNK, null);
      if (n === 0) return this;
      this.k.xxh64Update(this.state, WORK_BASE, n);
    }
  }

  digest(): string {
    if (this.state < 0) throw new EngineError('internal', 'XXH64 digest taken twice');
    const h = this.k.xxh64Digest(this.state);
    freeSlots.push(this.state);
    this.state = -1;
    return BigInt.asUintN(64, h).toString(16).padStart(16, '0');
  }
}

/** XXH64 of one buffer, in WebAssembly. */
export function xxh64Wasm(data: Uint8Array): string {
  return new Xxh64Wasm().update(data).digest();
}
