import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Frees the chunks a stream of data leaves behind, as it goes. V8 runs a young-generation collection when
 * its JavaScript heap fills (1 MiB with the daemon's `--max-semi-space-size=1`), but a 64 KiB chunk costs
 * that heap only a few hundred bytes: the chunks' memory itself (ArrayBuffers, outside the heap) is only
 * counted towards a collection once ~64 MB of it has piled up. Measured on a pull of a 97 MB layer: ~94 MB
 * of dead chunks waited for their collection at the peak, most of the daemon's RSS. Stream consumers report
 * the bytes they are done with; every `every` bytes a young-generation collection (about a millisecond
 * with that heap) frees the chunks that died since.
 */
const every = 16 << 20;
let pending = 0;
let collect: ((options: { type: 'minor' }) => void) | null | undefined;

function collector(): ((options: { type: 'minor' }) => void) | null {
  if (collect !== undefined) return collect;
  try {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as (options: { type: 'minor' }) => void;
  } catch {
    collect = null;
  }
  return collect;
}

/** `bytes` more of streamed data are done with (hashed, written, passed on). */
export function reclaimBuffers(bytes: number): void {
  pending += bytes;
  if (pending < every) return;
  pending = 0;
  collector()?.({ type: 'minor' });
}
