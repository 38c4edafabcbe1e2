import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cacheInUse, useCache } from './cache-sharing.js';
import { resolveInRoot } from '../engine/container-files.js';
import { EngineError, invalid, unavailable } from '../util/errors.js';

/**
 * What `RUN --mount=...` (and a heredoc script) become for the step's container: binds and tmpfs mounts.
 * - cache: a directory kept per user and id between builds (with from=, first filled from a stage or image);
 * - tmpfs; bind: from the context, or with from= from a stage's or an image's root (the builder passes it in
 *   `fromRoots`, a created container's root, so that rw writes go to that container and are dropped with it),
 *   read-only unless rw;
 * - secret: the bytes the build was given (`--secret id=x,src=file`), written to a scratch file outside the
 *   container's root and bound read-only at /run/secrets/<id> (or target=). They never enter a layer (the
 *   empty mount point the runtime leaves is removed before commit: `removeStubs`), the history or the
 *   cache key (only the mount spec is keyed, as BuildKit does);
 * - ssh: refused, Roost forwards no SSH agent.
 */
export interface RunMountsInput {
  specs: string[];
  where: string;
  dataDir: string;
  /**
   * A host path holding the context's `source` (relative to the context's root, symlinks resolved inside it),
   * written out for the mount; a fresh copy when `writable`; undefined when the context has nothing there.
   */
  contextSource: (source: string, writable: boolean) => string | undefined;
  secrets: Record<string, Buffer>;
  /** The roots of the stages and images that bind mounts name with from=, by that name. */
  fromRoots?: Record<string, string>;
  /** A `#!` heredoc script to bind at `<dir>/<name>`. */
  script?: { dir: string; name: string; content: string };
}

export interface RunMounts {
  binds: string[];
  tmpfs: Record<string, string>;
  /** Targets of file binds the runtime may create as empty mount points in the container's root. */
  stubs: string[];
  /** Cache directories mounted with sharing=locked: the step runs once it holds them (lockCaches). */
  locked: string[];
  /** Removes the scratch files (secrets, script, private caches) and ends the step's use of its caches. */
  cleanup(): void;
}

const secretOptions = new Set(['type', 'id', 'target', 'dst', 'destination', 'required', 'mode', 'uid', 'gid']);

/** The `from=` of each bind or cache mount among a RUN's `--mount` specs (what the step reads from stages or images). */
export function mountSources(specs: string[]): string[] {
  return [...new Set(specs.map(parseMountSpec).filter((o) => ['bind', 'cache'].includes(o.type ?? 'bind') && o.from).map((o) => o.from!))];
}

const cacheOptions = new Set(['type', 'id', 'target', 'dst', 'destination', 'from', 'source', 'src', 'sharing', 'mode', 'uid', 'gid', 'ro', 'readonly']);

/**
 * A cache mount's directory, made on its first use: mode, uid and gid apply to it then, and with from= it
 * starts as a copy of that stage's or image's `source` (BuildKit's base for the cache). The copy is made
 * beside it and renamed into place, so an interrupted one is never taken for the cache.
 */
function cacheDir(input: RunMountsInput, opts: Record<string, string>, target: string): string {
  const { where } = input;
  const unknown = Object.keys(opts).find((k) => !cacheOptions.has(k));
  if (unknown) throw invalid(`${where}RUN --mount=type=cache: option ${unknown}= is not supported`);
  if (opts.sharing && !['shared', 'private', 'locked'].includes(opts.sharing)) throw invalid(`${where}RUN --mount=type=cache: sharing must be shared, private or locked`);
  const mode = opts.mode ? parseInt(opts.mode, 8) : 0o755;
  if (Number.isNaN(mode) || mode > 0o7777 || (opts.mode && !/^[0-7]+$/.test(opts.mode))) throw invalid(`${where}RUN --mount=type=cache: invalid mode ${JSON.stringify(opts.mode)}`);
  const uid = Number(opts.uid ?? 0);
  const gid = Number(opts.gid ?? 0);
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0) throw invalid(`${where}RUN --mount=type=cache: uid and gid must be numbers`);
  const id = (opts.id ?? target).replace(/[^A-Za-z0-9_.-]/g, '_');
  const parent = path.join(input.dataDir, 'build-cache');
  const dir = path.join(parent, id);
  if (fs.existsSync(dir)) return dir;
  fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
  const fresh = fs.mkdtempSync(path.join(parent, `.new-${id}-`));
  try {
    if (opts.from) {
      const root = input.fromRoots?.[opts.from];
      if (root === undefined) throw new EngineError('internal', `${where}RUN --mount=type=cache,from=${opts.from}: its root was not prepared`);
      const source = path.posix.normalize(`/${opts.source ?? opts.src ?? '.'}`);
      const { hostPath } = resolveInRoot(root, source, { followFinal: true });
      if (!fs.existsSync(hostPath) || !fs.statSync(hostPath).isDirectory()) throw invalid(`${where}RUN --mount=type=cache,from=${opts.from}: no directory ${source} in ${opts.from}`);
      // cp -a keeps owners (the engine is root in its user namespace), modes, links and times.
      execFileSync('cp', ['-a', '--', `${hostPath}/.`, fresh], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    fs.chmodSync(fresh, mode);
    fs.chownSync(fresh, uid, gid);
    fs.renameSync(fresh, dir);
  } catch (err) {
    fs.rmSync(fresh, { recursive: true, force: true });
    if (err instanceof EngineError) throw err;
    throw new EngineError('internal', `${where}RUN --mount=type=cache: cannot prepare the cache: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`);
  }
  return dir;
}

/** The context paths RUN's bind mounts without from= show (relative to the context's root). */
export function contextBindSources(specs: string[]): string[] {
  return specs.map(parseMountSpec).filter((o) => (o.type ?? 'bind') === 'bind' && !o.from).map((o) => path.posix.normalize(`/${o.source ?? o.src ?? '.'}`).slice(1));
}

export function parseMountSpec(spec: string): Record<string, string> {
  return Object.fromEntries(spec.split(',').map((kv) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? [kv, 'true'] : [kv.slice(0, eq), kv.slice(eq + 1)];
  }));
}

export function runMounts(input: RunMountsInput): RunMounts {
  const { where } = input;
  const binds: string[] = [];
  const tmpfs: Record<string, string> = {};
  const stubs: string[] = [];
  let scratch: string | undefined;
  const scratchFile = (name: string, content: Buffer | string, mode: number, owner?: { uid: number; gid: number }) => {
    scratch ??= fs.mkdtempSync(path.join(input.dataDir, 'tmp', 'build-run-'));
    const file = path.join(scratch, `${fs.readdirSync(scratch).length}-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode);
    if (owner) fs.chownSync(file, owner.uid, owner.gid);
    return file;
  };
  const locked: string[] = [];
  const uses: Array<() => void> = [];
  const cleanup = () => {
    for (const release of uses) release();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  };
  try {
    for (const spec of input.specs) {
      const opts = parseMountSpec(spec);
      const type = opts.type ?? 'bind';
      let target = opts.target ?? opts.dst ?? opts.destination;
      if (type === 'secret') {
        // An option we do not know (e.g. BuildKit's newer env=) must not be ignored: the step would miss the secret.
        const unknown = Object.keys(opts).find((k) => !secretOptions.has(k));
        if (unknown) throw invalid(`${where}RUN --mount=type=secret: option ${unknown}= is not supported (id, target, required, mode, uid, gid are)`);
        const id = opts.id ?? (target ? path.posix.basename(target) : undefined);
        if (!id) throw invalid(`${where}RUN --mount=type=secret needs id= or target=`);
        target ??= `/run/secrets/${id}`;
        if (!target.startsWith('/')) throw invalid(`${where}RUN --mount=type=secret: target must be absolute`);
        const secret = input.secrets[id];
        if (!secret) {
          if (opts.required === 'true') throw invalid(`${where}secret ${JSON.stringify(id)} is required but was not given`, `pass it with: roost build --secret id=${id},src=FILE`);
          continue;
        }
        const mode = opts.mode ? parseInt(opts.mode, 8) : 0o400;
        if (Number.isNaN(mode) || mode > 0o7777) throw invalid(`${where}RUN --mount=type=secret: invalid mode ${JSON.stringify(opts.mode)}`);
        const uid = Number(opts.uid ?? 0);
        const gid = Number(opts.gid ?? 0);
        if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0) throw invalid(`${where}RUN --mount=type=secret: uid and gid must be numbers`);
        // The daemon is root in its user namespace, so its files already belong to 0:0; chown only when asked.
        const owner = opts.uid !== undefined || opts.gid !== undefined ? { uid, gid } : undefined;
        binds.push(`${scratchFile(id, secret, mode, owner)}:${target}:ro`);
        stubs.push(target);
        continue;
      }
      if (type === 'ssh') {
        throw unavailable(`${where}RUN --mount=type=ssh is not supported: Roost's builder does not forward an SSH agent`, 'fetch what needs SSH before the build and COPY it, or use --mount=type=secret for a key');
      }
      if (!target || !target.startsWith('/')) throw invalid(`${where}RUN --mount needs an absolute target=`);
      if (type === 'cache') {
        const readOnly = opts.ro === 'true' || opts.readonly === 'true';
        let dir = cacheDir(input, opts, target);
        if (opts.sharing === 'locked') locked.push(dir);
        else if (opts.sharing === 'private' && cacheInUse(dir)) {
          // Another step is using it: this one gets a fresh directory of its own, shaped alike.
          scratch ??= fs.mkdtempSync(path.join(input.dataDir, 'tmp', 'build-run-'));
          const own = fs.mkdtempSync(path.join(scratch, 'cache-'));
          const shape = fs.statSync(dir);
          fs.chmodSync(own, shape.mode & 0o7777);
          fs.chownSync(own, shape.uid, shape.gid);
          dir = own;
        }
        uses.push(useCache(dir));
        binds.push(`${dir}:${target}${readOnly ? ':ro' : ''}`);
      } else if (type === 'tmpfs') {
        tmpfs[target] = opts.size ? `size=${opts.size}` : '';
      } else if (type === 'bind') {
        const source = path.posix.normalize(`/${opts.source ?? opts.src ?? '.'}`);
        const mode = opts.rw === 'true' || opts.readwrite === 'true' ? 'rw' : 'ro';
        if (opts.from) {
          const root = input.fromRoots?.[opts.from];
          if (root === undefined) throw new EngineError('internal', `${where}RUN --mount=type=bind,from=${opts.from}: its root was not prepared`);
          // Symlinks in the image resolve inside its root, never onto the host.
          const { hostPath } = resolveInRoot(root, source, { followFinal: true });
          if (!fs.existsSync(hostPath)) throw invalid(`${where}RUN --mount=type=bind,from=${opts.from}: source ${source} not found in ${opts.from}`);
          binds.push(`${hostPath}:${target}:${mode}`);
        } else {
          const hostPath = input.contextSource(source.slice(1), mode === 'rw');
          if (hostPath === undefined) throw invalid(`${where}RUN --mount=type=bind: source ${source} not found in the build context`);
          binds.push(`${hostPath}:${target}:${mode}`);
        }
      } else {
        throw invalid(`${where}RUN --mount=type=${type} is unknown (cache, tmpfs, bind, secret and ssh are the types)`);
      }
    }
    if (input.script) binds.push(`${scratchFile(input.script.name, input.script.content, 0o755)}:${input.script.dir}/${input.script.name}:ro`);
  } catch (err) {
    cleanup();
    throw err;
  }
  return { binds, tmpfs, stubs, locked, cleanup };
}

/** What of `target` is missing in `rootfs` (the first absent component), to be removed again after the run. */
export function missingPart(rootfs: string, target: string): string | undefined {
  const parts = target.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const rel = parts.slice(0, i).join('/');
    try { fs.lstatSync(path.join(rootfs, rel)); } catch { return rel; }
  }
  return undefined;
}

/**
 * Removes mount points the runtime created in the container's changes: the target (an empty file or
 * directory) and then each parent up to `top` (the first part that did not exist before) while empty.
 */
export function removeStub(changesDir: string, top: string, target: string): void {
  let rel = target.replace(/^\/+/, '');
  for (;;) {
    const abs = path.join(changesDir, rel);
    let st: fs.Stats | undefined;
    try { st = fs.lstatSync(abs); } catch { /* absent */ }
    if (st?.isFile() && st.size === 0) fs.rmSync(abs);
    else if (st?.isDirectory()) { try { fs.rmdirSync(abs); } catch { return; } }
    else if (st) return;
    if (rel === top || !rel.includes('/')) return;
    rel = path.posix.dirname(rel);
  }
}
