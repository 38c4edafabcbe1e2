/**
 * Files in and out of a container: `cp`, `diff`, `export` and the archive API.
 *
 * The engine is root in its user namespace, so nothing stops it from following a symlink a container planted
 * (`/x -> /`) out of the rootfs onto the host (the shape of CVE-2018-15664 / CVE-2019-14271). So:
 *   - container paths are resolved here, component by component, as the container would see them: symlinks are
 *     expanded by hand (absolute targets restart at the rootfs, `..` stops at it), never by the kernel;
 *   - every directory on the way is opened with O_NOFOLLOW and the next component is looked up through that open
 *     directory (`/proc/self/fd/N/name`, which is openat(2) for Node): a directory the container swaps for a
 *     symlink while we work makes the walk fail instead of leaving the rootfs;
 *   - trees are archived through open directories too, and symlinks inside are stored as links, never followed;
 *   - archives are extracted with `applyLayer` (no traversal, never through a symlink, O_EXCL|O_NOFOLLOW) into
 *     the target directory held open by its file descriptor.
 * One race is left for a running container: while an archive is extracted into it, `applyLayer` checks each
 * parent directory once; a process in the container swapping such a directory for a symlink between that check
 * and the write could redirect the write (Docker closes this by extracting in a chroot).
 */
import { execFile } from 'node:child_process';
import fs, { constants as fsConstants } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { extract as tarExtract, pack as tarPack, type Header, type Pack } from 'tar-stream';
import { applyLayer, normalizeEntryPath } from '../fs/layer-apply.js';
import { TarOut } from '../fs/tar-out.js';
import { isLayerXattr, layerXattrValue, readTreeXattrs, type Xattrs } from '../fs/xattrs.js';
import { toContainerOwner, toEngineOwner, type IdMappings } from '../runtime/id-maps.js';
import { EngineError, invalid } from '../util/errors.js';

const posix = path.posix;
const readFd = promisify(fs.read);

/** Linux follows at most 40 symlinks in one lookup; so do we. */
export const MAX_SYMLINKS = 40;
const O_DIR_NOFOLLOW = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;
const O_FILE_NOFOLLOW = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW;

/** A tar header as tar-stream reads and writes it (a null type: one it does not know). */
export type TarHeader = Partial<Omit<Header, 'type' | 'linkname' | 'pax'>> & {
  name: string;
  type?: Header['type'] | null;
  linkname?: string | null;
  pax?: Record<string, string> | null;
};

/** Where a container's files are, and how to name it in messages. */
export interface ContainerRoot {
  rootfs: string;
  /** The container as the user named it (Docker's "Could not find the file X in container Y"). */
  name: string;
  /**
   * The container's own user namespace mappings (--userns=keep-id): archives carry owners as the container
   * sees them, so they are translated on the way out and back on the way in.
   */
  ids?: IdMappings;
}

/** Docker's `X-Docker-Container-Path-Stat`; `mode` in Go's os.FileMode bits. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** One line of `docker diff`: 0 modified, 1 added, 2 deleted. */
export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;
const quote = (s: string): string => JSON.stringify(s);

function fileNotFound(root: ContainerRoot, containerPath: string): EngineError {
  return new EngineError('not_found', `Could not find the file ${containerPath} in container ${root.name}`);
}

/** The rootfs changed under us while we walked it (a running container racing the copy); other errors pass. */
function raced(containerPath: string, err: unknown): unknown {
  if (!['ELOOP', 'ENOTDIR', 'ENOENT'].includes(errCode(err) ?? '')) return err;
  return new EngineError('conflict', `${containerPath} changed while it was being copied, try again`, { cause: err });
}

// ---- paths ----

/** Docker's rule: a trailing `/` or a final `.` names the directory itself, so a final symlink is followed. */
export function assertsDirectory(p: string): boolean {
  return p.endsWith('/') || p === '.' || p.endsWith('/.');
}

/** The path cleaned lexically the way Docker does (`..` the user wrote is not resolved through symlinks), keeping a trailing `/` or `/.`. */
export function cleanContainerPath(p: string): string {
  const clean = posix.normalize(`/${p}`).replace(/\/+$/, '') || '/';
  if (p === '.' || p.endsWith('/.')) return clean === '/' ? '/.' : `${clean}/.`;
  if (p.endsWith('/') && clean !== '/') return `${clean}/`;
  return clean;
}

/** Go's filepath.Base: trailing slashes dropped, `/` for the root. */
export function goBase(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return p === '' ? '.' : '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

const components = (p: string): string[] => p.split('/').filter((c) => c !== '' && c !== '.');

function lstatIfExists(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

const at = (dirFd: number, name: string) => `/proc/self/fd/${dirFd}/${name}`;

/**
 * The result of a walk: the resolved components, and the open directory holding the last one (the root itself
 * when there are none); `dirFd` is undefined when some parent does not exist.
 */
interface Walk {
  parts: string[];
  dirFd: number | undefined;
  close(): void;
}

/**
 * Resolves `containerPath` inside `rootfs`, holding each directory open on the way. A symlink in the middle is
 * always followed, the final one only with `followFinal` (or when the path asserts a directory).
 */
function walkInRoot(rootfs: string, containerPath: string, followFinal: boolean): Walk {
  if (containerPath.includes('\0')) throw invalid(`path ${quote(containerPath)} contains a NUL byte`);
  const follow = followFinal || assertsDirectory(containerPath);
  const todo = components(cleanContainerPath(containerPath));
  // stack[i] is the directory holding parts[i]; stack[0] the root. An undefined fd: that directory does not exist.
  const rootFd = fs.openSync(rootfs, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  const stack: Array<number | undefined> = [rootFd];
  const parts: string[] = [];
  const closeAll = () => {
    for (const fd of new Set(stack)) if (fd !== undefined) fs.closeSync(fd);
    stack.length = 0;
  };
  try {
    let links = 0;
    while (todo.length > 0) {
      const part = todo.shift()!;
      const dirFd = stack[stack.length - 1];
      if (part === '..') {
        if (parts.length > 0) {
          parts.pop();
          const fd = stack.pop();
          if (fd !== undefined) fs.closeSync(fd);
        }
        continue;
      }
      const final = todo.length === 0;
      const st = dirFd === undefined ? undefined : lstatIfExists(at(dirFd, part));
      if (st?.isSymbolicLink() && (!final || follow)) {
        if (++links > MAX_SYMLINKS) throw invalid(`too many levels of symbolic links in ${containerPath}`);
        const target = fs.readlinkSync(at(dirFd!, part));
        if (target.startsWith('/')) {
          while (stack.length > 1) {
            const fd = stack.pop();
            if (fd !== undefined) fs.closeSync(fd);
          }
          parts.length = 0;
        }
        todo.unshift(...components(target));
        continue;
      }
      if (!final) {
        let next: number | undefined;
        if (st?.isDirectory()) {
          try {
            next = fs.openSync(at(dirFd!, part), O_DIR_NOFOLLOW);
          } catch (err) {
            throw raced(containerPath, err);
          }
        }
        stack.push(next);
      }
      parts.push(part);
    }
    // The directory holding the last part stays open for the caller; the rest closes now.
    const holder = parts.length === 0 ? rootFd : stack[parts.length - 1];
    for (const fd of new Set(stack)) if (fd !== undefined && fd !== holder) fs.closeSync(fd);
    stack.length = 0;
    let closed = false;
    return {
      parts,
      dirFd: holder,
      close: () => {
        if (!closed && holder !== undefined) fs.closeSync(holder);
        closed = true;
      },
    };
  } catch (err) {
    closeAll();
    throw err;
  }
}

export interface ResolvedPath {
  /** The absolute path in the container, every symlink resolved (but the last one unless followed). */
  path: string;
  /** The same path on the host, inside `rootfs`. */
  hostPath: string;
}

/**
 * Resolves a path as the container would see it: symlinks followed inside `rootfs` (absolute targets are
 * relative to it, `..` stops at its root), the final symlink only with `followFinal` or a trailing `/`.
 * Never leaves `rootfs`; more than 40 symlinks is an error. The path need not exist.
 */
export function resolveInRoot(rootfs: string, containerPath: string, opts: { followFinal: boolean }): ResolvedPath {
  const walk = walkInRoot(rootfs, containerPath, opts.followFinal);
  walk.close();
  return { path: `/${walk.parts.join('/')}`, hostPath: path.join(rootfs, ...walk.parts) };
}

// ---- stat ----

/** Go's os.FileMode for a stat: permission bits plus the type and special bits high up. */
export function goFileMode(st: fs.Stats): number {
  let mode = st.mode & 0o777;
  if (st.isDirectory()) mode += 2 ** 31;
  else if (st.isSymbolicLink()) mode += 2 ** 27;
  else if (st.isBlockDevice()) mode += 2 ** 26;
  else if (st.isCharacterDevice()) mode += 2 ** 26 + 2 ** 21;
  else if (st.isFIFO()) mode += 2 ** 25;
  else if (st.isSocket()) mode += 2 ** 24;
  if (st.mode & 0o4000) mode += 2 ** 23;
  if (st.mode & 0o2000) mode += 2 ** 22;
  if (st.mode & 0o1000) mode += 2 ** 20;
  return mode;
}

/** Go's time.Time in JSON (RFC 3339 with nanoseconds, trailing zeros dropped). */
function goTime(st: fs.BigIntStats): string {
  const seconds = st.mtimeNs / 1_000_000_000n;
  const nanos = Number(st.mtimeNs % 1_000_000_000n);
  const base = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d+Z$/, '');
  return nanos === 0 ? `${base}Z` : `${base}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}Z`;
}

/** lstat of the last component of a walk (fstat of the root when there is none); undefined when missing. */
function statWalk(walk: Walk, bigint: true): fs.BigIntStats | undefined;
function statWalk(walk: Walk, bigint?: false): fs.Stats | undefined;
function statWalk(walk: Walk, bigint = false): fs.Stats | fs.BigIntStats | undefined {
  if (walk.dirFd === undefined) return undefined;
  const name = walk.parts.at(-1);
  try {
    if (name === undefined) return bigint ? fs.fstatSync(walk.dirFd, { bigint: true }) : fs.fstatSync(walk.dirFd);
    return bigint ? fs.lstatSync(at(walk.dirFd, name), { bigint: true }) : fs.lstatSync(at(walk.dirFd, name));
  } catch (err) {
    if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

function statOf(root: ContainerRoot, containerPath: string, walk: Walk): PathStat {
  const big = statWalk(walk, true);
  const st = statWalk(walk);
  if (!big || !st) throw fileNotFound(root, containerPath);
  let linkTarget = '';
  if (st.isSymbolicLink()) linkTarget = resolveInRoot(root.rootfs, containerPath, { followFinal: true }).path;
  return { name: goBase(cleanContainerPath(containerPath)), size: st.size, mode: goFileMode(st), mtime: goTime(big), linkTarget };
}

/** HEAD /containers/{id}/archive: what is at the path (a final symlink is not followed; linkTarget says where it leads). */
export function statPath(root: ContainerRoot, containerPath: string): PathStat {
  if (containerPath === '') throw invalid('bad parameter: path cannot be empty');
  const walk = walkInRoot(root.rootfs, containerPath, false);
  try {
    return statOf(root, containerPath, walk);
  } finally {
    walk.close();
  }
}

// ---- archiving ----

function joinEntry(prefix: string, name: string): string {
  if (prefix === '') return name;
  return prefix.endsWith('/') ? `${prefix}${name}` : `${prefix}/${name}`;
}

/** A header for what `st` describes, or undefined for what tar cannot hold (sockets). */
function headerFor(st: fs.Stats, name: string, linkTarget: () => string): TarHeader | undefined {
  const header: TarHeader = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime, size: 0 };
  // ustar holds 7 octal digits of an id; larger ones (high subordinate ids) go into pax records.
  if (st.uid > 0o7777777 || st.gid > 0o7777777) header.pax = { uid: String(st.uid), gid: String(st.gid) };
  if (st.isDirectory()) return { ...header, name: name.endsWith('/') ? name : `${name}/`, type: 'directory' };
  if (st.isFile()) return { ...header, type: 'file', size: st.size };
  if (st.isSymbolicLink()) return { ...header, type: 'symlink', linkname: linkTarget() };
  if (st.isFIFO()) return { ...header, type: 'fifo' };
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    const devmajor = Math.floor(st.rdev / 256) & 0xfff;
    const devminor = (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00);
    return { ...header, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor, devminor };
  }
  return undefined;
}

const SMALL_FILE = 64 * 1024;

/** Like fileChunks, in one synchronous read (for files of at most SMALL_FILE bytes). */
function smallFile(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  let at = 0;
  while (at < size) {
    const n = fs.readSync(fd, buf, at, size - at, null);
    if (n === 0) break; // shrank: the rest stays zeros
    at += n;
  }
  return buf;
}

/** Reads exactly `size` bytes (a file that shrank meanwhile is padded with zeros, one that grew is cut). */
async function* fileChunks(fd: number, size: number): AsyncGenerator<Buffer> {
  let left = size;
  while (left > 0) {
    const buf = Buffer.allocUnsafe(Math.min(left, 256 * 1024));
    const { bytesRead } = await readFd(fd, buf, 0, buf.length, null);
    if (bytesRead === 0) {
      yield Buffer.alloc(left);
      return;
    }
    left -= bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

/** Writes one entry into the pack, with backpressure; resolves once it is encoded. */
async function writeEntry(pack: Pack, header: TarHeader, content?: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
  let sink!: ReturnType<Pack['entry']>;
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header as Parameters<Pack['entry']>[0], (err?: Error | null) => (err ? reject(err) : resolve()));
  });
  done.catch(() => {}); // it may fail while the content is still being written: awaited below

  if (header.type === 'file' || header.type === 'contiguous-file') {
    for await (const chunk of content ?? []) {
      if (sink.destroyed) break;
      // 'close' too: a pack destroyed meanwhile (the reader went away) never drains.
      if (!sink.write(chunk)) await new Promise<void>((resolve) => { sink.once('drain', resolve); sink.once('close', resolve); });
    }
    sink.end(undefined);
  }
  await done;
}

/**
 * A Node stream reading a tar-stream pack (a streamx stream), for pipeline() and applyLayer. Destroying it
 * destroys the pack at once (Readable.from would first wait for the pack's iterator) and runs `onDestroy`.
 */
function nodeReadable(pack: Pack, onDestroy?: () => void): Readable {
  const out = new Readable({
    read: () => { pack.resume(); },
    destroy: (err, callback) => {
      pack.destroy();
      onDestroy?.();
      callback(err);
    },
  });
  pack.on('data', (chunk: unknown) => {
    if (!out.push(chunk)) pack.pause();
  });
  pack.on('end', () => out.push(null));
  pack.on('error', (err: Error) => out.destroy(err));
  // The error may come before the consumer listens (a bad first entry while applyLayer is still preparing):
  // it is kept in `out.errored` for the consumer, and must not crash the daemon meanwhile.
  out.on('error', () => {});
  pack.pause();
  return out;
}

/** Walks trees through open directories and writes them into a tar (TarOut: headers encoded in batches). */
class TreePacker {
  /** dev:ino of files with several links → the entry that stored them first. */
  private readonly linked = new Map<string, string>();
  /** Extended attributes to store, by entry name (export only). */
  xattrs: Map<string, Xattrs> | undefined;

  constructor(private readonly out: TarOut, private readonly skip?: EntryFilter, private readonly ids?: IdMappings) {}

  /** headerFor, with the owner as the container sees it. */
  private header(st: fs.Stats, name: string, linkTarget: () => string): TarHeader | undefined {
    const header = headerFor(st, name, linkTarget);
    if (!header || !this.ids) return header;
    const { uid, gid } = toContainerOwner({ uid: st.uid, gid: st.gid }, this.ids);
    const { pax: _engineIds, ...rest } = header;
    return { ...rest, uid, gid };
  }

  /** One entry, with its extended attributes (in a PAX header) when it has any. */
  private put(header: TarHeader, content?: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    return this.out.entry(header, content, this.xattrs?.get(header.name.replace(/\/$/, '')));
  }

  /** `name` inside the open directory `dirFd`, stored as `entryName`; a directory with everything below it. */
  async entry(dirFd: number, name: string, entryName: string): Promise<void> {
    const file = at(dirFd, name);
    const st = lstatIfExists(file);
    if (!st) return; // gone since the directory was read (a running container)
    const skipped = this.skip?.(entryName, st.isDirectory());
    if (skipped === 'all') return;
    if (st.isDirectory()) {
      let fd: number;
      try {
        fd = fs.openSync(file, O_DIR_NOFOLLOW);
      } catch (err) {
        if (errCode(err) === 'ENOENT' || errCode(err) === 'ELOOP' || errCode(err) === 'ENOTDIR') return;
        throw err;
      }
      try {
        await this.directory(fd, fs.fstatSync(fd), entryName, skipped !== 'self');
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    if (st.isFile()) {
      await this.file(dirFd, name, st, entryName);
      return;
    }
    const header = this.header(st, entryName, () => fs.readlinkSync(file));
    if (header) await this.put(header);
  }

  /** The open directory `fd`: its own entry (when `withSelf`) and its children below `entryName`. */
  async directory(fd: number, st: fs.Stats, entryName: string, withSelf: boolean): Promise<void> {
    if (withSelf) await this.put(this.header(st, entryName, () => '')!);
    const names = (await fsp.readdir(`/proc/self/fd/${fd}`)).sort();
    for (const child of names) await this.entry(fd, child, joinEntry(entryName, child));
  }

  private async file(dirFd: number, name: string, st: fs.Stats, entryName: string): Promise<void> {
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1) {
      const first = this.linked.get(key);
      if (first !== undefined) {
        await this.put({ ...this.header(st, entryName, () => '')!, type: 'link', linkname: first, size: 0 });
        return;
      }
    }
    let fd: number;
    try {
      fd = fs.openSync(at(dirFd, name), O_FILE_NOFOLLOW);
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ELOOP') return;
      throw err;
    }
    try {
      const now = fs.fstatSync(fd);
      if (!now.isFile()) return;
      if (st.nlink > 1) this.linked.set(key, entryName);
      const header = this.header(now, entryName, () => '')!;
      // A small file in one synchronous read, handed to the pack as one buffer: a source tree is mostly small
      // files, and the per-entry stream and async reads cost more than the bytes.
      if (now.size <= SMALL_FILE) await this.put(header, [smallFile(fd, now.size)]);
      else await this.put(header, fileChunks(fd, now.size));
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Leaves entries out of a tar: 'all' (and what is below), 'self' (a directory's own entry, not its children). */
export type EntryFilter = (entryName: string, isDir: boolean) => 'all' | 'self' | undefined;

/** A tar stream filled by `produce`; `cleanup` runs once, however it ends. */
function tarStream(produce: (packer: TreePacker) => Promise<void>, cleanup: () => void, skip?: EntryFilter, ids?: IdMappings): Readable {
  let cleaned = false;
  const clean = () => {
    if (!cleaned) cleanup();
    cleaned = true;
  };
  const out = new TarOut();
  void produce(new TreePacker(out, skip, ids)).then(() => out.end()).then(clean, (err: unknown) => {
    clean();
    out.fail(err);
  });
  return out.stream;
}

/**
 * A tar made of entries given one by one (`put(header, content)`, awaited in order): for archives whose
 * content is not a host directory (the build context, held in memory).
 */
export function packTar(produce: (put: (header: TarHeader, content?: Iterable<Buffer> | AsyncIterable<Buffer>) => Promise<void>) => Promise<void>): Readable {
  const out = new TarOut();
  void produce((header, content) => out.entry(header, content)).then(() => out.end()).catch((err: unknown) => out.fail(err));
  return out.stream;
}

/**
 * Tar of the open directory's entry `name` (or, with `name` undefined, of the directory itself), stored as
 * `entryName` and below it. `entryName` `/` stores the root as `/` and its children as `/child` (what Docker
 * sends for the container's root); `''` stores only the children, as `child`. Takes over `dirFd` and closes it.
 */
function tarAt(dirFd: number, name: string | undefined, entryName: string, skip?: EntryFilter, ids?: IdMappings): Readable {
  return tarStream(async (packer) => {
    if (name !== undefined) return packer.entry(dirFd, name, entryName);
    await packer.directory(dirFd, fs.fstatSync(dirFd), entryName, entryName !== '');
  }, () => fs.closeSync(dirFd), skip, ids);
}

/**
 * GET /containers/{id}/archive: the stat and a tar of what is at the path, named like Docker names it: `hosts`
 * for /etc/hosts, `d/`, `d/...` for /tmp/d, `./...` for /tmp/d/. (the content), `/`, `/bin/...` for the root.
 * A final symlink is archived as a link unless the path ends in `/`; symlinks inside are never followed.
 */
export function archivePath(root: ContainerRoot, containerPath: string): { stat: PathStat; stream: Readable } {
  if (containerPath === '') throw invalid('bad parameter: path cannot be empty');
  const walk = walkInRoot(root.rootfs, containerPath, false);
  let stat: PathStat;
  try {
    stat = statOf(root, containerPath, walk);
  } catch (err) {
    walk.close();
    throw err;
  }
  const top = stat.name;
  const last = walk.parts.at(-1);
  return { stat, stream: tarAt(walk.dirFd!, last, top === '/' ? '/' : top, undefined, root.ids) };
}

/**
 * GET /containers/{id}/export: the whole root filesystem, entries relative (`bin/busybox`), no entry for the
 * root, with extended attributes (read first, by one getfattr over the tree; overlayfs' own are left out).
 */
export function exportRootfs(root: Pick<ContainerRoot, 'rootfs' | 'ids'>): Readable {
  const fd = fs.openSync(root.rootfs, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  return tarStream(async (packer) => {
    packer.xattrs = await entryXattrs(root.rootfs);
    await packer.directory(fd, fs.fstatSync(fd), '', false);
  }, () => fs.closeSync(fd), undefined, root.ids);
}

/** The layer-worthy extended attributes under `dir`, by entry name relative to it. */
async function entryXattrs(dir: string): Promise<Map<string, Xattrs>> {
  const byEntry = new Map<string, Xattrs>();
  for (const [file, all] of await readTreeXattrs(dir)) {
    const kept: Xattrs = all.filter(([name]) => isLayerXattr(name)).map(([name, value]) => [name, layerXattrValue(name, value)]);
    const rel = path.relative(dir, file);
    if (kept.length > 0 && rel !== '' && !rel.startsWith('..')) byEntry.set(rel.split(path.sep).join('/'), kept);
  }
  return byEntry;
}

/**
 * Tar of a path on the host (the `cp` client's side): `name` inside `dir` stored as `entryName`, or with `name`
 * undefined the directory itself. `dir` is opened as given (its symlinks are the user's own).
 */
export function tarHostPath(dir: string, name: string | undefined, entryName: string, skip?: EntryFilter): Readable {
  const fd = fs.openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  return tarAt(fd, name, entryName, skip);
}

// ---- extracting ----

/** A plain or gzip-compressed tar as a plain one. */
async function plainTar(body: Readable): Promise<Readable> {
  const first = await new Promise<Buffer | null>((resolve, reject) => {
    const onReadable = () => {
      cleanup();
      resolve(body.read(2) ?? body.read());
    };
    const onEnd = () => { cleanup(); resolve(null); };
    const onError = (err: unknown) => { cleanup(); reject(err); };
    const cleanup = () => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    body.on('readable', onReadable);
    body.once('end', onEnd);
    body.once('error', onError);
  });
  if (first) body.unshift(first);
  if (first && first[0] === 0x1f && first[1] === 0x8b) {
    const gunzip = zlib.createGunzip();
    body.on('error', (err) => gunzip.destroy(err));
    gunzip.on('error', () => body.resume());
    return body.pipe(gunzip);
  }
  return body;
}

/**
 * Copies a tar while `rewrite` checks or changes each header (undefined drops the entry), then adds the files of
 * `append`. A rewrite that throws stops the copy: the output fails with that error. Pax `path`/`linkpath`
 * records are dropped (the header's name wins).
 */
export function rewriteTar(input: Readable, rewrite: (header: TarHeader) => TarHeader | undefined, append: Array<{ name: string; content: Buffer }> = []): Readable {
  const extract = tarExtract();
  const pack = tarPack();
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  const run = async () => {
    for await (const entry of extract) {
      const original = entry.header as TarHeader;
      if (original.type === null || original.type === undefined) throw invalid(`archive entry ${quote(original.name)} has an unsupported tar type`);
      const header = rewrite({ ...original, pax: original.pax ? { ...original.pax } : original.pax });
      if (!header) {
        entry.resume();
        continue;
      }
      if (header.pax) {
        for (const key of ['path', 'linkpath', 'size']) delete header.pax[key];
        if (Object.keys(header.pax).length === 0) header.pax = undefined;
      }
      if (header.type === 'directory' && !header.name.endsWith('/')) header.name += '/';
      if (header.type === 'file' || header.type === 'contiguous-file') await writeEntry(pack, header, entry as AsyncIterable<Buffer>);
      else {
        entry.resume();
        await writeEntry(pack, header);
      }
    }
    for (const file of append) await writeEntry(pack, { name: file.name, type: 'file', size: file.content.length, mode: 0o644, mtime: new Date() }, [file.content]);
  };
  run().then(
    () => pack.finalize(),
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      const failure = err instanceof EngineError ? err : invalid(`not a valid tar archive: ${message}`);
      extract.destroy();
      pack.destroy(failure);
    },
  );
  return nodeReadable(pack, () => {
    extract.destroy();
    input.unpipe();
  });
}

/**
 * applyLayer speaks of layers; here the user sent an archive. `hostRoot` in messages (the extraction directory as
 * the engine reached it) is shown as `shownRoot`.
 */
export function archiveError(err: unknown, hostRoot?: string, shownRoot?: string): EngineError {
  const base = err instanceof EngineError ? err : new EngineError('internal', String((err as Error)?.message ?? err), { cause: err });
  let message = base.message.replace(/^(cannot extract )?layer /, (_m, c?: string) => `${c ?? ''}archive `);
  if (hostRoot !== undefined && shownRoot !== undefined) {
    message = message.split(`${hostRoot}/`).join(shownRoot === '/' ? '/' : `${shownRoot}/`).split(hostRoot).join(shownRoot);
  }
  return message === base.message ? base : new EngineError(base.code, message, { hint: base.hint, cause: base });
}

/**
 * Docker's noOverwriteDirNonDir: refuses an entry that would replace a directory with a non-directory or the
 * reverse. Checks only through real directories (a symlink on the way is refused by applyLayer anyway).
 */
export function overwriteGuard(root: string, shown: (rel: string) => string): (rel: string, isDir: boolean) => void {
  return (rel, isDir) => {
    let cur = root;
    const parts = rel.split('/');
    for (let i = 0; i < parts.length; i++) {
      cur = `${cur}/${parts[i]}`;
      const st = lstatIfExists(cur);
      if (!st) return;
      if (i < parts.length - 1) {
        if (!st.isDirectory()) return;
        continue;
      }
      if (st.isDirectory() && !isDir) throw invalid(`cannot overwrite directory ${quote(shown(rel))} with non-directory`);
      if (!st.isDirectory() && isDir) throw invalid(`cannot overwrite non-directory ${quote(shown(rel))} with directory`);
    }
  };
}

export interface ExtractOptions {
  /** Refuse to replace a directory with a non-directory or the reverse (the docker CLI always asks for this). */
  noOverwriteDirNonDir: boolean;
  /** Owner for every entry (`copyUIDGID` with a container user); otherwise the archive's owners are kept. */
  owner?: { uid: number; gid: number };
  /** Docker's ReadonlyRootfs. */
  readOnly?: boolean;
}

/**
 * PUT /containers/{id}/archive: extracts a tar (plain or gzip) into the directory at `containerPath` (a final
 * symlink is followed). The directory must exist. The archive's entry for the directory itself, if any, is
 * skipped (the directory keeps its owner and mode, as with Docker); `.wh.` names are ordinary files.
 */
export async function extractInto(root: ContainerRoot, containerPath: string, body: Readable, opts: ExtractOptions): Promise<void> {
  if (containerPath === '') throw invalid('bad parameter: path cannot be empty');
  const walk = walkInRoot(root.rootfs, containerPath, true);
  let targetFd: number;
  try {
    const st = statWalk(walk);
    if (!st) throw fileNotFound(root, containerPath);
    if (!st.isDirectory()) throw invalid('extraction point is not a directory');
    if (opts.readOnly) throw invalid('container rootfs is marked read-only');
    const last = walk.parts.at(-1);
    try {
      targetFd = last === undefined ? fs.openSync(`/proc/self/fd/${walk.dirFd!}`, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY) : fs.openSync(at(walk.dirFd!, last), O_DIR_NOFOLLOW);
    } catch (err) {
      throw raced(containerPath, err);
    }
  } finally {
    walk.close();
  }
  // Through the open descriptor: the directory cannot be swapped for a symlink under us. /proc/<pid>, not
  // /proc/self: applyLayer's helper tools (mkfifo) resolve the path in their own process.
  const target = `/proc/${process.pid}/fd/${targetFd}`;
  const shownDir = `/${walk.parts.join('/')}`;
  const shown = (rel: string) => posix.join(shownDir, rel);
  const guard = opts.noOverwriteDirNonDir ? overwriteGuard(target, shown) : undefined;
  try {
    const tar = rewriteTar(await plainTar(body), (header) => {
      let rel: string;
      try {
        rel = normalizeEntryPath(header.name);
      } catch (err) {
        throw archiveError(err, target, shownDir);
      }
      if (rel === '') return undefined;
      guard?.(rel, header.type === 'directory');
      if (opts.owner || root.ids) {
        const named = opts.owner ?? { uid: Number(header.pax?.uid ?? header.uid ?? 0), gid: Number(header.pax?.gid ?? header.gid ?? 0) };
        const { uid, gid } = root.ids ? toEngineOwner(named, root.ids) : named;
        header.uid = uid;
        header.gid = gid;
        if (header.pax) { delete header.pax.uid; delete header.pax.gid; }
      }
      return header;
    });
    await applyLayer(tar, target, { whiteouts: 'none', ownership: true });
  } catch (err) {
    throw archiveError(err, target, shownDir);
  } finally {
    fs.closeSync(targetFd);
  }
}

// ---- changes ----

const isWhiteout = (st: fs.Stats) => st.isCharacterDevice() && st.rdev === 0;

/** Unescapes getfattr's octal escapes (`\012`) and `\\` in a file name. */
function unescapeGetfattr(text: string): string {
  return Buffer.from(text.replace(/\\(\\|[0-7]{3})/g, (_m, g: string) => (g === '\\' ? '\\' : String.fromCharCode(parseInt(g, 8)))), 'latin1').toString('utf8');
}

/**
 * Directories under `dir` marked opaque (user.overlay.opaque — or fuse-overlayfs' own xattr — = y), relative
 * ('' the root), from one `getfattr -R` (never following symlinks). Without getfattr: none (an approximation).
 */
function opaqueDirs(dir: string): Promise<Set<string>> {
  return new Promise((resolve) => {
    execFile('getfattr', ['-R', '-P', '--absolute-names', '-d', '-m', '^(user|trusted)\\.(overlay|fuseoverlayfs)\\.opaque$', '--', dir], { encoding: 'latin1', maxBuffer: 64 << 20 }, (_err, stdout) => {
      const found = new Set<string>();
      let current: string | undefined;
      for (const line of (stdout ?? '').split('\n')) {
        if (line.startsWith('# file: ')) current = unescapeGetfattr(line.slice(8));
        else if (current !== undefined && /opaque="y"$/.test(line)) found.add(path.relative(dir, current).split(path.sep).join('/'));
      }
      resolve(found);
    });
  });
}

/** Opaque dirs of lower layers: a layer never changes once unpacked, so once per layer per daemon. */
const layerOpaqueCache = new Map<string, Promise<Set<string>>>();

/**
 * The image's layers as overlayfs stacks them (topmost first): what a path looks like below the container's
 * upper dir, whiteouts and opaque directories of upper layers hiding what lower ones have.
 */
class LowerLayers {
  constructor(private readonly dirs: string[]) {}

  private opaque(dir: string): Promise<Set<string>> {
    let found = layerOpaqueCache.get(dir);
    if (!found) {
      found = opaqueDirs(dir);
      layerOpaqueCache.set(dir, found);
    }
    return found;
  }

  async lookup(rel: string): Promise<fs.Stats | undefined> {
    const parts = rel.split('/');
    for (const dir of this.dirs) {
      const opaque = await this.opaque(dir);
      let hiddenBelow = false;
      let absent = false;
      let prefix = '';
      for (let i = 0; i < parts.length - 1; i++) {
        prefix = prefix === '' ? parts[i]! : `${prefix}/${parts[i]}`;
        const st = lstatIfExists(path.join(dir, prefix));
        if (!st) {
          absent = true;
          break;
        }
        if (!st.isDirectory()) return undefined; // a whiteout or a file hides everything below it
        if (opaque.has(prefix)) hiddenBelow = true;
      }
      if (!absent) {
        const st = lstatIfExists(path.join(dir, rel));
        if (st) return isWhiteout(st) ? undefined : st;
      }
      if (hiddenBelow) return undefined;
    }
    return undefined;
  }
}

/**
 * Whether two directories count as the same: owner and mode. Unlike Docker we ignore their size and mtime: the
 * runtime creates mount points (/etc/hosts) in the container's /etc, which changes its mtime without the user
 * changing anything (Docker hides these in an init layer). A directory whose children were added or removed is
 * still listed as changed, through its children.
 */
const sameDir = (a: fs.Stats, b: fs.Stats) => a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;

/** What Docker would not list: a mount point the runtime made (an empty file or a directory). */
function isRuntimeMountPoint(p: string, st: fs.Stats, mountPoints: Set<string>): boolean {
  return mountPoints.has(p) && (st.isDirectory() || (st.isFile() && st.size === 0));
}

const fuseOpaqueMarkers = ['.wh..wh..opq', '.wh..opq'];

/** Changes from the overlay upper dir: whiteouts are deletions; the rest added, or modified when the lower layers have it. */
async function overlayChanges(upper: string, lowers: LowerLayers, mountPoints: Set<string>, whiteoutFiles: boolean): Promise<Change[]> {
  const upperOpaque = await opaqueDirs(upper);
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  const record = (p: string, kind: Change['Kind']) => {
    // As Docker: an added or deleted entry makes its directory a change too, listed before it.
    if (kind !== 0) {
      const parent = posix.dirname(p);
      if (parent !== '/' && !changedDirs.has(parent)) {
        changes.push({ Path: parent, Kind: 0 });
        changedDirs.add(parent);
      }
    }
    changes.push({ Path: p, Kind: kind });
  };
  const visit = async (rel: string, lowerHidden: boolean): Promise<void> => {
    const names = (await fsp.readdir(path.join(upper, rel))).sort();
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const p = `/${childRel}`;
      const st = lstatIfExists(path.join(upper, childRel));
      if (!st) continue;
      // fuse-overlayfs marks an opaque directory with .wh..wh..opq and .wh..opq entries (besides its xattr), and
      // without mknod writes whiteouts as .wh. files; native overlay never does (there, such names are the user's).
      if (whiteoutFiles && fuseOpaqueMarkers.includes(name)) continue;
      if (whiteoutFiles && name.startsWith('.wh.') && st.isFile()) {
        record(posix.join(posix.dirname(p), name.slice(4)), 2);
        continue;
      }
      if (isWhiteout(st)) {
        record(p, 2);
        continue;
      }
      const opaque = st.isDirectory() && (upperOpaque.has(childRel) || (whiteoutFiles && fuseOpaqueMarkers.some((m) => lstatIfExists(path.join(upper, childRel, m)))));
      const lower = lowerHidden ? undefined : await lowers.lookup(childRel);
      if (!lower && isRuntimeMountPoint(p, st, mountPoints)) {
        if (st.isDirectory()) changedDirs.add(p);
      } else if (!lower) {
        record(p, 1);
        if (st.isDirectory()) changedDirs.add(p);
      } else if (opaque || !st.isDirectory() || !lower.isDirectory() || !sameDir(st, lower)) {
        // An opaque directory replaced the lower one: listed as changed, the lower children it hides are not.
        record(p, 0);
        if (st.isDirectory()) changedDirs.add(p);
      }
      if (st.isDirectory()) await visit(childRel, lowerHidden || opaque);
    }
  };
  await visit('', false);
  return changes;
}

/** Whether a file changed between two trees, as Docker's directory comparison decides. */
function modified(before: fs.Stats, after: fs.Stats, ids?: IdMappings): boolean {
  const owner = ids ? toContainerOwner({ uid: after.uid, gid: after.gid }, ids) : after;
  if (before.mode !== after.mode || before.uid !== owner.uid || before.gid !== owner.gid || before.rdev !== after.rdev) return true;
  if (after.isDirectory()) return false;
  return before.mtimeMs !== after.mtimeMs || before.size !== after.size;
}

/** Changes by comparing the container's whole tree with the image's (copy driver). */
async function treeChanges(current: string, image: string, mountPoints: Set<string>, ids?: IdMappings): Promise<Change[]> {
  const changes: Change[] = [];
  const readNames = async (dir: string) => (await fsp.readdir(dir).catch(() => [] as string[])).sort();
  const addAll = async (rel: string) => {
    for (const name of await readNames(path.join(current, rel))) {
      const childRel = `${rel}/${name}`;
      changes.push({ Path: `/${childRel}`, Kind: 1 });
      if (lstatIfExists(path.join(current, childRel))?.isDirectory()) await addAll(childRel);
    }
  };
  const visit = async (rel: string, selfListed: boolean): Promise<void> => {
    const sizeAtEntry = changes.length;
    const before = new Set(await readNames(path.join(image, rel)));
    for (const name of await readNames(path.join(current, rel))) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const p = `/${childRel}`;
      const now = lstatIfExists(path.join(current, childRel));
      if (!now) continue;
      const old = before.has(name) ? lstatIfExists(path.join(image, childRel)) : undefined;
      before.delete(name);
      if (!old) {
        if (isRuntimeMountPoint(p, now, mountPoints)) continue;
        changes.push({ Path: p, Kind: 1 });
        if (now.isDirectory()) await addAll(childRel);
        continue;
      }
      const changed = modified(old, now, ids);
      if (changed) changes.push({ Path: p, Kind: 0 });
      if (now.isDirectory()) {
        if (old.isDirectory()) await visit(childRel, changed);
        else await addAll(childRel);
      }
    }
    for (const name of before) changes.push({ Path: `/${rel === '' ? name : `${rel}/${name}`}`, Kind: 2 });
    // A directory whose content changed is listed too, before its children (Docker does the same).
    if (changes.length > sizeAtEntry && rel !== '' && !selfListed) changes.splice(sizeAtEntry, 0, { Path: `/${rel}`, Kind: 0 });
  };
  await visit('', true);
  // Deletions came after the directory's other children: order by path like the overlay walk (a directory, then
  // its content, names compared component by component).
  const key = (p: string) => p.split('/');
  return changes.sort((a, b) => {
    const [x, y] = [key(a.Path), key(b.Path)];
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
    return x.length - y.length;
  });
}

export interface ChangesInput {
  /** 'overlay' | 'fuse-overlayfs' | 'copy' */
  driver: string;
  /** The overlay upper dir, or (copy) the container's whole rootfs. */
  changesDir: string;
  /** The image's snapshot directories, topmost first (for copy: the top one holds the whole image). */
  lowerDirs: string[];
  /** Where the runtime mounts things (/proc, /etc/hosts, volumes): their mount points are not changes. */
  mountPoints: string[];
  /** keep-id: the copy driver's rootfs holds engine ids, compared with the image's through the mappings. */
  ids?: IdMappings;
}

/** Mount points the runtime creates in every rootfs. */
export const runtimeMountPoints = ['/proc', '/sys', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys/fs/cgroup', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/sbin/docker-init'];

/** GET /containers/{id}/changes, sorted as Docker walks (by name, a directory before its content). */
export async function changes(input: ChangesInput): Promise<Change[]> {
  const mountPoints = new Set([...runtimeMountPoints, ...input.mountPoints]);
  if (input.driver === 'copy') {
    const image = input.lowerDirs[0];
    if (!image) return treeChanges(input.changesDir, path.join(input.changesDir, '.roost-no-image'), mountPoints, input.ids);
    return treeChanges(input.changesDir, image, mountPoints, input.ids);
  }
  return overlayChanges(input.changesDir, new LowerLayers(input.lowerDirs), mountPoints, input.driver === 'fuse-overlayfs');
}
