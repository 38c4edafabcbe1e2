import fs from 'node:fs';
import { invalid } from '../util/errors.js';

/** Every capability Linux knows (as of 6.x); `--cap-add ALL` and `--privileged` give all of them. */
export const allCapabilities = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Docker's default capability set. */
export const defaultCapabilities = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** The HostConfig fields this module reads (Docker's names). */
export interface SecurityRequest {
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  GroupAdd?: string[] | null;
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }> | null;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Devices?: Array<{ PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }> | null;
  NetworkMode?: string;
}

export interface SecuritySettings {
  capabilities: string[];
  noNewPrivileges: boolean;
  readonlyRootfs: boolean;
  /** Docker's masked and read-only /proc and /sys paths (off with --privileged). */
  maskPaths: boolean;
  rlimits: Array<{ type: string; soft: number; hard: number }>;
  shmSizeBytes: number;
  sysctls: Record<string, string>;
  devices: Array<{ hostPath: string; containerPath: string }>;
  groupAdd: string[];
}

function capabilityName(text: string): string {
  const name = text.toUpperCase().startsWith('CAP_') ? text.toUpperCase() : `CAP_${text.toUpperCase()}`;
  if (!allCapabilities.includes(name)) throw invalid(`unknown capability: ${JSON.stringify(text)}`);
  return name;
}

const rlimitNames = ['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** Sysctls that belong to a namespace the container has of its own (as Docker allows them). */
function namespacedSysctl(key: string, hostNetwork: boolean): boolean {
  if (key.startsWith('net.')) return !hostNetwork;
  if (key.startsWith('fs.mqueue.')) return true;
  return ['kernel.shmmax', 'kernel.shmall', 'kernel.shmmni', 'kernel.shm_rmid_forced', 'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem'].includes(key);
}

/** Checks the security options of a create request and turns them into what the OCI spec needs. */
export function securitySettings(request: SecurityRequest): SecuritySettings {
  let capabilities = new Set(request.Privileged ? allCapabilities : defaultCapabilities);
  const drops = (request.CapDrop ?? []).map((c) => (c.toUpperCase() === 'ALL' ? 'ALL' : capabilityName(c)));
  const adds = (request.CapAdd ?? []).map((c) => (c.toUpperCase() === 'ALL' ? 'ALL' : capabilityName(c)));
  if (drops.includes('ALL')) capabilities = new Set();
  for (const cap of drops) capabilities.delete(cap);
  if (adds.includes('ALL')) capabilities = new Set(allCapabilities);
  for (const cap of adds) if (cap !== 'ALL') capabilities.add(cap);

  let noNewPrivileges = false;
  for (const option of request.SecurityOpt ?? []) {
    const [key, value] = option.split(/[:=]/, 2) as [string, string | undefined];
    if (key === 'no-new-privileges') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw invalid(`invalid --security-opt ${JSON.stringify(option)}`);
      noNewPrivileges = value !== 'false';
    } else if (key === 'seccomp' || key === 'label' || key === 'apparmor') {
      // Roost does not load seccomp, SELinux or AppArmor profiles yet: these are accepted and have no effect.
      if (key === 'seccomp' && value && value !== 'unconfined' && !fs.existsSync(value)) throw invalid(`opening seccomp profile (${value}) failed: no such file`);
    } else {
      throw invalid(`invalid --security-opt: ${JSON.stringify(option)}`);
    }
  }

  const rlimits = (request.Ulimits ?? []).map((u) => {
    if (!rlimitNames.includes(u.Name)) throw invalid(`invalid ulimit type: ${u.Name}`);
    if (u.Soft > u.Hard) throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
    return { type: `RLIMIT_${u.Name.toUpperCase()}`, soft: u.Soft, hard: u.Hard };
  });

  const hostNetwork = request.NetworkMode === 'host';
  for (const key of Object.keys(request.Sysctls ?? {})) {
    if (!namespacedSysctl(key, hostNetwork)) throw invalid(`sysctl ${JSON.stringify(key)} is not allowed: it is not namespaced${key.startsWith('net.') ? ' (the container shares the host network)' : ''}`);
  }

  const devices = (request.Devices ?? []).map((d) => {
    if (!fs.existsSync(d.PathOnHost)) throw invalid(`error gathering device information while adding custom device ${JSON.stringify(d.PathOnHost)}: no such file or directory`);
    try {
      fs.accessSync(d.PathOnHost, fs.constants.R_OK);
    } catch {
      throw invalid(`device ${d.PathOnHost} cannot be opened by the user running Roost`);
    }
    return { hostPath: d.PathOnHost, containerPath: d.PathInContainer || d.PathOnHost };
  });

  if (request.ShmSize !== undefined && request.ShmSize < 0) throw invalid('SHM size can not be less than 0');
  return {
    capabilities: [...capabilities],
    noNewPrivileges,
    readonlyRootfs: Boolean(request.ReadonlyRootfs),
    maskPaths: !request.Privileged,
    rlimits,
    shmSizeBytes: request.ShmSize && request.ShmSize > 0 ? request.ShmSize : 64 * 1024 * 1024,
    sysctls: request.Sysctls ?? {},
    devices,
    groupAdd: request.GroupAdd ?? [],
  };
}

/** The resource limits of a request; Roost cannot apply them without a delegated cgroup (it warns). */
export function requestedResources(hostConfig: Record<string, unknown>): string[] {
  const fields = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuQuota', 'CpuPeriod', 'CpusetCpus', 'PidsLimit', 'BlkioWeight'];
  return fields.filter((field) => {
    const value = hostConfig[field];
    return value !== undefined && value !== null && value !== 0 && value !== '' && !(field === 'PidsLimit' && (value as number) < 0);
  });
}
