import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled AssemblyScript kernels (build/kernels.wasm), instantiated once on first use. */
interface KernelExports {
  memory: WebAssembly.Memory;
  tarHeaderChecksum(offset: number): number;
}

let kernels: KernelExports | undefined;

export function wasmPath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'kernels.wasm');
}

export function loadKernels(): KernelExports {
  if (!kernels) {
    const module = new WebAssembly.Module(fs.readFileSync(wasmPath()));
    kernels = new WebAssembly.Instance(module, { env: { abort: () => { throw new Error('wasm kernel aborted'); } } }).exports as unknown as KernelExports;
  }
  return kernels;
}

/** ustar header checksum in WebAssembly; `tarHeaderChecksumJs` is its twin. */
export function tarHeaderChecksumWasm(header: Uint8Array): number {
  const k = loadKernels();
  new Uint8Array(k.memory.buffer, 0, 512).set(header.subarray(0, 512));
  return k.tarHeaderChecksum(0);
}

export function tarHeaderChecksumJs(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return sum;
}
