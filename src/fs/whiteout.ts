/**
 * OCI / Docker whiteout conventions, and the two host tools used to express them for overlayfs.
 *
 * In a layer tarball a whiteout is an entry whose basename starts with `.wh.`:
 *   - `.wh..wh..opq` marks its directory "opaque" (hide everything lower layers put in it);
 *   - `.wh.<name>` deletes `<name>` from the layers below;
 *   - other `.wh..wh.*` names are AUFS bookkeeping and carry no meaning for us.
 *
 * overlayfs (mounted with `userxattr` in a user namespace) expresses the same things as a 0/0 character
 * device named `<name>` and as the xattr `user.overlay.opaque=y` on the directory.
 */
import { execFile } from 'node:child_process';
import { EngineError } from '../util/errors.js';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'user.overlay.opaque';

export type Whiteout =
  | { kind: 'opaque' }
  /** AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`, ...): ignored. */
  | { kind: 'meta' }
  /** Deletes `name` (a single path component) in the whiteout's directory. */
  | { kind: 'remove'; name: string };

/** Classifies a basename; undefined when it is not a whiteout at all. */
export function parseWhiteout(basename: string): Whiteout | undefined {
  if (!basename.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (basename === WHITEOUT_OPAQUE) return { kind: 'opaque' };
  if (basename.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  return { kind: 'remove', name: basename.slice(WHITEOUT_PREFIX.length) };
}

export interface ToolFailure extends Error {
  /** What the tool printed on stderr (trimmed), or the spawn error's message. */
  detail: string;
  /** errno-style code when the tool could not be started at all (e.g. ENOENT). */
  spawnCode?: string;
}

/** Runs a short host tool; rejects with a ToolFailure carrying its stderr. */
export function runTool(file: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const detail = (stderr || err.message).trim().split('\n').slice(-2).join(' ');
      const failure = new Error(`${file} failed: ${detail}`) as ToolFailure;
      failure.detail = detail;
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string') failure.spawnCode = code;
      reject(failure);
    });
  });
}

/** Runs `worker` over `items` with at most `limit` in flight; stops at the first error. */
export async function forEachLimit<T>(items: readonly T[], limit: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < Math.min(limit, items.length); i++) {
    lanes.push(
      (async () => {
        while (!failed && next < items.length) {
          const item = items[next++] as T;
          try {
            await worker(item);
          } catch (err) {
            failed = true;
            throw err;
          }
        }
      })(),
    );
  }
  // Wait for every lane, so nothing is still running when we report the first failure.
  const results = await Promise.allSettled(lanes);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/** Creates overlayfs whiteouts (character devices 0/0) at the given absolute paths, which must not exist. */
export async function createOverlayWhiteouts(paths: readonly string[]): Promise<void> {
  await forEachLimit(paths, 8, async (p) => {
    try {
      await runTool('mknod', ['--', p, 'c', '0', '0']);
    } catch (err) {
      const detail = (err as ToolFailure).detail ?? String(err);
      throw new EngineError('unavailable', `cannot create overlay whiteout ${JSON.stringify(p)}: ${detail}`, {
        hint: 'overlay layers need 0/0 character devices (Linux >= 5.8 in a user namespace, and the mknod tool); use the copy snapshotter otherwise',
        cause: err,
      });
    }
  });
}

/** Sets `user.overlay.opaque=y` on the given directories (absolute paths), batching many into one setfattr call. */
export async function markOverlayOpaque(dirs: readonly string[]): Promise<void> {
  const batches: string[][] = [];
  let batch: string[] = [];
  let batchChars = 0;
  for (const dir of dirs) {
    if (batch.length > 0 && (batch.length >= 256 || batchChars + dir.length > 64 * 1024)) {
      batches.push(batch);
      batch = [];
      batchChars = 0;
    }
    batch.push(dir);
    batchChars += dir.length + 1;
  }
  if (batch.length > 0) batches.push(batch);
  for (const group of batches) {
    try {
      // -h: never follow a symlink (the caller checked these are real directories anyway).
      await runTool('setfattr', ['-h', '-n', OVERLAY_OPAQUE_XATTR, '-v', 'y', '--', ...group]);
    } catch (err) {
      const detail = (err as ToolFailure).detail ?? String(err);
      throw new EngineError('unavailable', `cannot mark ${group.length === 1 ? JSON.stringify(group[0]) : `${group.length} directories`} opaque for overlayfs: ${detail}`, {
        hint: 'the layer store filesystem must support user.* extended attributes, and setfattr (package "attr") must be installed',
        cause: err,
      });
    }
  }
}
