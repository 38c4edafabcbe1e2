import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../util/errors.js';

/**
 * The part of cgroup v2 an unprivileged user can use: a subtree delegated to them (systemd's
 * user@UID.service has Delegate=yes, in the unified hierarchy even on hybrid hosts). Inside it the
 * engine gives every container a cgroup of its own, which is what the freezer (pause) needs; it needs
 * no controller. Limits need controllers, which a hybrid host keeps on v1: those stay unapplied.
 */

/** Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup (v2) or /sys/fs/cgroup/unified (hybrid). */
export function unifiedMount(mounts = fs.readFileSync('/proc/self/mounts', 'utf8')): string | undefined {
  for (const line of mounts.split('\n')) {
    const [, target, type] = line.split(' ');
    if (type === 'cgroup2' && (target === '/sys/fs/cgroup' || target === '/sys/fs/cgroup/unified')) return target;
  }
  return undefined;
}

/** This process's cgroup in the v2 hierarchy (the `0::` line of /proc/self/cgroup). */
export function ownCgroup(text = fs.readFileSync('/proc/self/cgroup', 'utf8')): string | undefined {
  return text.split('\n').find((line) => line.startsWith('0::'))?.slice(3);
}

export type Delegation = { dir: string } | { reason: string; remedy: string };

/** The cgroup directory this process may create children in, or why there is none. */
export function findDelegation(): Delegation {
  const mount = unifiedMount();
  const remedy = 'run Roost from your systemd user session (user@.service delegates a cgroup v2 subtree to you), e.g. systemd-run --user --scope roost ...';
  if (!mount) return { reason: 'this host has no cgroup v2 hierarchy', remedy: 'boot with systemd.unified_cgroup_hierarchy=1' };
  const own = ownCgroup();
  if (own === undefined) return { reason: 'this process is in no cgroup v2 group', remedy };
  const dir = path.join(mount, own);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    fs.accessSync(path.join(dir, 'cgroup.procs'), fs.constants.W_OK);
  } catch {
    return { reason: `the cgroup ${own} is not delegated to this user`, remedy };
  }
  return { dir };
}

/** A cgroup per container, under the delegated one, for the freezer. */
export class ContainerCgroups {
  constructor(private readonly delegation: Delegation) {}

  get available(): boolean {
    return 'dir' in this.delegation;
  }

  /** Why pause cannot work here (undefined when it can). */
  unavailable(): EngineError | undefined {
    if ('dir' in this.delegation) return undefined;
    return new EngineError('unavailable', `pause needs a cgroup of the container's own, and ${this.delegation.reason}`, { hint: this.delegation.remedy });
  }

  private dirOf(id: string): string | undefined {
    return 'dir' in this.delegation ? path.join(this.delegation.dir, `roost-${id.slice(0, 12)}`) : undefined;
  }

  /** Moves a process of the container (its init before it runs, or an exec's) into the container's cgroup. */
  async place(id: string, pid: number): Promise<void> {
    const dir = this.dirOf(id);
    if (!dir || !pid) return;
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, 'cgroup.procs'), String(pid));
  }

  /** Freezes (or thaws) every process of the container and waits until the kernel says it is done. */
  async setFrozen(id: string, frozen: boolean): Promise<void> {
    const unavailable = this.unavailable();
    if (unavailable) throw unavailable;
    const dir = this.dirOf(id)!;
    try {
      await fsp.writeFile(path.join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
    } catch (err) {
      throw new EngineError('internal', `cannot ${frozen ? 'freeze' : 'thaw'} the container's cgroup: ${(err as Error).message}`);
    }
    const wanted = `frozen ${frozen ? 1 : 0}`;
    for (let i = 0; i < 200; i++) {
      const events = await fsp.readFile(path.join(dir, 'cgroup.events'), 'utf8').catch(() => '');
      if (events.split('\n').includes(wanted)) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new EngineError('internal', `the container's processes did not ${frozen ? 'freeze' : 'thaw'} within a second`);
  }

  /** Removes the container's cgroup once its processes are gone (an exiting process may hold it a moment). */
  async release(id: string): Promise<void> {
    const dir = this.dirOf(id);
    if (!dir) return;
    for (let i = 0; i < 20; i++) {
      try {
        await fsp.rmdir(dir);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
}
