import fs from 'node:fs';

export interface SubIdRange {
  start: number;
  count: number;
}

/** The first /etc/subuid (or subgid) range for a user, matched by name or uid, as shadow-utils does. */
export function findSubIdRange(file: string, userName: string, uid: number): SubIdRange | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if ((owner === userName || owner === String(uid)) && Number(count) > 0) return { start: Number(start), count: Number(count) };
  }
  return undefined;
}
