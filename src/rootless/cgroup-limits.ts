import { resourceFields } from '../runtime/security.js';

/**
 * What Docker's resource fields become in cgroup files, for both hierarchies. Pure: the files are
 * written by ContainerCgroups (cgroup-delegation.ts) into the container's own cgroup(s).
 */

/** The controllers that carry limits, by their cgroup v2 names (v1 calls `io` `blkio`). */
export type LimitController = 'memory' | 'pids' | 'cpu' | 'cpuset' | 'io';
export const limitControllers: readonly LimitController[] = ['memory', 'pids', 'cpu', 'cpuset', 'io'];

export type ResourceField = typeof resourceFields[number];

/** The controller each of Docker's resource fields needs. */
export const fieldController: Record<ResourceField, LimitController> = {
  Memory: 'memory', MemorySwap: 'memory', MemoryReservation: 'memory',
  NanoCpus: 'cpu', CpuShares: 'cpu', CpuQuota: 'cpu', CpuPeriod: 'cpu',
  CpusetCpus: 'cpuset', PidsLimit: 'pids', BlkioWeight: 'io',
};

/** The v1 hierarchy that holds a controller. */
export const v1Hierarchy = (controller: LimitController): string => (controller === 'io' ? 'blkio' : controller);

export interface LimitWrite {
  controller: LimitController;
  file: string;
  value: string;
  /** Skipped where the kernel has no such file (swap accounting off, no BFQ for blkio weights). */
  optional?: boolean;
}

type Resources = Partial<Record<ResourceField, unknown>>;

const num = (resources: Resources, key: ResourceField): number => (typeof resources[key] === 'number' ? resources[key] as number : 0);

const defaultCpuPeriod = 100_000;

/** runc's mapping of cpu shares (2..262144) onto cgroup v2 weights (1..10000). */
export function sharesToWeight(shares: number): number {
  const clamped = Math.min(262_144, Math.max(2, shares));
  return 1 + Math.floor(((clamped - 2) * 9999) / 262_142);
}

/** The same mapping for blkio weights (10..1000) onto io weights (1..10000). */
export function blkioToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** The CFS quota and period that --cpus or --cpu-quota/--cpu-period ask for, if any. */
function cpuQuota(r: Resources): { quota: number; period: number } | undefined {
  const period = num(r, 'CpuPeriod') || defaultCpuPeriod;
  if (num(r, 'NanoCpus') > 0) return { quota: Math.max(1000, Math.round((num(r, 'NanoCpus') / 1e9) * period)), period };
  if (num(r, 'CpuQuota') > 0) return { quota: num(r, 'CpuQuota'), period };
  return undefined;
}

/** Docker's swap rule: --memory-swap is memory plus swap; unset, the swap allowed equals the memory; -1 is unlimited. */
function swapBytes(r: Resources): number | 'max' | undefined {
  const memory = num(r, 'Memory');
  const total = num(r, 'MemorySwap');
  if (total === -1) return 'max';
  if (memory <= 0) return undefined;
  return total > 0 ? total - memory : memory;
}

/** The cgroup v2 files (relative to the container's cgroup) for a container's resource fields. */
export function v2LimitWrites(r: Resources): LimitWrite[] {
  const writes: LimitWrite[] = [];
  if (num(r, 'Memory') > 0) writes.push({ controller: 'memory', file: 'memory.max', value: String(num(r, 'Memory')) });
  const swap = swapBytes(r);
  if (swap !== undefined) writes.push({ controller: 'memory', file: 'memory.swap.max', value: String(swap), optional: true });
  if (num(r, 'MemoryReservation') > 0) writes.push({ controller: 'memory', file: 'memory.low', value: String(num(r, 'MemoryReservation')) });
  const cpu = cpuQuota(r);
  if (cpu) writes.push({ controller: 'cpu', file: 'cpu.max', value: `${cpu.quota} ${cpu.period}` });
  if (num(r, 'CpuShares') > 0) writes.push({ controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(num(r, 'CpuShares'))) });
  if (typeof r.CpusetCpus === 'string' && r.CpusetCpus) writes.push({ controller: 'cpuset', file: 'cpuset.cpus', value: r.CpusetCpus });
  const pids = num(r, 'PidsLimit');
  if (pids !== 0) writes.push({ controller: 'pids', file: 'pids.max', value: pids > 0 ? String(pids) : 'max' });
  if (num(r, 'BlkioWeight') > 0) writes.push({ controller: 'io', file: 'io.weight', value: `default ${blkioToIoWeight(num(r, 'BlkioWeight'))}`, optional: true });
  return writes;
}

/** The cgroup v1 files (relative to the container's cgroup in each controller's hierarchy). */
export function v1LimitWrites(r: Resources): LimitWrite[] {
  const writes: LimitWrite[] = [];
  const memory = num(r, 'Memory');
  if (memory > 0) writes.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(memory) });
  const swap = swapBytes(r);
  // v1 limits memory plus swap together; -1 lifts the limit.
  if (swap !== undefined) writes.push({ controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: swap === 'max' ? '-1' : String(memory + swap), optional: true });
  if (num(r, 'MemoryReservation') > 0) writes.push({ controller: 'memory', file: 'memory.soft_limit_in_bytes', value: String(num(r, 'MemoryReservation')) });
  const cpu = cpuQuota(r);
  if (cpu) {
    writes.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(cpu.period) });
    writes.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(cpu.quota) });
  }
  if (num(r, 'CpuShares') > 0) writes.push({ controller: 'cpu', file: 'cpu.shares', value: String(num(r, 'CpuShares')) });
  if (typeof r.CpusetCpus === 'string' && r.CpusetCpus) writes.push({ controller: 'cpuset', file: 'cpuset.cpus', value: r.CpusetCpus });
  const pids = num(r, 'PidsLimit');
  if (pids !== 0) writes.push({ controller: 'pids', file: 'pids.max', value: pids > 0 ? String(pids) : 'max' });
  if (num(r, 'BlkioWeight') > 0) writes.push({ controller: 'io', file: 'blkio.bfq.weight', value: String(num(r, 'BlkioWeight')), optional: true });
  return writes;
}

/** The resource fields a request sets (what must be applied, or warned about). */
export function requestedResources(resources: Resources): ResourceField[] {
  return resourceFields.filter((field) => {
    const value = resources[field];
    return value !== undefined && value !== null && value !== 0 && value !== '' && !(field === 'PidsLimit' && (value as number) < 0);
  });
}

/** The count after `oom_kill` in memory.events (v2) or memory.oom_control (v1). */
export function oomKills(text: string): number {
  const match = /^oom_kill (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}
