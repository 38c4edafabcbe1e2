import { ensureMemory, loadKernels, WORK_BASE, type KernelExports } from './instance.js';
import { NAMED_ERRORS, TarScanError, type TarEntryRecord, type TarScanEngine } from './tar-format.js';
import { TarScanJs } from './tar-scan-js.js';

/**
 * The tar scanner kernel behind the TarScanEngine interface. Input goes through a window in wasm memory; payload
 * bytes the kernel says to skip are passed over here and never copied. A window holds any one entry's headers
 * (extension data is limited to 4 × 256 KiB), holds at most WINDOW / 512 records, and the names those records
 * need fit in an arena twice its size, so the kernel stops only where input ends.
 */
const WINDOW = 4 << 20;
const RECORD_BYTES = 96;
const RECORD_CAP = WINDOW / 512;
const INPUT = WORK_BASE;
const RECORDS = INPUT + WINDOW;
const ARENA = RECORDS + RECORD_CAP * RECORD_BYTES;
const ARENA_CAP = 2 * WINDOW;

interface TarKernelExports extends KernelExports {
  tarScanReset(): void;
  tarScanSetState(skip: number, ended: number, skipHeader: number): void;
  tarScanSkip(): number;
  tarScanSetSkip(n: number): void;
  tarScanEnded(): number;
  tarScanSkipHeader(): number;
  tarScanErrorUnit(): number;
}

export class TarScanWasm implements TarScanEngine {
  readonly name = 'wasm';
  private readonly k = loadKernels() as TarKernelExports;
  // This stream's scanner state; the kernel instance is shared by every stream, so it is loaded before and
  // saved after each call.
  private state = { skip: 0, ended: false, skipHeader: 0 };

  constructor() {
    ensureMemory(this.k, ARENA + ARENA_CAP);
  }

  reset(): void {
    this.state = { skip: 0, ended: false, skipHeader: 0 };
  }

  scan(input: Uint8Array, base: number, final: boolean): { records: TarEntryRecord[]; consumed: number; ended: boolean } {
    const k = this.k;
    k.tarScanSetState(this.state.skip, this.state.ended ? 1 : 0, this.state.skipHeader);
    try {
      return this.scanShared(input, base, final);
    } finally {
      this.state = { skip: k.tarScanSkip(), ended: !!k.tarScanEnded(), skipHeader: k.tarScanSkipHeader() };
    }
  }

  /**
   * The kernel's rejection. For the errors about a name, the twin (equivalent by test) re-reads that entry, which
   * is wholly in `input`, to word the message with the name.
   */
  private rejection(code: number, input: Uint8Array, base: number): TarScanError {
    const generic = new TarScanError(code, this.k.tarScanErrorOffset());
    if (!NAMED_ERRORS.has(code)) return generic;
    const unit = this.k.tarScanErrorUnit();
    try {
      new TarScanJs().scan(input.subarray(unit - base), unit, true);
    } catch (err) {
      if (err instanceof TarScanError && err.scanCode === code && err.offset === generic.offset) return err;
    }
    return generic;
  }

  private scanShared(input: Uint8Array, base: number, final: boolean): { records: TarEntryRecord[]; consumed: number; ended: boolean } {
    const k = this.k;
    const records: TarEntryRecord[] = [];
    let off = 0;
    for (;;) {
      const skip = k.tarScanSkip();
      if (skip > 0) {
        const take = Math.min(skip, input.length - off);
        k.tarScanSetSkip(skip - take);
        off += take;
        if (skip > take) {
          if (final) throw new TarScanError(6, k.tarScanSkipHeader());
          return { records, consumed: off, ended: false };
        }
      }
      const n = Math.min(WINDOW, input.length - off);
      const last = off + n === input.length;
      const memory = k.memory.buffer;
      new Uint8Array(memory, INPUT, n).set(input.subarray(off, off + n));
      const count = k.tarScan(INPUT, n, base + off, final && last ? 1 : 0, RECORDS, RECORD_CAP, ARENA, ARENA_CAP);
      if (count < 0) throw this.rejection(-count, input, base);
      decodeRecords(memory, count, records);
      const used = k.tarScanConsumed();
      off += used;
      if (k.tarScanEnded()) return { records, consumed: input.length, ended: true };
      if (last) return { records, consumed: off, ended: false };
      // The window ended inside an entry's headers: the next window starts at that entry.
      if (used === 0) throw new TarScanError(12, base + off);
    }
  }
}

function decodeRecords(memory: ArrayBuffer, count: number, out: TarEntryRecord[]): void {
  const view = new DataView(memory);
  const bytes = Buffer.from(memory);
  for (let i = 0; i < count; i++) {
    const r = RECORDS + i * RECORD_BYTES;
    const nameAt = ARENA + view.getUint32(r + 56, true);
    const linkAt = ARENA + view.getUint32(r + 64, true);
    let x = ARENA + view.getUint32(r + 72, true);
    const xattrs: Array<[string, Buffer]> = [];
    for (let j = view.getUint32(r + 76, true); j > 0; j--) {
      const klen = view.getUint32(x, true);
      const key = bytes.toString('utf8', x + 4, x + 4 + klen);
      const vlen = view.getUint32(x + 4 + klen, true);
      xattrs.push([key, Buffer.from(bytes.subarray(x + 8 + klen, x + 8 + klen + vlen))]);
      x += 8 + klen + vlen;
    }
    out.push({
      type: String.fromCharCode(view.getUint32(r, true)),
      name: bytes.toString('utf8', nameAt, nameAt + view.getUint32(r + 60, true)),
      linkname: bytes.toString('utf8', linkAt, linkAt + view.getUint32(r + 68, true)),
      mode: view.getUint32(r + 4, true),
      uid: view.getFloat64(r + 8, true),
      gid: view.getFloat64(r + 16, true),
      mtime: view.getFloat64(r + 24, true),
      mtimeNs: view.getUint32(r + 32, true),
      size: view.getFloat64(r + 40, true),
      devmajor: view.getUint32(r + 36, true),
      devminor: view.getUint32(r + 80, true),
      offset: view.getFloat64(r + 48, true),
      header: view.getFloat64(r + 88, true),
      xattrs,
    });
  }
}
