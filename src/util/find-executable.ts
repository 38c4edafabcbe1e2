import fs from 'node:fs';

/** The first executable `name` on PATH (then /usr/sbin and /sbin); directories this user cannot search are passed over. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const candidate = `${dir}/${name}`;
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch { /* next */ }
  }
  return undefined;
}

/**
 * A system tool: the distribution's directories first, then PATH. For names that other programs reuse on
 * a PATH (`npx` puts node_modules/.bin first, and @vercel/nft installs an `nft` there).
 */
export function findSystemExecutable(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    const candidate = `${dir}/${name}`;
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch { /* next */ }
  }
  return findExecutable(name);
}
