/**
 * The layer applier's input loop when a scanner engine (src/wasm: the WebAssembly kernel or its TypeScript twin)
 * parses the tar instead of tar-stream: records come out of the scanner, payload bytes are cut out of the input
 * chunks (no copy) and handed to the entry writer as an async stream, one entry at a time, in archive order.
 */
import type { TarEntryRecord, TarScanEngine } from '../wasm/tar-format.js';
import { TarScanner } from '../wasm/tar-scanner.js';

/** tar-stream's header shape, which the layer writer takes. */
export interface ScannedHeader {
  name: string;
  type: 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';
  linkname: string | null;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  devmajor: number;
  devminor: number;
  pax: Record<string, string> | null;
  xattrs: Array<[string, Buffer]>;
}

const TYPES: Record<string, ScannedHeader['type']> = {
  '0': 'file', '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device', '5': 'directory', '6': 'fifo',
};
/** Payload bytes, and entries, the writer may lag behind the input before the input loop waits. */
const MAX_BUFFERED = 4 << 20;
const MAX_QUEUED_ENTRIES = 1024;

export function headerOf(rec: TarEntryRecord): ScannedHeader {
  // A pax mtime with nanoseconds goes where tar-stream puts it, as the decimal string the writer parses.
  const pax = rec.mtimeNs ? { mtime: `${rec.mtime}.${String(rec.mtimeNs).padStart(9, '0')}` } : null;
  return {
    name: rec.name, type: TYPES[rec.type]!, linkname: rec.linkname === '' ? null : rec.linkname,
    mode: rec.mode, uid: rec.uid, gid: rec.gid, size: rec.size, mtime: new Date(rec.mtime * 1000),
    devmajor: rec.devmajor, devminor: rec.devminor, pax, xattrs: rec.xattrs,
  };
}

/** One entry's payload: pushed by the input loop, iterated by the writer. */
class Payload implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private done = false;
  private wake: (() => void) | undefined;

  constructor(private readonly flow: Flow) {}

  push(bytes: Buffer): void {
    this.queue.push(bytes);
    this.flow.buffered += bytes.length;
    this.wake?.();
  }

  end(): void {
    this.done = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        this.flow.taken(next.length);
        yield next;
      } else if (this.done) return;
      else await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = undefined;
    }
  }
}

/**
 * Bytes handed to payloads and not yet taken by the writer, entries queued and not yet written (a layer of
 * nothing but empty files must not queue millions of them), and a way to wait for the writer.
 */
class Flow {
  buffered = 0;
  queued = 0;
  private waiting: (() => void) | undefined;

  get full(): boolean {
    return this.buffered > MAX_BUFFERED || this.queued > MAX_QUEUED_ENTRIES;
  }

  taken(n: number): void {
    this.buffered -= n;
    if (!this.full) this.release();
  }

  written(): void {
    this.queued--;
    if (!this.full) this.release();
  }

  release(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  wait(): Promise<void> {
    return new Promise((resolve) => { this.waiting = resolve; });
  }
}

/**
 * Reads `input` to its end through `engine`, calling `onChunk` for every chunk (hashing) and `entry` for every
 * entry, in order. Rejects with the scanner's error (a malformed or hostile archive) or the first entry's error.
 */
export async function applyScanned(
  input: AsyncIterable<Buffer>,
  engine: TarScanEngine,
  onChunk: (chunk: Buffer) => void,
  entry: (header: ScannedHeader, payload: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  const scanner = new TarScanner(engine);
  const flow = new Flow();
  let failure: { err: unknown } | undefined;
  let writing: Promise<void> = Promise.resolve();
  const open: Array<{ rec: TarEntryRecord; payload: Payload; delivered: number }> = [];
  let streamPos = 0;

  const start = (records: TarEntryRecord[]) => {
    for (const rec of records) {
      const payload = new Payload(flow);
      if (rec.size === 0) payload.end();
      else open.push({ rec, payload, delivered: 0 });
      flow.queued++;
      writing = writing.then(() => (failure ? undefined : entry(headerOf(rec), payload))).then(() => flow.written(), (err: unknown) => {
        failure ??= { err };
        flow.release();
      });
    }
  };

  try {
    for await (const chunk of input) {
      if (failure) break;
      onChunk(chunk);
      const chunkStart = streamPos;
      streamPos += chunk.length;
      start(scanner.push(chunk));
      // Hand each open entry the part of its payload this chunk holds.
      let done = 0;
      for (const o of open) {
        const from = Math.max(o.rec.offset + o.delivered, chunkStart);
        const to = Math.min(o.rec.offset + o.rec.size, streamPos);
        if (from < to) {
          o.payload.push(chunk.subarray(from - chunkStart, to - chunkStart));
          o.delivered += to - from;
        }
        if (o.delivered === o.rec.size) {
          o.payload.end();
          done++;
        } else break; // later entries start after this one's payload
      }
      if (done) open.splice(0, done);
      while (flow.full && !failure) await flow.wait();
    }
    if (!failure) start(scanner.end());
  } catch (err) {
    failure ??= { err };
  }
  // Entries still waiting for payload bytes can never get them now: end them so their writers finish.
  for (const o of open) o.payload.end();
  await writing;
  if (failure) throw failure.err;
}
