import fs from 'node:fs';
import path from 'node:path';

/**
 * One engine per user: a lock in its run directory, taken by `roost daemon` before it finds or makes the
 * namespaces and held by the engine for its lifetime. The socket alone cannot be it: two first CLI calls
 * at once each start a daemon, both find no socket answering, and both would open the same store
 * (measured before this lock: 2 or 3 engines from 5 concurrent `roost ps`, in 4 of 6 tries). A directory is
 * made atomically or not at all; it holds its holder's pid. A lock whose holder is gone (kill -9) is
 * stale, and is removed and taken again.
 */

const lockName = 'daemon.lock';

function lockDir(runDir: string): string {
  return path.join(runDir, lockName);
}

/**
 * Whether `pid` is a running `roost daemon` (the engine, or the process outside the namespaces that starts
 * it and hands the lock over), not a process that reused the pid.
 */
function isDaemon(pid: number): boolean {
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.some((arg, i) => arg === 'daemon' && i > 0 && args[i - 1]!.endsWith('roost.js'));
  } catch {
    return false;
  }
}

function readHolder(dir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the daemon holding the lock, if one is alive. */
export function daemonLockHolder(runDir: string): number | undefined {
  const pid = readHolder(lockDir(runDir));
  return pid !== undefined && isDaemon(pid) ? pid : undefined;
}

export interface DaemonLock {
  release(): void;
}

/** How long a lock directory may stay without a pid before it counts as left by a starter that died. */
const pidGraceMs = 2000;

/** Whether the lock in `dir` has no live holder: its pid is another process's or none, or it has no pid for too long. */
function stale(dir: string): { stale: boolean; holder?: number } {
  const holder = readHolder(dir);
  if (holder !== undefined) return isDaemon(holder) ? { stale: false, holder } : { stale: true };
  try {
    return { stale: Date.now() - fs.statSync(dir).mtimeMs >= pidGraceMs };
  } catch {
    return { stale: false }; // just released
  }
}

/**
 * Takes the lock for this process, or returns the pid of the live daemon that has it. `takeOverFrom`: the
 * process that took it to start this one (`roost daemon` outside the namespaces, which takes it before it
 * makes the namespaces, so that two starters cannot make two) hands it over. A stale lock is removed under
 * a second, short-lived lock (`daemon.lock.break`), so that two starters that both found it stale cannot
 * remove, one after the other, the stale lock and then the lock the first one took.
 */
export async function acquireDaemonLock(runDir: string, opts: { takeOverFrom?: number } = {}): Promise<DaemonLock | { heldBy: number }> {
  const dir = lockDir(runDir);
  const breaker = `${dir}.break`;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 10));
  const held = (): DaemonLock => ({ release: () => { if (readHolder(dir) === process.pid) fs.rmSync(dir, { recursive: true, force: true }); } });
  for (let attempt = 0; attempt < 500; attempt++) {
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
      fs.writeFileSync(path.join(dir, 'pid'), `${process.pid}\n`);
      return held();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const seen = stale(dir);
    if (seen.holder !== undefined && seen.holder === opts.takeOverFrom) {
      const tmp = path.join(dir, `pid.${process.pid}`);
      fs.writeFileSync(tmp, `${process.pid}\n`);
      fs.renameSync(tmp, path.join(dir, 'pid'));
      return held();
    }
    if (seen.holder !== undefined) return { heldBy: seen.holder };
    if (!seen.stale) {
      await pause();
      continue;
    }
    try {
      fs.mkdirSync(breaker, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another starter is breaking it; one that died at it leaves an old breaker behind.
      try { if (Date.now() - fs.statSync(breaker).mtimeMs > 5000) fs.rmSync(breaker, { recursive: true, force: true }); } catch { /* gone */ }
      await pause();
      continue;
    }
    try {
      // Only a breaker removes the lock, so what is there now is what counts.
      const now = stale(dir);
      if (now.holder !== undefined) return { heldBy: now.holder };
      if (now.stale) fs.rmSync(dir, { recursive: true, force: true });
    } finally {
      fs.rmSync(breaker, { recursive: true, force: true });
    }
  }
  throw new Error(`cannot take ${dir}`);
}
