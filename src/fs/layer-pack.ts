import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import tar from 'tar-stream';
import { execa } from 'execa';

/** The directories an overlay upper dir marks opaque (user.overlay.opaque=y), found in one getfattr run. */
async function opaqueDirs(upperDir: string): Promise<Set<string>> {
  // getfattr exits non-zero when some files lack the attribute; what it printed is still the answer.
  const result = await execa('getfattr', ['-R', '-P', '--absolute-names', '-n', 'user.overlay.opaque', upperDir], { reject: false });
  const output = String(result.stdout ?? '');
  const dirs = new Set<string>();
  let current = '';
  for (const line of output.split('\n')) {
    if (line.startsWith('# file: ')) current = line.slice('# file: '.length);
    else if (line.trim() === 'user.overlay.opaque="y"') dirs.add(current);
  }
  return dirs;
}

/**
 * Turns an overlay upper directory (a container's changes) into an OCI layer tar: whiteout devices
 * (char 0/0) become `.wh.<name>` entries, opaque directories get `.wh..wh..opq`, everything else is
 * packed with its owner, mode and mtime; hard links inside the layer stay links.
 */
export async function packOverlayChanges(upperDir: string, out: Writable): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, out);
  const seenInodes = new Map<string, string>();
  const opaque = await opaqueDirs(upperDir);
  type EntryHeader = Parameters<typeof pack.entry>[0];
  const add = (header: EntryHeader, body?: Buffer) => new Promise<void>((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
  // Sync metadata calls and whole-file reads for small files: per-file async streams made a 20,000-file
  // commit spend most of its time waiting on Node's thread pool.
  const smallFile = 256 * 1024;
  const walk = async (dir: string, rel: string): Promise<void> => {
    const names = fs.readdirSync(dir).sort();
    for (const name of names) {
      const full = path.join(dir, name);
      const entryName = rel ? `${rel}/${name}` : name;
      const stat = fs.lstatSync(full);
      const common = { uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777, mtime: stat.mtime };
      if (stat.isCharacterDevice() && stat.rdev === 0) {
        await add({ ...common, name: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, type: 'file', size: 0 });
      } else if (stat.isDirectory()) {
        await add({ ...common, name: `${entryName}/`, type: 'directory' });
        if (opaque.has(full)) await add({ ...common, name: `${entryName}/.wh..wh..opq`, type: 'file', size: 0 });
        await walk(full, entryName);
      } else if (stat.isSymbolicLink()) {
        await add({ ...common, name: entryName, type: 'symlink', linkname: fs.readlinkSync(full) });
      } else if (stat.isFile()) {
        const inodeKey = `${stat.dev}:${stat.ino}`;
        const first = stat.nlink > 1 ? seenInodes.get(inodeKey) : undefined;
        if (first) {
          await add({ ...common, name: entryName, type: 'link', linkname: first });
          continue;
        }
        if (stat.nlink > 1) seenInodes.set(inodeKey, entryName);
        if (stat.size <= smallFile) {
          await add({ ...common, name: entryName, type: 'file', size: stat.size }, fs.readFileSync(full));
        } else {
          const entry = pack.entry({ ...common, name: entryName, type: 'file', size: stat.size });
          await pipeline(fs.createReadStream(full), entry);
        }
      } else if (stat.isFIFO()) {
        await add({ ...common, name: entryName, type: 'fifo' });
      } else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
        await add({ ...common, name: entryName, type: stat.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: Math.floor(stat.rdev / 256), devminor: stat.rdev % 256 });
      }
      // Sockets are not part of a layer.
    }
  };
  try {
    await walk(upperDir, '');
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
  }
  await done;
}
