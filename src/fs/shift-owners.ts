/**
 * Gives a container's private copy of its image (copy driver, --userns=keep-id) the owners its user
 * namespace needs: each stored id is an image (container) id, and becomes the engine id the container's
 * mapping gives it, so the container sees the image's owners. chown drops setuid/setgid bits and file
 * capabilities, so both are put back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { toEngineOwner, type IdMappings } from '../runtime/id-maps.js';
import { readTreeXattrs, writeXattrs } from './xattrs.js';

const CAPABILITY_XATTR = 'security.capability';

export async function shiftOwners(dir: string, maps: IdMappings): Promise<void> {
  const capabilities = [...(await readTreeXattrs(dir))]
    .map(([file, xattrs]) => ({ path: file, xattrs: xattrs.filter(([name]) => name === CAPABILITY_XATTR) }))
    .filter((entry) => entry.xattrs.length > 0);
  const shift = (file: string) => {
    const st = fs.lstatSync(file);
    const { uid, gid } = toEngineOwner({ uid: st.uid, gid: st.gid }, maps);
    if (uid !== st.uid || gid !== st.gid) {
      fs.lchownSync(file, uid, gid);
      if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) fs.chmodSync(file, st.mode & 0o7777);
    }
    if (st.isDirectory()) for (const name of fs.readdirSync(file)) shift(path.join(file, name));
  };
  shift(dir);
  await writeXattrs(capabilities);
}
