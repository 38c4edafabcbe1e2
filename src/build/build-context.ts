import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { packTar, type TarHeader } from '../engine/container-files.js';
import { decompressStream, sniffCompression } from '../fs/decompress.js';
import { applyScanned, type ScannedHeader } from '../fs/layer-scan.js';
import { TarScanJs } from '../wasm/tar-scan-js.js';
import { invalid } from '../util/errors.js';

/**
 * The build context as the daemon holds it: the context tar is parsed as it arrives and never unpacked file by
 * file. Each entry keeps its type, mode, mtime, link target and, for a file, the SHA-256 of its content (taken
 * while the bytes go by) and the bytes themselves: in memory up to a budget, then appended to one spool file
 * and found again by offset. COPY/ADD keys are checksums over these digests; a COPY that misses the cache gets
 * a tar of just its sources made from here; a RUN --mount=type=bind from the context and an ADD of a local
 * archive get the part they name written out (`materialize`).
 *
 * Names are as the tar scanner normalises them (relative, no `.` or `..`, never above the root; hard links
 * inside the context); parents missing from the tar are directories (0755). A path is looked up with its
 * symlinks resolved inside the context (an absolute target is relative to the context's root), never on the
 * host.
 */

export interface ContextEntry {
  type: 'file' | 'directory' | 'symlink';
  /** Permission bits with setuid/setgid/sticky. */
  mode: number;
  mtime: Date;
  linkname: string;
  size: number;
  /** A file's content digest (hex). */
  digest: string;
  /** A file's bytes when in memory; otherwise at `offset` in the spool file. */
  data?: Buffer;
  offset: number;
  /** A directory's children, by name. */
  children?: Set<string>;
}

const TYPE_BITS = { file: 0o100000, directory: 0o040000, symlink: 0o120000 } as const;
/** File bytes kept in memory per build before the rest goes to the spool file. */
export const CONTEXT_MEMORY_BUDGET = 64 << 20;
const MAX_SYMLINKS = 40;
const SPOOL_READ = 1 << 20;

const joinRel = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);
const parentOf = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const baseOf = (rel: string): string => rel.slice(rel.lastIndexOf('/') + 1);
const joinEntry = (prefix: string, name: string): string => (prefix === '' ? name : prefix.endsWith('/') ? `${prefix}${name}` : `${prefix}/${name}`);

export class BuildContext {
  private readonly entries = new Map<string, ContextEntry>();
  private spool: { fd: number; size: number } | undefined;
  private inMemory = 0;
  private made = 0;
  private readonly materialized = new Map<string, string>();
  /** Bytes and entries received, for the daemon's log and tests. */
  bytes = 0;

  /** `scratchDir` (created when first needed, removed by `dispose`) holds the spool file and what is written out. */
  constructor(private readonly scratchDir: string, private readonly memoryBudget = CONTEXT_MEMORY_BUDGET) {
    this.entries.set('', directory(0o755, new Date()));
  }

  /** Reads a context tar (plain or compressed) to its end; rejects with a one-line error for a bad or hostile tar. */
  static async receive(tar: Readable, scratchDir: string, memoryBudget = CONTEXT_MEMORY_BUDGET): Promise<BuildContext> {
    const context = new BuildContext(scratchDir, memoryBudget);
    try {
      const head = await firstChunk(tar);
      if (head === null) throw invalid('the build context is empty');
      const compression = sniffCompression(head);
      const input = compression === 'none' ? chain(head, tar) : decompressStream(compression, head, tar, 128 * 1024).output;
      await applyScanned(input, new TarScanJs(), (chunk) => { context.bytes += chunk.length; }, (h, payload) => context.add(h, payload));
    } catch (err) {
      tar.destroy();
      context.dispose();
      throw err;
    }
    return context;
  }

  private async add(h: ScannedHeader, payload: AsyncIterable<Buffer>): Promise<void> {
    const name = h.name;
    const mode = h.mode & 0o7777;
    if (h.type === 'file') {
      const hash = crypto.createHash('sha256');
      const chunks: Buffer[] = [];
      let size = 0;
      const inMemory = this.inMemory + h.size <= this.memoryBudget;
      const offset = inMemory ? 0 : this.spoolSize();
      for await (const chunk of payload) {
        hash.update(chunk);
        size += chunk.length;
        if (inMemory) chunks.push(chunk);
        else this.spoolWrite(chunk);
      }
      if (size !== h.size) throw invalid(`the build context is not a valid tar: ${JSON.stringify(name)} ends early`);
      const data = inMemory ? Buffer.concat(chunks, size) : undefined;
      if (inMemory) this.inMemory += size;
      return this.put(name, { type: 'file', mode, mtime: h.mtime, linkname: '', size, digest: hash.digest('hex'), data, offset });
    }
    for await (const _ of payload) { /* only files carry bytes */ }
    if (h.type === 'directory') {
      const existing = this.entries.get(name);
      if (existing?.type === 'directory') {
        existing.mode = mode;
        existing.mtime = h.mtime;
        return;
      }
      return this.put(name, { ...directory(mode, h.mtime) });
    }
    if (h.type === 'symlink') return this.put(name, { type: 'symlink', mode, mtime: h.mtime, linkname: h.linkname ?? '', size: 0, digest: '', offset: 0 });
    if (h.type === 'link') {
      const target = this.entries.get(h.linkname ?? '');
      if (target?.type !== 'file') throw invalid(`the build context is not a valid tar: hard link ${JSON.stringify(name)} points to ${JSON.stringify(h.linkname)}, not to a file before it`);
      return this.put(name, { ...target });
    }
    // Devices and fifos: nothing a COPY could use (the CLI does not send them).
  }

  private put(name: string, entry: ContextEntry): void {
    if (name === '') {
      if (entry.type !== 'directory') throw invalid('the build context is not a valid tar: its root is not a directory');
      const root = this.entries.get('')!;
      root.mode = entry.mode;
      root.mtime = entry.mtime;
      return;
    }
    const parent = this.ensureDir(parentOf(name), name);
    this.removeTree(name);
    this.entries.set(name, entry);
    parent.children!.add(baseOf(name));
  }

  /** The directory `rel`, created (with its parents) when missing; a non-directory on the way is an error. */
  private ensureDir(rel: string, below: string): ContextEntry {
    const existing = this.entries.get(rel);
    if (existing) {
      if (existing.type !== 'directory') throw invalid(`the build context is not a valid tar: ${JSON.stringify(below)} is below ${JSON.stringify(rel)}, which is not a directory`);
      return existing;
    }
    const parent = this.ensureDir(parentOf(rel), below);
    const dir = directory(0o755, new Date());
    this.entries.set(rel, dir);
    parent.children!.add(baseOf(rel));
    return dir;
  }

  private removeTree(rel: string): void {
    const entry = this.entries.get(rel);
    if (!entry) return;
    for (const child of entry.children ?? []) this.removeTree(joinRel(rel, child));
    this.entries.delete(rel);
  }

  /** Removes a file or tree (the Dockerfile and .dockerignore when .dockerignore lists them). */
  remove(rel: string): void {
    const clean = rel.replace(/^\/+/, '');
    if (clean === '' || !this.entries.has(clean)) return;
    this.removeTree(clean);
    this.entries.get(parentOf(clean))?.children?.delete(baseOf(clean));
  }

  /**
   * The canonical name of what `rel` names, its symlinks resolved inside the context (the last one only with
   * `followFinal`); undefined when nothing is there.
   */
  resolve(rel: string, followFinal: boolean): string | undefined {
    let parts = rel.split('/');
    let done: string[] = [];
    let hops = 0;
    while (parts.length > 0) {
      const part = parts.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') { done.pop(); continue; }
      const at = joinRel(done.join('/'), part);
      const entry = this.entries.get(at);
      if (!entry) return undefined;
      const last = parts.every((p) => p === '' || p === '.');
      if (entry.type === 'symlink' && (!last || followFinal)) {
        if (++hops > MAX_SYMLINKS) throw invalid(`too many levels of symbolic links in ${JSON.stringify(rel)}`);
        if (entry.linkname.startsWith('/')) done = [];
        parts = [...entry.linkname.split('/'), ...parts];
        continue;
      }
      if (!last && entry.type !== 'directory') return undefined;
      done.push(part);
    }
    return done.join('/');
  }

  /** The entry at a canonical name. */
  entry(rel: string): ContextEntry | undefined {
    return this.entries.get(rel);
  }

  /** A directory's children (sorted), symlinks in `rel` resolved; [] when it is not a directory. */
  list(rel: string): string[] {
    const at = this.resolve(rel, true);
    const entry = at === undefined ? undefined : this.entries.get(at);
    return entry?.children ? [...entry.children].sort() : [];
  }

  /** A file's content (the final symlink followed), or undefined when `rel` is not a file. */
  readFile(rel: string): Buffer | undefined {
    const at = this.resolve(rel, true);
    const entry = at === undefined ? undefined : this.entries.get(at);
    return entry?.type === 'file' ? this.content(entry) : undefined;
  }

  /** A checksum of entries as COPY sees them: names, types, modes, link targets and content digests (never times). */
  checksum(rels: string[]): string {
    const hash = crypto.createHash('sha256');
    const visit = (rel: string) => {
      const entry = this.entries.get(rel);
      if (!entry) throw invalid(`file not found in build context: ${rel}`);
      hash.update(`${rel}\0${TYPE_BITS[entry.type] | entry.mode}\0`);
      if (entry.type === 'symlink') hash.update(entry.linkname);
      else if (entry.type === 'file') hash.update(entry.digest);
      else for (const name of [...entry.children!].sort()) visit(joinRel(rel, name));
      hash.update('\0');
    };
    for (const rel of rels) visit(rel);
    return hash.digest('hex');
  }

  /** A tar of the entry at `rel` (and what is below it) named `top` (a directory's children `top/name`). */
  tar(rel: string, top: string): Readable {
    return packTar(async (put) => {
      const visit = async (at: string, name: string): Promise<void> => {
        const entry = this.entries.get(at)!;
        const header: TarHeader = { name, type: entry.type, mode: entry.mode, mtime: entry.mtime, uid: 0, gid: 0, size: 0 };
        if (entry.type === 'directory') {
          await put({ ...header, name: name.endsWith('/') ? name : `${name}/` });
          for (const child of [...entry.children!].sort()) await visit(joinRel(at, child), joinEntry(name, child));
        } else if (entry.type === 'symlink') await put({ ...header, linkname: entry.linkname });
        else await put({ ...header, size: entry.size }, this.chunks(entry));
      };
      if (!this.entries.has(rel)) throw invalid(`file not found in build context: ${rel}`);
      await visit(rel, top);
    });
  }

  /**
   * The entry at `rel` (the final symlink followed) written out under the scratch directory, for a bind
   * mount or a program that needs a path: a fresh copy when `writable`, else one copy per path and build.
   */
  materialize(rel: string, writable = false): string | undefined {
    const at = this.resolve(rel, true);
    if (at === undefined) return undefined;
    const known = writable ? undefined : this.materialized.get(at);
    if (known) return known;
    const dir = path.join(this.scratch(), `out-${this.made++}`);
    fs.mkdirSync(dir, { mode: 0o700 });
    const host = path.join(dir, at === '' ? 'context' : baseOf(at));
    this.writeOut(at, host);
    if (!writable) this.materialized.set(at, host);
    return host;
  }

  private writeOut(rel: string, host: string): void {
    const entry = this.entries.get(rel)!;
    if (entry.type === 'directory') {
      fs.mkdirSync(host, { mode: 0o700 });
      for (const child of entry.children!) this.writeOut(joinRel(rel, child), path.join(host, child));
      fs.chmodSync(host, entry.mode);
      fs.utimesSync(host, entry.mtime, entry.mtime);
    } else if (entry.type === 'symlink') {
      fs.symlinkSync(entry.linkname, host);
      fs.lutimesSync(host, entry.mtime, entry.mtime);
    } else {
      fs.writeFileSync(host, this.content(entry), { mode: 0o600, flag: 'wx' });
      fs.chmodSync(host, entry.mode);
      fs.utimesSync(host, entry.mtime, entry.mtime);
    }
  }

  /** Removes the spool file and everything written out. */
  dispose(): void {
    if (this.spool) fs.closeSync(this.spool.fd);
    this.spool = undefined;
    this.entries.clear();
    fs.rmSync(this.scratchDir, { recursive: true, force: true });
  }

  private content(entry: ContextEntry): Buffer {
    if (entry.data) return entry.data;
    const out = Buffer.allocUnsafe(entry.size);
    let done = 0;
    while (done < entry.size) {
      const n = fs.readSync(this.spool!.fd, out, done, entry.size - done, entry.offset + done);
      if (n === 0) throw new Error('the build context spool file is shorter than expected');
      done += n;
    }
    return out;
  }

  private *chunks(entry: ContextEntry): Iterable<Buffer> {
    if (entry.data) {
      yield entry.data;
      return;
    }
    for (let at = 0; at < entry.size; at += SPOOL_READ) {
      const length = Math.min(SPOOL_READ, entry.size - at);
      const buf = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const n = fs.readSync(this.spool!.fd, buf, done, length - done, entry.offset + at + done);
        if (n === 0) throw new Error('the build context spool file is shorter than expected');
        done += n;
      }
      yield buf;
    }
  }

  private scratch(): string {
    fs.mkdirSync(this.scratchDir, { recursive: true, mode: 0o700 });
    return this.scratchDir;
  }

  private spoolSize(): number {
    this.spool ??= { fd: fs.openSync(path.join(this.scratch(), 'context.spool'), 'w+', 0o600), size: 0 };
    return this.spool.size;
  }

  private spoolWrite(chunk: Buffer): void {
    let done = 0;
    while (done < chunk.length) done += fs.writeSync(this.spool!.fd, chunk, done, chunk.length - done, this.spool!.size + done);
    this.spool!.size += chunk.length;
  }
}

function directory(mode: number, mtime: Date): ContextEntry {
  return { type: 'directory', mode, mtime, linkname: '', size: 0, digest: '', offset: 0, children: new Set() };
}

/** The stream's first chunk (null when it ends at once), left for nobody else: the rest is read by `chain`. */
async function firstChunk(stream: Readable): Promise<Buffer | null> {
  for (;;) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) return chunk;
    if (stream.readableEnded) return null;
    await new Promise<void>((resolve, reject) => {
      const done = () => { stream.off('readable', done); stream.off('end', done); stream.off('error', fail); resolve(); };
      const fail = (err: Error) => { stream.off('readable', done); stream.off('end', done); reject(err); };
      stream.once('readable', done);
      stream.once('end', done);
      stream.once('error', fail);
    });
    if (stream.errored) throw stream.errored;
    if (stream.readableEnded && stream.readableLength === 0) return null;
  }
}

async function* chain(head: Buffer, rest: Readable): AsyncIterable<Buffer> {
  yield head;
  for await (const chunk of rest) yield chunk as Buffer;
}
