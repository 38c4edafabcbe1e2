import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { EngineError, invalid } from '../util/errors.js';
import { fieldController, limitControllers, oomKills, v1Hierarchy, v1LimitWrites, v2LimitWrites, type LimitController, type LimitWrite, type ResourceField } from './cgroup-limits.js';

/**
 * The part of cgroup v2 an unprivileged user can use: a subtree delegated to them (systemd's
 * user@UID.service has Delegate=yes, in the unified hierarchy even on hybrid hosts). Inside it the
 * engine gives every container a cgroup of its own, which is what the freezer (pause) needs; it needs
 * no controller. Limits need controllers: those the delegated v2 cgroup offers, or, on a hybrid or v1
 * host, v1 hierarchies in which this process's cgroup is writable (an administrator's delegation, as
 * `cgcreate -a USER -t USER` makes). Whatever is neither stays unapplied, and the engine says so.
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

let found: Delegation | undefined;

/**
 * The cgroup directory this process may create children in, or why there is none. Found once: the
 * daemon may later move itself into a leaf below it (enableV2Controllers).
 */
export function findDelegation(): Delegation {
  found ??= lookForDelegation();
  return found;
}

function lookForDelegation(): Delegation {
  const mount = unifiedMount();
  const remedy = 'run Roost from your systemd user session (user@.service delegates a cgroup v2 subtree to you), e.g. systemd-run --user --scope roost ...';
  if (!mount) return { reason: 'this host has no cgroup v2 hierarchy', remedy: 'boot with systemd.unified_cgroup_hierarchy=1' };
  const own = ownCgroup();
  if (own === undefined) return { reason: 'this process is in no cgroup v2 group', remedy };
  const dir = path.join(mount, own);
  return writable(dir) ? { dir } : { reason: `the cgroup ${own} is not delegated to this user`, remedy };
}

/** Whether this process may create cgroups in `dir` and move processes into it. */
function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    fs.accessSync(path.join(dir, 'cgroup.procs'), fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}


/** Where each limit controller can be used: in the delegated v2 cgroup, or in a writable v1 cgroup. */
export interface LimitDelegation {
  v2: Set<LimitController>;
  v1: Map<LimitController, string>;
  /** The controllers this host mounts as v1 hierarchies (a hybrid or v1 host), delegated or not. */
  onV1?: Set<LimitController>;
}

/** The mount points of the v1 hierarchies that hold each limit controller, in mount order. */
function v1Mounts(mounts: string): Map<LimitController, string[]> {
  const found = new Map<LimitController, string[]>();
  for (const line of mounts.split('\n')) {
    const [, target, type, options] = line.split(' ');
    if (type !== 'cgroup' || !target || !options) continue;
    const names = options.split(',');
    for (const controller of limitControllers) {
      if (names.includes(v1Hierarchy(controller))) found.set(controller, [...(found.get(controller) ?? []), target]);
    }
  }
  return found;
}

/** The limit controllers mounted as cgroup v1 hierarchies. */
export function v1Controllers(mounts = fs.readFileSync('/proc/self/mounts', 'utf8')): Set<LimitController> {
  return new Set(v1Mounts(mounts).keys());
}

/** The v1 hierarchies (by controller) in which this process's own cgroup is writable. */
export function findV1Delegation(mounts = fs.readFileSync('/proc/self/mounts', 'utf8'),
  cgroups = fs.readFileSync('/proc/self/cgroup', 'utf8'), isWritable = writable): Map<LimitController, string> {
  const pathOf = new Map<string, string>();
  for (const line of cgroups.split('\n')) {
    const match = /^\d+:([^:]+):(.*)$/.exec(line);
    if (match) for (const name of match[1]!.split(',')) pathOf.set(name, match[2]!);
  }
  const found = new Map<LimitController, string>();
  for (const [controller, targets] of v1Mounts(mounts)) {
    const own = pathOf.get(v1Hierarchy(controller));
    const dir = own === undefined ? undefined : targets.map((target) => path.join(target, own)).find(isWritable);
    if (dir) found.set(controller, dir);
  }
  return found;
}

const readText = (file: string): string => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

/** The limit controllers a cgroup v2 list file names (cgroup.controllers, cgroup.subtree_control). */
const controllersIn = (file: string): Set<LimitController> =>
  new Set(readText(file).trim().split(/\s+/).filter((c): c is LimitController => (limitControllers as readonly string[]).includes(c)));

/** The controllers a v2 cgroup's children can use (its cgroup.subtree_control). */
const enabledIn = (dir: string): Set<LimitController> => controllersIn(path.join(dir, 'cgroup.subtree_control'));

/**
 * The controllers limits can use for this process: offered to its delegated v2 cgroup (the engine
 * enables them at start) or in a writable v1 cgroup; for `roost info` and the tests, in the usual order.
 */
export function usableLimitControllers(delegation: Delegation = findDelegation()): LimitController[] {
  const offered = 'dir' in delegation ? controllersIn(path.join(delegation.dir, 'cgroup.controllers')) : new Set<LimitController>();
  const v1 = findV1Delegation();
  return limitControllers.filter((c) => offered.has(c) || v1.has(c));
}

/**
 * Makes the delegated v2 cgroup hand its controllers to its children. The kernel allows that only for a
 * cgroup without processes of its own, so they move into a leaf `roost-daemon` beside the containers'
 * cgroups (podman moves itself the same way): first the daemon; then, if that is not enough, every other
 * process of the group. Those are the engine's own where the group is Roost's (the systemd service,
 * `systemd-run --user --scope roost daemon`: the outer `roost daemon` process and the namespace holder);
 * elsewhere they are processes the user started there, which the move leaves in the same delegated
 * subtree, under no limit. Where even that fails, limits stay off and the engine says so.
 */
export function enableV2Controllers(dir: string, pid = process.pid): Set<LimitController> {
  const offered = [...controllersIn(path.join(dir, 'cgroup.controllers'))];
  const missing = offered.filter((c) => !enabledIn(dir).has(c));
  if (missing.length === 0) return enabledIn(dir);
  const enable = (): boolean => {
    try {
      fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
      return true;
    } catch {
      return false;
    }
  };
  if (enable()) return enabledIn(dir);
  const leaf = path.join(dir, 'roost-daemon');
  const moveIn = (target: number | string) => {
    try { fs.writeFileSync(path.join(leaf, 'cgroup.procs'), String(target)); } catch { /* gone, or not ours to move */ }
  };
  try {
    fs.mkdirSync(leaf, { recursive: true });
  } catch {
    return enabledIn(dir);
  }
  moveIn(pid);
  if (enable()) return enabledIn(dir);
  for (const other of readText(path.join(dir, 'cgroup.procs')).split('\n').filter(Boolean)) moveIn(other);
  enable();
  return enabledIn(dir);
}

export interface UnappliedLimits {
  fields: ResourceField[];
  reason: string;
  remedy: string;
}

/** A cgroup per container, under the delegated one: the freezer for pause, and the resource limits. */
export class ContainerCgroups {
  private readonly v2Limits: Set<LimitController>;

  constructor(private readonly delegation: Delegation, private readonly limits: LimitDelegation = { v2: new Set(), v1: new Map() }) {
    this.v2Limits = limits.v2;
  }

  /** Finds what this host delegates to this process (and enables the v2 controllers it may use). */
  static forThisProcess(): ContainerCgroups {
    const delegation = findDelegation();
    let v2 = new Set<LimitController>();
    let v1 = new Map<LimitController, string>();
    let onV1 = new Set<LimitController>();
    try {
      v2 = 'dir' in delegation ? enableV2Controllers(delegation.dir) : v2;
      const mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
      v1 = findV1Delegation(mounts);
      onV1 = v1Controllers(mounts);
    } catch { /* no cgroup files to read: no limits */ }
    return new ContainerCgroups(delegation, { v2, v1, onV1 });
  }

  get available(): boolean {
    return 'dir' in this.delegation;
  }

  /** Why pause cannot work here (undefined when it can). */
  unavailable(): EngineError | undefined {
    if ('dir' in this.delegation) return undefined;
    return new EngineError('unavailable', `pause needs a cgroup of the container's own, and ${this.delegation.reason}`, { hint: this.delegation.remedy });
  }

  /** Which controllers carry limits here, and where (for `roost info`). */
  limitControllers(): { v2: LimitController[]; v1: LimitController[] } {
    return { v2: [...this.v2Limits], v1: [...this.limits.v1.keys()] };
  }

  private canLimit(controller: LimitController): boolean {
    return this.v2Limits.has(controller) || this.limits.v1.has(controller);
  }

  /** The requested fields this host cannot enforce, why, and what would fix it. */
  unapplied(fields: ResourceField[]): UnappliedLimits | undefined {
    const missing = fields.filter((field) => !this.canLimit(fieldController[field]));
    if (missing.length === 0) return undefined;
    const controllers = [...new Set(missing.map((field) => fieldController[field]))];
    if (controllers.every((c) => this.limits.onV1?.has(c))) {
      const plural = controllers.length > 1 ? 's are' : ' is';
      return {
        fields: missing,
        reason: `the ${controllers.join(', ')} controller${plural} on cgroup v1 here, where no cgroup is yours`,
        remedy: `boot with systemd.unified_cgroup_hierarchy=1 (systemd then delegates them to your session), or have an administrator delegate them (cgcreate -a USER -t USER -g ${controllers.map(v1Hierarchy).join(',')}:/PATH) and start your session in that cgroup`,
      };
    }
    const reason = 'dir' in this.delegation
      ? `the ${controllers.join(', ')} controller${controllers.length > 1 ? 's are' : ' is'} not delegated to ${this.delegation.dir}`
      : this.delegation.reason;
    const remedy = 'dir' in this.delegation
      ? `delegate them to your user session (systemd: a Delegate=${controllers.join(' ')} drop-in for user@.service; run the daemon alone in its scope: systemd-run --user --scope roost daemon)`
      : this.delegation.remedy;
    return { fields: missing, reason, remedy };
  }

  private v2DirOf(id: string): string | undefined {
    return 'dir' in this.delegation ? path.join(this.delegation.dir, `roost-${id.slice(0, 12)}`) : undefined;
  }

  private v1DirsOf(id: string): Array<[LimitController, string]> {
    return [...this.limits.v1].map(([controller, base]) => [controller, path.join(base, `roost-${id.slice(0, 12)}`)]);
  }

  /** Every directory that holds the container's processes. */
  private dirsOf(id: string): string[] {
    const v2 = this.v2DirOf(id);
    return [...(v2 ? [v2] : []), ...this.v1DirsOf(id).map(([, dir]) => dir)];
  }

  /**
   * Creates the container's cgroups and writes its limits, before its init runs. A value the kernel
   * refuses (below its minimum, a CPU this host lacks) is the caller's error, and nothing is left behind.
   */
  async create(id: string, resources: Record<string, unknown>): Promise<void> {
    const v2 = this.v2DirOf(id);
    try {
      if (v2) await fsp.mkdir(v2, { recursive: true });
      for (const [controller, dir] of this.v1DirsOf(id)) {
        await fsp.mkdir(dir, { recursive: true });
        // A v1 cpuset takes no process until it has CPUs and memory nodes: its parent's.
        if (controller === 'cpuset') {
          for (const file of ['cpuset.cpus', 'cpuset.mems']) await fsp.writeFile(path.join(dir, file), (await fsp.readFile(path.join(this.limits.v1.get('cpuset')!, file), 'utf8')).trim() || '0');
        }
      }
      await this.writeLimits(id, resources);
    } catch (err) {
      await this.release(id);
      throw err;
    }
  }

  /** Writes the limits of `resources` into the container's existing cgroups (create, and update of a running container). */
  async writeLimits(id: string, resources: Record<string, unknown>): Promise<void> {
    const targets: Array<{ dir: string; write: LimitWrite }> = [];
    const v2 = this.v2DirOf(id);
    if (v2) for (const write of v2LimitWrites(resources)) if (this.v2Limits.has(write.controller)) targets.push({ dir: v2, write });
    const v1 = new Map(this.v1DirsOf(id));
    for (const write of v1LimitWrites(resources)) {
      const dir = v1.get(write.controller);
      if (dir) targets.push({ dir, write });
    }
    // Limits that depend on each other (v1's memory below memory+swap) may need the other order: retry once.
    let failed: Array<{ dir: string; write: LimitWrite; error: Error }> = [];
    for (let round = 0; round < 2 && targets.length; round++) {
      failed = [];
      for (const target of targets) {
        try {
          await fsp.writeFile(path.join(target.dir, target.write.file), target.write.value);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && target.write.optional) continue;
          failed.push({ ...target, error: err as Error });
        }
      }
      targets.splice(0, targets.length, ...failed);
    }
    const first = failed[0];
    if (first) {
      const code = (first.error as NodeJS.ErrnoException).code;
      throw invalid(`cannot set ${first.write.file} to ${first.write.value}: ${code === 'EINVAL' || code === 'EBUSY' ? 'the kernel refuses that value' : first.error.message}`);
    }
  }

  /** Moves a process of the container (its init before it runs, or an exec's) into the container's cgroups. */
  async place(id: string, pid: number): Promise<void> {
    if (!pid) return;
    for (const dir of this.dirsOf(id)) {
      await fsp.mkdir(dir, { recursive: true });
      await fsp.writeFile(path.join(dir, 'cgroup.procs'), String(pid));
    }
  }

  /** Whether the kernel's OOM killer killed a process of the container (read before release). */
  async oomKilled(id: string): Promise<boolean> {
    const v2 = this.v2DirOf(id);
    if (v2 && this.v2Limits.has('memory')) return oomKills(await fsp.readFile(path.join(v2, 'memory.events'), 'utf8').catch(() => '')) > 0;
    const v1 = this.v1DirsOf(id).find(([controller]) => controller === 'memory')?.[1];
    return v1 ? oomKills(await fsp.readFile(path.join(v1, 'memory.oom_control'), 'utf8').catch(() => '')) > 0 : false;
  }

  /** Freezes (or thaws) every process of the container and waits until the kernel says it is done. */
  async setFrozen(id: string, frozen: boolean): Promise<void> {
    const unavailable = this.unavailable();
    if (unavailable) throw unavailable;
    const dir = this.v2DirOf(id)!;
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

  /** Removes the container's cgroups once its processes are gone (an exiting process may hold one a moment). */
  async release(id: string): Promise<void> {
    await Promise.all(this.dirsOf(id).map(async (dir) => {
      for (let i = 0; i < 20; i++) {
        try {
          await fsp.rmdir(dir);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }));
  }
}
