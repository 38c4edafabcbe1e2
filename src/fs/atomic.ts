import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes to a temp file beside the target (or in tmpDir on the same filesystem) and renames it over the
 * target, so a reader or a kill -9 never sees half a file. `durable` adds an fsync (power loss).
 */
export async function writeFileAtomic(target: string, data: string | Buffer, tmpDir?: string, durable = true): Promise<void> {
  const tmp = path.join(tmpDir ?? path.dirname(target), `.tmp-${path.basename(target)}-${randomBytes(6).toString('hex')}`);
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

export async function writeJsonAtomic(target: string, value: unknown, durable = true): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n', undefined, durable);
}

export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
