import { loadKernels } from './instance.js';

export { loadKernels, wasmPath } from './instance.js';

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
