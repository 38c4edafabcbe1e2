import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import tar from 'tar-stream';
import { isLayerXattr, layerXattrValue, readTreeXattrs, type Xattrs } from './xattrs.js';
import { putXattrs } from './pax-xattrs.js';
import { OVERLAY_OPAQUE_XATTR } from './whiteout.js';

const OPAQUE = Buffer.from('y');

/** The upper dir's attributes for the layer, by absolute path, and its opaque directories (user.overlay.opaque=y). */
async function upperXattrs(upperDir: string): Promise<{ xattrs: Map<string, Xattrs>; opaque: Set<string> }> {
  const xattrs = new Map<string, Xattrs>();
  const opaque = new Set<string>();
  for (const [file, all] of await readTreeXattrs(upperDir)) {
    if (all.some(([name, value]) => name === OVERLAY_OPAQUE_XATTR && value.equals(OPAQUE))) opaque.add(file);
    const kept: Xattrs = all.filter(([name]) => isLayerXattr(name)).map(([name, value]) => [name, layerXattrValue(name, value)]);
    if (kept.length > 0) xattrs.set(file, kept);
  }
  return { xattrs, opaque };
}

/**
 * Turns an overlay upper directory (a container's changes) into an OCI layer tar: whiteout devices
 * (char 0/0) become `.wh.<name>` entries, opaque directories get `.wh..wh..opq`, everything else is
 * packed with its owner, mode, mtime and extended attributes (as PAX SCHILY.xattr records; overlayfs' own
 * attributes stay behind); hard links inside the layer stay links.
 */
export async function packOverlayChanges(upperDir: string, out: Writable): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, out);
  const seenInodes = new Map<string, string>();
  const { xattrs, opaque } = await upperXattrs(upperDir);
  type EntryHeader = Parameters<typeof pack.entry>[0];
  const addOne = (header: EntryHeader, body?: Buffer) => new Promise<void>((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
  const add = async (header: EntryHeader, own: Xattrs, body?: Buffer) => addOne(putXattrs(pack, header, own), body);
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
      const own = xattrs.get(full) ?? [];
      if (stat.isCharacterDevice() && stat.rdev === 0) {
        await add({ ...common, name: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, type: 'file', size: 0 }, []);
      } else if (stat.isDirectory()) {
        await add({ ...common, name: `${entryName}/`, type: 'directory' }, own);
        if (opaque.has(full)) await add({ ...common, name: `${entryName}/.wh..wh..opq`, type: 'file', size: 0 }, []);
        await walk(full, entryName);
      } else if (stat.isSymbolicLink()) {
        await add({ ...common, name: entryName, type: 'symlink', linkname: fs.readlinkSync(full) }, own);
      } else if (stat.isFile()) {
        const inodeKey = `${stat.dev}:${stat.ino}`;
        const first = stat.nlink > 1 ? seenInodes.get(inodeKey) : undefined;
        if (first) {
          // The attributes belong to the inode, already stored with the first name.
          await add({ ...common, name: entryName, type: 'link', linkname: first }, []);
          continue;
        }
        if (stat.nlink > 1) seenInodes.set(inodeKey, entryName);
        if (stat.size <= smallFile) {
          await add({ ...common, name: entryName, type: 'file', size: stat.size }, own, fs.readFileSync(full));
        } else {
          const entry = pack.entry(putXattrs(pack, { ...common, name: entryName, type: 'file', size: stat.size }, own));
          await pipeline(fs.createReadStream(full), entry);
        }
      } else if (stat.isFIFO()) {
        await add({ ...common, name: entryName, type: 'fifo' }, own);
      } else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
        await add({ ...common, name: entryName, type: stat.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: Math.floor(stat.rdev / 256), devminor: stat.rdev % 256 }, own);
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
