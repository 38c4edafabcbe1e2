import { tarTools } from '../tar-loader.js';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ApiClient } from '../../api/client.js';
import type { PathStat } from '../../engine/container-files.js';
import { asEngineError, EngineError, invalid } from '../../util/errors.js';
import type { Command } from '../command.js';
import { humanSize } from '../../util/human.js';

const posix = path.posix;
const quote = (s: string) => JSON.stringify(s);
const containerUrl = (container: string, what: string) => `/containers/${encodeURIComponent(container)}/${what}`;

/** The docker CLI ends every cp, diff and export failure with status 1 (not run's 125). */
async function exitOne(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    // `roost export c | head`: the reader went away, which is no error of ours.
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return 0;
    const e = asEngineError(err);
    throw new EngineError(e.code, e.message, { hint: e.hint, cause: e, exitCode: 1 });
  }
}


// ---- Docker's path rules (archive.CopyInfo and friends), on slash paths ----

/** Go's filepath.Base: trailing slashes dropped, `/` for the root. */
function goBase(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return p === '' ? '.' : '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

const hasTrailingSeparator = (p: string) => p.length > 0 && p.endsWith('/');
const specifiesCurrentDir = (p: string) => goBase(p) === '.';
const assertsDirectory = (p: string) => hasTrailingSeparator(p) || specifiesCurrentDir(p);

/** Keeps what cleaning drops and Docker gives meaning to: a trailing `/` or a final `/.`. */
function preserveTrailing(cleaned: string, original: string): string {
  let out = cleaned;
  if (!specifiesCurrentDir(out) && specifiesCurrentDir(original)) out += hasTrailingSeparator(out) ? '.' : '/.';
  if (!hasTrailingSeparator(out) && hasTrailingSeparator(original)) out += '/';
  return out;
}

const resolveLocalPath = (p: string) => preserveTrailing(path.resolve(p), p);

/** Go's SplitPathDirEntry: the directory and the entry in it (`.` for `dir/.`, `/` for the root). */
function splitPathDirEntry(p: string): [string, string] {
  let cleaned = posix.normalize(p);
  if (cleaned.length > 1) cleaned = cleaned.replace(/\/+$/, '');
  if (specifiesCurrentDir(p) && goBase(cleaned) !== '.') cleaned += '/.';
  return [posix.dirname(cleaned), goBase(cleaned)];
}

/** After following a symlink: the resolved path with the original's trailing `/` or `/.`, and the name to keep. */
function rebaseAfterFollow(original: string, resolved: string): { path: string; rebaseName?: string } {
  let out = resolved;
  if (specifiesCurrentDir(original) && !specifiesCurrentDir(out)) out += '/.';
  if (hasTrailingSeparator(original) && !hasTrailingSeparator(out)) out += '/';
  return { path: out, rebaseName: goBase(original) !== goBase(out) ? goBase(original) : undefined };
}

interface CopyInfo { path: string; exists: boolean; isDir: boolean; rebaseName?: string }

const goModeBit = (mode: number, bit: number) => Math.floor(mode / 2 ** bit) % 2 === 1;
const isDirMode = (mode: number) => goModeBit(mode, 31);
const isSymlinkMode = (mode: number) => goModeBit(mode, 27);
const isDeviceMode = (mode: number) => goModeBit(mode, 26);

/**
 * Where a copy lands (Docker's PrepareArchiveCopy): the directory to extract into, and the name the copied
 * top entry takes there (its own when the destination is an existing directory).
 */
function planCopy(srcInfo: CopyInfo, srcTop: string, dstInfo: CopyInfo): { dir: string; top: string } {
  const [dstDir, dstBase] = splitPathDirEntry(dstInfo.path);
  if (dstInfo.exists && dstInfo.isDir) return { dir: dstInfo.path, top: srcTop };
  if (dstInfo.exists && srcInfo.isDir) throw invalid('cannot copy directory');
  if (!dstInfo.exists && !srcInfo.isDir && assertsDirectory(dstInfo.path)) throw invalid('no such directory');
  return { dir: dstDir, top: dstBase };
}

/** Renames `oldBase` (and what is below it) to `newBase`; `oldBase` `/` is the root, whose entries are `/x`. */
function rebaseEntry(name: string, oldBase: string, newBase: string): string {
  const old = oldBase === '/' ? '' : oldBase;
  if (old === '' || name === old || name.startsWith(`${old}/`)) return `${newBase}${name.slice(old.length)}`;
  return name;
}

// ---- talking to the daemon ----

function parseStat(header: string | string[] | undefined): PathStat {
  const text = Array.isArray(header) ? header[0] : header;
  if (!text) throw new EngineError('internal', 'the daemon sent no X-Docker-Container-Path-Stat header');
  try {
    return JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as PathStat;
  } catch {
    throw new EngineError('internal', 'the daemon sent an unreadable X-Docker-Container-Path-Stat header');
  }
}

async function statInContainer(client: ApiClient, container: string, p: string): Promise<PathStat | undefined> {
  try {
    const res = await client.request(containerUrl(container, 'archive'), { method: 'HEAD', query: { path: p } });
    res.resume();
    return parseStat(res.headers['x-docker-container-path-stat']);
  } catch {
    return undefined; // as the docker CLI: a failed stat means "assume it does not exist" and let the copy tell
  }
}

// ---- host side ----

/** Docker's ValidateOutputPath: the parent must exist; an existing path must be a directory or a regular file. */
function validateOutputPath(p: string): void {
  const dir = path.dirname(path.normalize(p));
  if (!fs.existsSync(dir)) throw invalid(`invalid output path: directory ${quote(dir)} does not exist`);
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (st && !st.isDirectory() && !st.isFile() && (st.isCharacterDevice() || st.isBlockDevice())) {
    throw invalid(`invalid output path: ${quote(p)} must be a directory or a regular file`);
  }
}

/** Docker's CopyInfoDestinationPath: a destination symlink is followed (up to 10 times); a missing one needs its parent. */
function hostDestination(p: string): CopyInfo {
  let current = p;
  for (let n = 0; ; n++) {
    const st = fs.lstatSync(current, { throwIfNoEntry: false });
    if (st && !st.isSymbolicLink()) return { path: current, exists: true, isDir: st.isDirectory() };
    if (!st) break;
    if (n >= 10) throw invalid(`too many symlinks in ${p}`);
    const target = fs.readlinkSync(current);
    current = target.startsWith('/') ? target : path.join(splitPathDirEntry(current)[0], target);
  }
  const [parent] = splitPathDirEntry(current);
  const parentStat = fs.statSync(parent, { throwIfNoEntry: false });
  if (!parentStat) throw invalid(`stat ${parent}: no such file or directory`);
  if (!parentStat.isDirectory()) throw invalid('not a directory');
  return { path: current, exists: false, isDir: false };
}

/** Docker's CopyInfoSourcePath: symlinks before the last component are resolved; the last one only with -L. */
function hostSource(p: string, followLink: boolean): CopyInfo {
  let resolved: string;
  let rebaseName: string | undefined;
  try {
    if (followLink) {
      ({ path: resolved, rebaseName } = rebaseAfterFollow(p, fs.realpathSync(p)));
    } else {
      const slash = p.lastIndexOf('/');
      const dir = p.slice(0, slash + 1);
      const base = p.slice(slash + 1);
      const realDir = fs.realpathSync(dir || '.');
      resolved = `${realDir === '/' ? '' : realDir}/${base}`;
      if (hasTrailingSeparator(p) && goBase(p) !== goBase(resolved)) rebaseName = goBase(p);
    }
  } catch {
    throw invalid(`lstat ${p.replace(/\/+$/, '') || '/'}: no such file or directory`);
  }
  const st = fs.lstatSync(resolved, { throwIfNoEntry: false });
  if (!st) throw invalid(`lstat ${resolved}: no such file or directory`);
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

/**
 * Extracts a tar from a container into `dir` on the host. Nothing lands outside the copy: every entry must be
 * `top` or below it (after renaming `rename[0]` to `rename[1]`), applyLayer refuses traversal and writes
 * through symlinks (a container's `link -> /etc` stays a link), and entries get the caller's own owner.
 */
async function extractOnHost(tar: Readable, dir: string, top: string, rename: [string, string] | undefined): Promise<void> {
  const { applyLayer, archiveError, normalizeEntryPath, overwriteGuard, rewriteTar } = await tarTools();
  // `.` and `/` copied into an existing directory: the entries are that directory's content.
  const topRel = top === '.' || top === '/' ? '' : normalizeEntryPath(top);
  const inside = (rel: string) => topRel === '' || rel === topRel || rel.startsWith(`${topRel}/`);
  const guard = overwriteGuard(dir, (rel) => path.join(dir, rel));
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const checked = rewriteTar(tar, (header) => {
    const name = rename ? rebaseEntry(header.name, rename[0], rename[1]) : header.name;
    let rel: string;
    try {
      rel = normalizeEntryPath(name);
    } catch (err) {
      throw archiveError(err);
    }
    if (!inside(rel)) throw invalid(`archive entry ${quote(header.name)} is outside the copied path ${quote(top)}: refusing to extract it`);
    if (rel === '') return undefined; // the destination directory keeps its own owner and mode
    let linkname = header.linkname;
    if (header.type === 'link' && linkname) {
      linkname = rename ? rebaseEntry(linkname, rename[0], rename[1]) : linkname;
      let target: string;
      try {
        target = normalizeEntryPath(linkname, 'hard link target');
      } catch (err) {
        throw archiveError(err);
      }
      if (!inside(target)) throw invalid(`archive hard link ${quote(header.name)} points outside the copied path`);
    }
    guard(rel, header.type === 'directory');
    const pax = header.pax ? { ...header.pax } : undefined;
    if (pax) for (const key of ['uid', 'gid', 'uname', 'gname']) delete pax[key];
    return { ...header, name, linkname, uid, gid, pax };
  });
  try {
    await applyLayer(checked, dir, { whiteouts: 'none', ownership: false });
  } catch (err) {
    throw archiveError(err);
  }
}

/** Counts the bytes going through, for the summary line. */
function counted(stream: Readable, counter: { bytes: number }): Readable {
  return Readable.from((async function* () {
    for await (const chunk of stream) {
      counter.bytes += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  })());
}

function summary(quiet: boolean, bytes: number, dest: string): void {
  // As the docker CLI: only for a person at a terminal.
  if (!quiet && process.stdout.isTTY) process.stderr.write(`Successfully copied ${humanSize(bytes)} to ${dest}\n`);
}

interface CopyOptions { followLink: boolean; copyUIDGID: boolean; quiet: boolean }

async function copyFromContainer(client: ApiClient, container: string, srcPath: string, dstArg: string, opts: CopyOptions): Promise<void> {
  const dst = dstArg === '-' ? '-' : resolveLocalPath(dstArg);
  if (dst !== '-') validateOutputPath(dst);
  let src = srcPath;
  let rebaseName: string | undefined;
  if (opts.followLink) {
    const stat = await statInContainer(client, container, src);
    if (stat && isSymlinkMode(stat.mode)) {
      const target = stat.linkTarget.startsWith('/') ? stat.linkTarget : posix.join(splitPathDirEntry(src)[0], stat.linkTarget);
      ({ path: src, rebaseName } = rebaseAfterFollow(src, target));
    }
  }
  const res = await client.request(containerUrl(container, 'archive'), { query: { path: src } });
  if (dst === '-') {
    await pipeline(res, process.stdout);
    return;
  }
  const stat = parseStat(res.headers['x-docker-container-path-stat']);
  const srcBase = splitPathDirEntry(src)[1];
  // The daemon names the entries after the path it archived; with -L they take the link's name.
  const srcTop = rebaseName ?? srcBase;
  const plan = planCopy({ path: src, exists: true, isDir: isDirMode(stat.mode) }, srcTop, hostDestination(dst));
  const rename: [string, string] | undefined = srcBase !== plan.top ? [srcBase, plan.top] : undefined;
  const counter = { bytes: 0 };
  await extractOnHost(counted(res, counter), plan.dir, plan.top, rename);
  summary(opts.quiet, isDirMode(stat.mode) ? counter.bytes : stat.size, dst);
}

async function copyToContainer(client: ApiClient, container: string, srcArg: string, dstPath: string, opts: CopyOptions): Promise<void> {
  const dstInfo: CopyInfo = { path: dstPath, exists: false, isDir: false };
  let dstStat = await statInContainer(client, container, dstPath);
  if (dstStat && isSymlinkMode(dstStat.mode)) {
    dstInfo.path = dstStat.linkTarget.startsWith('/') ? dstStat.linkTarget : posix.join(splitPathDirEntry(dstPath)[0], dstStat.linkTarget);
    dstStat = await statInContainer(client, container, dstInfo.path);
  }
  if (dstStat) {
    if (isDeviceMode(dstStat.mode)) throw invalid(`destination "${container}:${dstPath}" must be a directory or a regular file: got a device`);
    dstInfo.exists = true;
    dstInfo.isDir = isDirMode(dstStat.mode);
  }
  let upload: Readable;
  let target: string;
  if (srcArg === '-') {
    if (!dstInfo.isDir) throw invalid(`destination "${container}:${dstPath}" must be a directory`);
    upload = process.stdin;
    target = dstInfo.path;
  } else {
    const srcInfo = hostSource(resolveLocalPath(srcArg), opts.followLink);
    const [srcDir, srcBase] = splitPathDirEntry(srcInfo.path);
    const plan = planCopy(srcInfo, srcInfo.rebaseName ?? srcBase, dstInfo);
    const { tarHostPath } = await tarTools();
    upload = srcBase === '.' || srcBase === '/' ? tarHostPath(srcInfo.path, undefined, plan.top) : tarHostPath(srcDir, srcBase, plan.top);
    target = plan.dir;
  }
  const counter = { bytes: 0 };
  const body = counted(upload, counter);
  // A local file we cannot read ends the upload: report that, not the broken request it causes.
  let uploadError: unknown;
  body.on('error', (err) => { uploadError ??= err; });
  let res;
  try {
    res = await client.request(containerUrl(container, 'archive'), {
      method: 'PUT', upload: body, query: { path: target, noOverwriteDirNonDir: true, copyUIDGID: opts.copyUIDGID || undefined },
    });
  } catch (err) {
    throw uploadError ?? err;
  }
  res.resume();
  await new Promise((resolve) => res.on('end', resolve));
  summary(opts.quiet, counter.bytes, `${container}:${dstInfo.path}`);
}

/** Docker's split of a cp argument: `CONTAINER:PATH`, unless it is absolute or starts with `.` (`./a:b` is local). */
function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/')) return { path: arg };
  const colon = arg.indexOf(':');
  if (colon < 0 || arg.startsWith('.')) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

const cp: Command = {
  name: 'cp',
  synopsis: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       roost cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem',
  flags: [
    { name: 'archive', short: 'a', type: 'bool', help: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', help: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress progress output during copy' },
  ],
  minArgs: 2, maxArgs: 2,
  run: (ctx) => exitOne(async () => {
    const [source, destination] = ctx.args.positionals as [string, string];
    if (source === '') throw invalid('source can not be empty');
    if (destination === '') throw invalid('destination can not be empty');
    const src = splitCpArg(source);
    const dst = splitCpArg(destination);
    const opts: CopyOptions = { followLink: Boolean(ctx.args.flags['follow-link']), copyUIDGID: Boolean(ctx.args.flags.archive), quiet: Boolean(ctx.args.flags.quiet) };
    if (src.container !== undefined && dst.container !== undefined) throw invalid('copying between containers is not supported');
    if (src.container !== undefined) await copyFromContainer(await ctx.client(), src.container, src.path, dst.path, opts);
    else if (dst.container !== undefined) await copyToContainer(await ctx.client(), dst.container, src.path, dst.path, opts);
    else throw invalid('must specify at least one container source');
    return 0;
  }),
};

const kindLetters = ['C', 'A', 'D'] as const;

const diff: Command = {
  name: 'diff', synopsis: 'CONTAINER', description: "Inspect changes to files or directories on a container's filesystem",
  flags: [], minArgs: 1, maxArgs: 1,
  run: (ctx) => exitOne(async () => {
    const list = await (await ctx.client()).json<Array<{ Path: string; Kind: number }> | null>(containerUrl(ctx.args.positionals[0]!, 'changes'));
    process.stdout.write((list ?? []).map((c) => `${kindLetters[c.Kind] ?? '?'} ${c.Path}\n`).join(''));
    return 0;
  }),
};

const exportCmd: Command = {
  name: 'export', synopsis: '[OPTIONS] CONTAINER', description: "Export a container's filesystem as a tar archive",
  flags: [{ name: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT' }],
  minArgs: 1, maxArgs: 1,
  run: (ctx) => exitOne(async () => {
    const output = ctx.args.flags.output as string | undefined;
    if (output === undefined && process.stdout.isTTY) throw invalid('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const res = await (await ctx.client()).request(containerUrl(ctx.args.positionals[0]!, 'export'));
    if (output === undefined) {
      await pipeline(res, process.stdout);
      return 0;
    }
    const tmp = `${output}.tmp-${process.pid}`;
    try {
      await pipeline(res, fs.createWriteStream(tmp));
      fs.renameSync(tmp, output);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    return 0;
  }),
};

export const fileCommands: Command[] = [cp, diff, exportCmd];
