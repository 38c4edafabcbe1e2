import fs from 'node:fs';

/** The first of `dirs` with an executable `name`; directories this user cannot search are passed over. */
function firstExecutable(name: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const candidate = `${dir}/${name}`;
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch { /* next */ }
  }
  return undefined;
}

/** The first executable `name` on PATH (then /usr/sbin and /sbin). */
export function findExecutable(name: string): string | undefined {
  return firstExecutable(name, (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin']));
}

/**
 * A system tool: the distribution's directories first, then PATH. For names that other programs reuse on
 * a PATH (`npx` puts node_modules/.bin first, and @vercel/nft installs an `nft` there).
 */
export function findSystemExecutable(name: string): string | undefined {
  return firstExecutable(name, ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) ?? findExecutable(name);
}
