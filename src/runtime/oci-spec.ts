import fs from 'node:fs';
import type { ContainerRecord } from '../engine/container-types.js';

import type { SecuritySettings } from './security.js';
import { probeMountPath } from './probe-agent.js';

const maskedPaths = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
const readonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

export interface SpecInput {
  container: ContainerRecord;
  rootfs: string;
  user: ProcessUser;
  /** Files the engine writes per container and binds in (/etc/hosts, /etc/hostname, /etc/resolv.conf). */
  etcFiles: Record<string, string>;
  /** 'host' shares the host's network namespace; otherwise a new one, or the one at `netnsPath`. */
  hostNetwork: boolean;
  netnsPath?: string;
  security: SecuritySettings;
  /** Volumes, binds and tmpfs mounts, already resolved to host sources. */
  userMounts: Array<{ destination: string; type: string; source: string; options: string[] }>;
  initPath?: string;
  /** The health-check agent to bind in at `probeMountPath` (containers with a health check). */
  probePath?: string;
  /** --pid/--ipc/--uts host (share the engine's) or a namespace path (container:NAME); absent: its own. */
  sharedNamespaces?: Partial<Record<'pid' | 'ipc' | 'uts', string>>;
  /** The /dev/shm to bind when the IPC namespace is shared. */
  sharedShm?: string;
  /** A user namespace of the container's own with these mappings (--userns=keep-id). */
  idMappings?: { uidMappings: IdMap[]; gidMappings: IdMap[] };
}

export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

/**
 * --userns=keep-id: the user's own id inside the container is the engine namespace's root (the user on
 * the host); the ids below and above it take the rest of the namespace's range, so container root is a
 * subordinate id. `mapped` is how many ids the engine's namespace has (1 with a single-id mapping).
 */
export function keepIdMappings(id: number, mapped: number): IdMap[] {
  if (mapped <= 1) return [{ containerID: id, hostID: 0, size: 1 }];
  const maps: IdMap[] = [{ containerID: id, hostID: 0, size: 1 }];
  const below = Math.min(id, mapped - 1);
  if (below > 0) maps.push({ containerID: 0, hostID: 1, size: below });
  const above = mapped - 1 - below;
  if (above > 0) maps.push({ containerID: id + 1, hostID: below + 1, size: above });
  return maps;
}

function processArgs(container: ContainerRecord, initPath?: string): string[] {
  const args = [container.Path, ...container.Args];
  return initPath ? ['/sbin/docker-init', '--', ...args] : args;
}

/** The daemon's own open-files limit: a user namespace cannot raise the hard limit it was given. */
function openFilesLimit(): { hard: number; soft: number } {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line ?? '').split(/\s+/).slice(3, 5).map(Number);
    if (hard && Number.isFinite(hard)) return { hard, soft: hard };
    if (soft && Number.isFinite(soft)) return { hard: soft, soft };
  } catch { /* fall through */ }
  return { hard: 1024, soft: 1024 };
}

/** OCI runtime config for a container running inside Roost's user namespace. */
export function buildSpec(input: SpecInput): Record<string, unknown> {
  const { container, user } = input;
  const config = container.Config;
  const env = config.Env ?? [];
  const withPath = env.some((e) => e.startsWith('PATH=')) ? env : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...env];
  const withHostname = withPath.some((e) => e.startsWith('HOSTNAME=')) ? withPath : [...withPath, `HOSTNAME=${config.Hostname ?? ''}`];
  const withTerm = config.Tty && !withHostname.some((e) => e.startsWith('TERM=')) ? [...withHostname, 'TERM=xterm'] : withHostname;
  const { security } = input;
  const caps = security.capabilities;
  const mounts: Array<Record<string, unknown>> = [
    // procfs can only be mounted in a pid namespace our user namespace owns; the host's is bound instead.
    input.sharedNamespaces?.pid === 'host'
      ? { destination: '/proc', type: 'bind', source: '/proc', options: ['rbind', 'nosuid', 'noexec', 'nodev'] }
      : { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
    // --ipc container:X shares X's /dev/shm too, as Docker does; --ipc host the engine's.
    input.sharedShm
      ? { destination: '/dev/shm', type: 'bind', source: input.sharedShm, options: ['rbind', 'nosuid', 'noexec', 'nodev'] }
      : { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${Math.ceil(security.shmSizeBytes / 1024)}k`] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // sysfs can only be mounted in a network namespace owned by our user namespace; with the host's, bind it.
    input.hostNetwork || input.idMappings
      ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
  for (const [destination, source] of Object.entries(input.etcFiles)) {
    mounts.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] });
  }
  if (input.initPath) mounts.push({ destination: '/sbin/docker-init', type: 'bind', source: input.initPath, options: ['rbind', 'ro'] });
  if (input.probePath) mounts.push({ destination: probeMountPath, type: 'bind', source: input.probePath, options: ['rbind', 'ro', 'nosuid'] });
  mounts.push(...input.userMounts);
  // Devices are bound, not created: a user namespace cannot mknod, and no devices cgroup is ours.
  for (const device of security.devices) mounts.push({ destination: device.containerPath, type: 'bind', source: device.hostPath, options: ['rbind', 'nosuid', 'noexec'] });
  const rlimits = [{ type: 'RLIMIT_NOFILE', ...openFilesLimit() }].filter((r) => !security.rlimits.some((u) => u.type === r.type)).concat(security.rlimits);
  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'mount' }];
  for (const type of ['pid', 'ipc', 'uts'] as const) {
    const shared = input.sharedNamespaces?.[type];
    if (shared === 'host') continue;
    namespaces.push(shared ? { type, path: shared } : { type });
  }
  if (!input.hostNetwork) namespaces.push(input.netnsPath ? { type: 'network', path: input.netnsPath } : { type: 'network' });
  if (input.idMappings) namespaces.push({ type: 'user' });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: Boolean(config.Tty),
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args: processArgs(container, input.initPath),
      env: withTerm,
      cwd: config.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits,
      noNewPrivileges: security.noNewPrivileges,
    },
    root: { path: input.rootfs, readonly: security.readonlyRootfs },
    hostname: input.hostNetwork || input.sharedNamespaces?.uts ? undefined : config.Hostname,
    mounts,
    linux: {
      namespaces,
      ...(input.idMappings ?? {}),
      ...(security.maskPaths ? { maskedPaths, readonlyPaths } : {}),
      ...(Object.keys(security.sysctls).length ? { sysctl: security.sysctls } : {}),
      ...(security.seccomp ? { seccomp: security.seccomp } : {}),
    },
  };
}

/** OCI process for `exec`. */
export function buildExecProcess(opts: {
  args: string[]; env: string[]; cwd: string; tty: boolean; user: ProcessUser; security: SecuritySettings;
}): Record<string, unknown> {
  const caps = opts.security.capabilities;
  return {
    terminal: opts.tty,
    user: { uid: opts.user.uid, gid: opts.user.gid, additionalGids: opts.user.additionalGids },
    args: opts.args,
    env: opts.env,
    cwd: opts.cwd || '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: opts.security.noNewPrivileges,
  };
}
