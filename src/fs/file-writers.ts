/**
 * Worker threads that create small files for the layer applier, so that the kernel's cost of creating a file
 * (~80–270 µs on the project's VM: inode, directory entry, journal) is paid on other cores while the main
 * thread keeps parsing and hashing the layer. The layer writer decides what may go here (new files in
 * directories it made itself, see LayerWriter) and waits for them before anything that could depend on them.
 *
 * A job is one whole file: open(O_CREAT|O_EXCL|O_NOFOLLOW), write, fchown, fchmod, futimes, close — the same
 * calls, with the same safety, as the synchronous path. Jobs travel in batches (one message per batch each
 * way) with their content copied into one 512 KiB buffer per batch, transferred to the thread and back, and
 * used again: no garbage buffers pile up in the threads' heaps (which first cost the daemon ~40 MB of RSS).
 *
 * The workers are plain JavaScript evaluated from a string: no file to find, the same in the bundled daemon,
 * the CLI bundle and the TypeScript tests. They are unref'd while idle, so they never keep a process alive, and
 * ended after 5 s without work, so an idle daemon does not keep their ~9 MB each.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';

export interface FileJob {
  /** A regular file (the default), a directory (mkdir with openMode), or a symlink to `target`. */
  kind?: 'dir' | 'symlink';
  target?: string;
  path: string;
  /** Where the content is in the batch's buffer. */
  offset?: number;
  length?: number;
  openMode: number;
  /** fchmod to this mode after the chown; undefined when open's mode is already the final one. */
  chmod: number | undefined;
  /** fchown to these ids; undefined when the file is created with them. */
  owner: { uid: number; gid: number; strict: boolean } | undefined;
  atime: number;
  mtime: number;
}

/** What went wrong with one job: the failing step, and the errno code and message. */
export interface FileJobError {
  step: 'create' | 'write' | 'chown';
  code: string | undefined;
  message: string;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
// A refused chown (EPERM, EINVAL: an id outside the mapping) is passed over unless ownership is required.
function own(j, chown) {
  try { chown(j.owner.uid, j.owner.gid); }
  catch (e) { if (j.owner.strict || (e.code !== 'EPERM' && e.code !== 'EINVAL')) throw Object.assign(e, { step: 'chown' }); }
}
parentPort.on('message', ({ jobs, buffer }) => {
  const bytes = new Uint8Array(buffer);
  const results = [];
  for (const j of jobs) {
    let step = 'create';
    try {
      if (j.kind === 'dir') {
        fs.mkdirSync(j.path, j.openMode);
        if (j.owner) {
          own(j, (uid, gid) => fs.lchownSync(j.path, uid, gid));
          step = 'write';
        }
        if (j.chmod !== undefined) fs.chmodSync(j.path, j.chmod); // a directory this thread just made
        results.push(null);
        continue;
      }
      if (j.kind === 'symlink') {
        fs.symlinkSync(j.target, j.path);
        if (j.owner) {
          own(j, (uid, gid) => fs.lchownSync(j.path, uid, gid));
          step = 'write';
        }
        fs.lutimesSync(j.path, j.atime, j.mtime);
        results.push(null);
        continue;
      }
      const fd = fs.openSync(j.path, FLAGS, j.openMode);
      step = 'write';
      try {
        for (let off = 0; off < j.length; ) off += fs.writeSync(fd, bytes, j.offset + off, j.length - off);
        if (j.owner) {
          own(j, (uid, gid) => fs.fchownSync(fd, uid, gid));
          step = 'write';
        }
        if (j.chmod !== undefined) fs.fchmodSync(fd, j.chmod);
        fs.futimesSync(fd, j.atime, j.mtime);
      } finally {
        fs.closeSync(fd);
      }
      results.push(null);
    } catch (e) {
      results.push({ step: (e && e.step) || step, code: e && e.code, message: String(e && e.message || e) });
    }
  }
  parentPort.postMessage({ results, buffer }, [buffer]);
});
`;

interface Batch {
  jobs: FileJob[];
  buffer: ArrayBuffer;
  done: (results: Array<FileJobError | null> | Error) => void;
}

const BUFFER_BYTES = 512 << 10;
/** Batch buffers back from the threads, for the next batches. */
const spareBuffers: ArrayBuffer[] = [];
function takeBuffer(): ArrayBuffer {
  return spareBuffers.pop() ?? new ArrayBuffer(BUFFER_BYTES);
}
function giveBack(buffer: ArrayBuffer): void {
  if (buffer.byteLength === BUFFER_BYTES && spareBuffers.length < 1) spareBuffers.push(buffer);
}

const IDLE_MS = 5000;

class PoolWorker {
  private worker: Worker | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly waiting: Batch[] = [];

  get load(): number {
    return this.waiting.length;
  }

  send(batch: Batch): void {
    const worker = this.worker ?? this.start();
    if (this.waiting.length === 0) worker.ref();
    clearTimeout(this.idleTimer);
    this.waiting.push(batch);
    worker.postMessage({ jobs: batch.jobs, buffer: batch.buffer }, [batch.buffer]);
  }

  private start(): Worker {
    // A small heap: the content arrives in transferred buffers (outside the heap) and is dropped after the write.
    const worker = new Worker(WORKER_SOURCE, { eval: true, stdout: false, stderr: false, resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 } });
    worker.on('message', ({ results, buffer }: { results: Array<FileJobError | null>; buffer: ArrayBuffer }) => {
      giveBack(buffer);
      this.waiting.shift()?.done(results);
      if (this.waiting.length === 0) {
        worker.unref();
        this.idleTimer = setTimeout(() => {
          if (this.worker !== worker || this.waiting.length > 0) return;
          this.worker = undefined;
          void worker.terminate();
        }, IDLE_MS).unref();
      }
    });
    const lost = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const batch of this.waiting.splice(0)) batch.done(err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`a file writer thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}

let pool: PoolWorker[] | undefined;

/**
 * How many writer threads layers get: ROOST_LAYER_WRITERS (0: every entry on the main thread), else one
 * fewer than the cores, 1 to 2. On the 2-vCPU VM one thread beat two (bookworm layer, main thread on CPU
 * 1.1 s either way, but 0.4 s waiting for a CPU with one thread and 0.7 s with two: the main thread, which
 * parses and hashes, is the one the others must not crowd out); more were not measured.
 */
export function layerWriterThreads(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.ROOST_LAYER_WRITERS;
  if (value !== undefined && value !== '') {
    const n = Number(value);
    return Number.isInteger(n) && n >= 0 ? Math.min(n, 16) : 0;
  }
  return Math.min(2, Math.max(1, (os.availableParallelism?.() ?? os.cpus().length) - 1));
}

function sharedPool(threads: number): PoolWorker[] {
  if (!pool || pool.length !== threads) pool = Array.from({ length: threads }, () => new PoolWorker());
  return pool;
}

/** Bytes of content and files a layer may have in flight before its writer waits. */
const MAX_INFLIGHT_BYTES = 4 << 20;
const MAX_INFLIGHT_FILES = 2048;
/** Batches sent and not answered yet (each holds a 512 KiB buffer): enough to keep a thread busy. */
const MAX_INFLIGHT_BATCHES = 2;
const BATCH_FILES = 32;
const BATCH_BYTES = 384 << 10;

/**
 * One layer's files in flight: submit() hands a file to the pool (waiting when too much is in flight),
 * settle() waits for all of them and reports the first failure with the entry's label.
 *
 * A thread does its jobs in the order it gets them, so an entry whose parent directory is still being made
 * goes to the thread that makes it (in the same batch, or after it); anything else to the least busy thread.
 */
export class ParallelFiles {
  /** Relative paths submitted and not yet written, and what each will be. */
  readonly pending = new Map<string, 'file' | 'dir' | 'symlink'>();
  private batch: Array<{ job: FileJob; rel: string; label: string }> = [];
  /** The thread the current batch must go to (it holds entries of a directory that thread is making). */
  private batchPin: PoolWorker | undefined;
  /** Directories in batches sent and not yet answered, and the thread making each. */
  private readonly makingDirs = new Map<string, PoolWorker>();
  private buffer: Uint8Array | undefined;
  private batchBytes = 0;
  private inflightBytes = 0;
  private inflightFiles = 0;
  private readonly outstanding = new Set<Promise<void>>();
  private failure: { error: FileJobError; label: string } | undefined;
  private next = 0;

  constructor(private readonly workers: PoolWorker[]) {}

  /** A writer set for one layer, or undefined when files are written on the main thread. */
  static create(env: NodeJS.ProcessEnv = process.env): ParallelFiles | undefined {
    const threads = layerWriterThreads(env);
    return threads > 0 ? new ParallelFiles(sharedPool(threads)) : undefined;
  }

  /** The first failure so far, if any (already thrown by settle() or submit()). */
  get failed(): { error: FileJobError; label: string } | undefined {
    return this.failure;
  }

  /**
   * Hands an entry (`data`: a file's content, at most 512 KiB, copied) to a thread; `parent` is the relative
   * path of its directory.
   */
  async submit(rel: string, parent: string, label: string, job: FileJob, data: Uint8Array | undefined, onFailure: (f: { error: FileJobError; label: string }) => Error): Promise<void> {
    this.enqueue(rel, parent, label, job, data, onFailure);
    while ((this.outstanding.size > MAX_INFLIGHT_BATCHES || this.inflightBytes > MAX_INFLIGHT_BYTES || this.inflightFiles > MAX_INFLIGHT_FILES) && this.outstanding.size > 0) {
      await Promise.race(this.outstanding);
    }
    if (this.failure) throw onFailure(this.failure);
  }

  /** submit() without waiting when much is in flight (the next submit() waits). */
  enqueue(rel: string, parent: string, label: string, job: FileJob, data: Uint8Array | undefined, onFailure: (f: { error: FileJobError; label: string }) => Error): void {
    if (this.failure) throw onFailure(this.failure);
    const size = data?.length ?? 0;
    if (size > BUFFER_BYTES) throw new Error(`a file of ${size} bytes is too large for a writer thread`);
    if (this.buffer && this.batchBytes + size > BUFFER_BYTES) this.send();
    const pin = this.makingDirs.get(parent);
    if (pin && this.batchPin && pin !== this.batchPin) this.send();
    if (pin) this.batchPin = pin;
    this.buffer ??= new Uint8Array(takeBuffer());
    if (data) this.buffer.set(data, this.batchBytes);
    job.offset = this.batchBytes;
    job.length = size;
    this.pending.set(rel, job.kind ?? 'file');
    this.batch.push({ job, rel, label });
    this.batchBytes += size;
    this.inflightBytes += size;
    this.inflightFiles++;
    if (this.batch.length >= BATCH_FILES || this.batchBytes >= BATCH_BYTES) this.send();
  }

  /** Waits for every file submitted; throws the first failure. */
  async settle(onFailure: (f: { error: FileJobError; label: string }) => Error): Promise<void> {
    this.send();
    while (this.outstanding.size > 0) await Promise.all(this.outstanding);
    if (this.failure) throw onFailure(this.failure);
  }

  /** Waits for every file submitted, ignoring failures (before a failed layer's directory is removed). */
  async abandon(): Promise<void> {
    this.send();
    while (this.outstanding.size > 0) await Promise.all(this.outstanding);
  }

  private send(): void {
    if (this.batch.length === 0) return;
    const items = this.batch;
    const bytes = this.batchBytes;
    const buffer = this.buffer!.buffer as ArrayBuffer;
    let target = this.batchPin;
    this.batch = [];
    this.batchBytes = 0;
    this.buffer = undefined;
    this.batchPin = undefined;
    if (!target) {
      // The least busy thread (round robin among equals).
      target = this.workers[this.next++ % this.workers.length]!;
      for (const w of this.workers) if (w.load < target.load) target = w;
    }
    const dirs = items.filter((i) => i.job.kind === 'dir').map((i) => i.rel);
    for (const dir of dirs) this.makingDirs.set(dir, target);
    const thread = target;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => { finished = resolve; });
    this.outstanding.add(done);
    target.send({
      jobs: items.map((i) => i.job),
      buffer,
      done: (results) => {
        for (const dir of dirs) if (this.makingDirs.get(dir) === thread) this.makingDirs.delete(dir);
        items.forEach((item, k) => {
          this.pending.delete(item.rel);
          const error = results instanceof Error ? { step: 'create' as const, code: undefined, message: results.message } : results[k];
          if (error && !this.failure) this.failure = { error, label: item.label };
        });
        this.inflightBytes -= bytes;
        this.inflightFiles -= items.length;
        this.outstanding.delete(done);
        finished();
      },
    });
  }
}
