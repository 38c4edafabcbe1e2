// WebAssembly kernels for Roost's hot paths. Each has a TypeScript twin in src/ and is used only where
// bench/ shows it faster (see docs/architecture.md). Memory is laid out by the host (src/wasm/instance.ts).
export { XXH64_STATE_BYTES, xxh64Reset, xxh64Update, xxh64Digest } from './xxh64';

/** Bytes the host copies headers into: one 512-byte tar header at offset 0. */
export const HEADER_OFFSET: usize = 0;

/**
 * ustar header checksum: the unsigned sum of the 512 header bytes with the 8-byte checksum field
 * (offset 148) counted as spaces. Returns the sum; the caller compares it with the stored octal value.
 */
export function tarHeaderChecksum(offset: usize): u32 {
  let sum: u32 = 0;
  for (let i: usize = 0; i < 512; i++) {
    sum += i >= 148 && i < 156 ? 32 : <u32>load<u8>(offset + i);
  }
  return sum;
}
export { TAR_RECORD_BYTES, tarScan, tarScanReset, tarScanSetState, tarScanSkip, tarScanSetSkip, tarScanEnded, tarScanSkipHeader, tarScanConsumed, tarScanErrorOffset, tarScanErrorUnit, tarScanArenaUsed } from './tar-scan';
export { DIFF_ENTRY_BYTES, treeDiff } from './tree-diff';
