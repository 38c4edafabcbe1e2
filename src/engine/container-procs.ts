import fs from 'node:fs';
import os from 'node:os';
import { execa } from 'execa';
import { invalid } from '../util/errors.js';

let namespaceSnapshot: { at: number; byNamespace: Map<string, number[]> } | undefined;

/** Every process's pid namespace, from one pass over /proc. */
function scanNamespaces(): Map<string, number[]> {
  const byNamespace = new Map<string, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ns = fs.readlinkSync(`/proc/${name}/ns/pid`);
      const list = byNamespace.get(ns);
      if (list) list.push(Number(name));
      else byNamespace.set(ns, [Number(name)]);
    } catch { /* gone, or not ours to read */ }
  }
  return byNamespace;
}

/**
 * The pids (as this engine sees them) of every process in a container: those in its init's pid namespace.
 * `maxAgeMs` lets callers that sample many containers at once (stats) share one pass over /proc.
 */
export function containerPids(initPid: number, maxAgeMs = 0): number[] {
  let pidNs: string;
  try {
    pidNs = fs.readlinkSync(`/proc/${initPid}/ns/pid`);
  } catch {
    return [];
  }
  const now = Date.now();
  if (!namespaceSnapshot || now - namespaceSnapshot.at > maxAgeMs) namespaceSnapshot = { at: now, byNamespace: scanNamespaces() };
  return [...(namespaceSnapshot.byNamespace.get(pidNs) ?? [])].sort((a, b) => a - b);
}

function isProbeAgent(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === '.roost-probe';
  } catch {
    return false;
  }
}

/** `top`: `ps` with the user's options, keeping the rows of the container's processes (Docker's shape). */
export async function containerTop(initPid: number, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
  const args = psArgs.trim() === '' ? ['-ef'] : psArgs.trim().split(/\s+/);
  if (args.some((a) => a.includes('\0'))) throw invalid('invalid ps arguments');
  const result = await execa('ps', args, { reject: false });
  if (result.exitCode !== 0) throw invalid(`ps ${args.join(' ')} failed: ${String(result.stderr).trim().split('\n')[0]}`);
  const lines = String(result.stdout).split('\n').filter(Boolean);
  const titles = (lines.shift() ?? '').trim().split(/\s+/);
  const pidColumn = titles.indexOf('PID');
  if (pidColumn < 0) throw invalid(`ps ${args.join(' ')} shows no PID column`);
  // The health-check agent (native/roost-probe) is the engine's, not the container's: Docker's top has none.
  const pids = new Set(containerPids(initPid).filter((pid) => !isProbeAgent(pid)));
  const processes = lines.map((line) => {
    const fields = line.trim().split(/\s+/);
    // The last column (the command) keeps its spaces.
    return [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
  }).filter((row) => pids.has(Number(row[pidColumn])));
  return { Titles: titles, Processes: processes };
}

const clockTicks = 100;
/**
 * Clock ticks as whole nanoseconds: Docker's clients decode the CPU figures as uint64, and a fraction
 * (ticks / 100 * 1e9 gave 66252350000000.01 for 6,625,235 ticks) fails the docker CLI's `stats` with "EOF".
 */
export const ticksToNs = (ticks: number): number => ticks * (1e9 / clockTicks);

/** One sample of a container's usage read from /proc (no cgroup is ours to read). */
export interface UsageSample {
  read: string;
  /** CPU time of the container's processes, in nanoseconds. */
  cpuTotalNs: number;
  /** All CPUs' time since boot, in nanoseconds (Docker's system_cpu_usage). */
  systemCpuNs: number;
  memoryBytes: number;
  pids: number;
  networks: Record<string, { rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number; tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number }>;
  blockReadBytes: number;
  blockWriteBytes: number;
}

function systemCpuNs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).reduce((sum, v) => sum + Number(v), 0);
  return ticksToNs(ticks);
}

/**
 * Reads a container's usage: CPU (utime+stime of its processes), memory (their resident set; shared
 * pages counted once per process, so an upper bound), pids, network counters of its namespace,
 * block I/O from /proc/PID/io. Processes that ended between two samples take their CPU time with them.
 */
export function sampleUsage(initPid: number): UsageSample {
  // Samples of many containers taken together (stats of all, a dashboard) share one /proc pass.
  const pids = containerPids(initPid, 500);
  let cpuTicks = 0;
  let memory = 0;
  let readBytes = 0;
  let writeBytes = 0;
  const pageSize = 4096;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuTicks += Number(fields[11]) + Number(fields[12]);
      memory += Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * pageSize;
      const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
      readBytes += Number(/read_bytes: (\d+)/.exec(io)?.[1] ?? 0);
      writeBytes += Number(/write_bytes: (\d+)/.exec(io)?.[1] ?? 0);
    } catch { /* the process ended */ }
  }
  const networks: UsageSample['networks'] = {};
  try {
    for (const line of fs.readFileSync(`/proc/${initPid}/net/dev`, 'utf8').split('\n').slice(2)) {
      const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
      if (!m || m[1] === 'lo') continue;
      const v = m[2]!.trim().split(/\s+/).map(Number);
      networks[m[1]!] = { rx_bytes: v[0]!, rx_packets: v[1]!, rx_errors: v[2]!, rx_dropped: v[3]!, tx_bytes: v[8]!, tx_packets: v[9]!, tx_errors: v[10]!, tx_dropped: v[11]! };
    }
  } catch { /* no network namespace of its own */ }
  return {
    read: new Date().toISOString(),
    cpuTotalNs: ticksToNs(cpuTicks),
    systemCpuNs: systemCpuNs(),
    memoryBytes: memory,
    pids: pids.length,
    networks,
    blockReadBytes: readBytes,
    blockWriteBytes: writeBytes,
  };
}

/** Docker's stats JSON from two samples (the previous one becomes precpu_stats). */
/** `memoryLimit`: the container's enforced memory limit, where it has one (else the host's memory, as Docker shows). */
export function statsJson(id: string, name: string, current: UsageSample, previous: UsageSample | undefined, memoryLimit?: number) {
  const cpus = os.cpus().length;
  const cpu = (s: UsageSample | undefined) => ({
    cpu_usage: { total_usage: s?.cpuTotalNs ?? 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: s?.systemCpuNs ?? 0,
    online_cpus: cpus,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  return {
    id,
    name,
    read: current.read,
    preread: previous?.read ?? '0001-01-01T00:00:00Z',
    pids_stats: { current: current.pids },
    cpu_stats: cpu(current),
    precpu_stats: cpu(previous),
    memory_stats: { usage: current.memoryBytes, limit: memoryLimit || os.totalmem(), stats: {} },
    networks: current.networks,
    blkio_stats: {
      io_service_bytes_recursive: [
        { major: 0, minor: 0, op: 'read', value: current.blockReadBytes },
        { major: 0, minor: 0, op: 'write', value: current.blockWriteBytes },
      ],
    },
    num_procs: 0,
    storage_stats: {},
  };
}
