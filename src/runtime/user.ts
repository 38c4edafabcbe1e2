import fs from 'node:fs';
import path from 'node:path';
import { invalid } from '../util/errors.js';
import type { ProcessUser } from './oci-spec.js';

function readColonFile(rootfs: string, file: string): string[][] {
  try {
    return fs.readFileSync(path.join(rootfs, file), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/** Resolves Docker's `-u` forms (`name`, `uid`, `uid:gid`, `name:group`) against the image's /etc/passwd and /etc/group. */
export function resolveUser(rootfs: string, spec: string | undefined): ProcessUser {
  if (!spec) return { uid: 0, gid: 0, additionalGids: [] };
  const [userPart, groupPart] = spec.split(':', 2) as [string, string | undefined];
  const passwd = readColonFile(rootfs, 'etc/passwd');
  const groups = readColonFile(rootfs, 'etc/group');
  let uid: number;
  let gid = 0;
  let userName: string | undefined;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((e) => Number(e[2]) === uid);
    if (entry) { gid = Number(entry[3]); userName = entry[0]; }
  } else {
    const entry = passwd.find((e) => e[0] === userPart);
    if (!entry) throw invalid(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    userName = userPart;
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const group = groups.find((g) => g[0] === groupPart);
      if (!group) throw invalid(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(group[2]);
    }
  }
  const additionalGids = userName
    ? groups.filter((g) => (g[3] ?? '').split(',').includes(userName!)).map((g) => Number(g[2])).filter((g) => g !== gid)
    : [];
  return { uid, gid, additionalGids };
}

/** `--group-add`: group names (from the image's /etc/group) or numbers, as supplementary gids. */
export function resolveGroups(rootfs: string, groups: string[]): number[] {
  if (groups.length === 0) return [];
  const known = readColonFile(rootfs, 'etc/group');
  return groups.map((group) => {
    if (/^\d+$/.test(group)) return Number(group);
    const entry = known.find((g) => g[0] === group);
    if (!entry) throw invalid(`unable to find group ${group}: no matching entries in group file`);
    return Number(entry[2]);
  });
}
