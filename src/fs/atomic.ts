import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes to a temp file beside the target (or in tmpDir on the same filesystem) and renames it over the
 * target, so a reader or a kill -9 never sees half a file. `durable` adds an fsync (power loss).
 */
export async function writeFileAtomic(target: string, data: string | Buffer, tmpDir?: string, durable = true): Promise<void> {
  const tmp = tmpPath(target, tmpDir);
  const handle = await fsp.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

let written = 0;

/** A temp file's name for `target`, in `dir` (default: beside it, on the same file system). */
function tmpPath(target: string, dir = path.dirname(target)): string {
  return path.join(dir, `.tmp-${path.basename(target)}-${tmpSuffix()}`);
}

/**
 * Unique among this process's temp files (the counter) and other processes' (the pid); the random part keeps
 * a name left by a killed process with the same pid from being reused. Not node:crypto: loading it costs
 * every CLI call ~2 ms, and the names guard against collisions, not against an attacker (the directories
 * are the user's own).
 */
function tmpSuffix(): string {
  written += 1;
  return `${process.pid}-${written}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function writeJsonAtomic(target: string, value: unknown, durable = true): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n', undefined, durable);
}

/**
 * The same for a small record on a hot path (a container's state on create, start, exit), without the
 * fsync: synchronous, because each asynchronous file operation is a round trip through libuv's thread pool
 * (0.2-0.5 ms here), and the write and rename of a few kB take microseconds.
 */
export function writeJsonAtomicSync(target: string, value: unknown): void {
  const tmp = tmpPath(target);
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
