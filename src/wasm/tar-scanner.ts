import type { TarEntryRecord, TarScanEngine } from './tar-format.js';

/**
 * Feeds a tar stream, chunk by chunk, to a scanner engine (kernel or twin) and keeps the bytes of an entry whose
 * headers are split across chunks until the rest arrives. Records come out in archive order.
 */
export class TarScanner {
  private carry: Uint8Array | undefined;
  private base = 0;
  private ended = false;

  constructor(readonly engine: TarScanEngine) {
    engine.reset();
  }

  push(chunk: Uint8Array): TarEntryRecord[] {
    if (this.ended) return [];
    const input = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    return this.take(input, false);
  }

  /** The stream has ended: returns the last records, or throws when it ended inside an entry. */
  end(): TarEntryRecord[] {
    if (this.ended) return [];
    return this.take(this.carry ?? new Uint8Array(0), true);
  }

  private take(input: Uint8Array, final: boolean): TarEntryRecord[] {
    const { records, consumed, ended } = this.engine.scan(input, this.base, final);
    this.base += consumed;
    this.ended = ended;
    this.carry = consumed < input.length ? input.slice(consumed) : undefined;
    return records;
  }
}

/** Every entry of a whole tar in memory. */
export function scanTar(engine: TarScanEngine, tar: Uint8Array): TarEntryRecord[] {
  const scanner = new TarScanner(engine);
  return [...scanner.push(tar), ...scanner.end()];
}
