import fs from 'node:fs';
import os from 'node:os';
import { invalid } from '../util/errors.js';
import { compileSeccomp, parseSeccompProfile, type OciSeccomp, type SeccompProfile } from './seccomp.js';
import { defaultSeccompProfile } from './seccomp-default.js';

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
  /** The seccomp filter for the runtime; absent with seccomp=unconfined and --privileged. */
  seccomp?: OciSeccomp;
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
  let seccompProfile: SeccompProfile | undefined = defaultSeccompProfile;
  for (const option of request.SecurityOpt ?? []) {
    const at = option.search(/[:=]/);
    const key = at < 0 ? option : option.slice(0, at);
    const value = at < 0 ? undefined : option.slice(at + 1);
    if (key === 'no-new-privileges') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw invalid(`invalid --security-opt ${JSON.stringify(option)}`);
      noNewPrivileges = value !== 'false';
    } else if (key === 'seccomp') {
      seccompProfile = seccompOption(value);
    } else if (key === 'label' || key === 'apparmor' || key === 'systempaths' || key === 'mask' || key === 'unmask') {
      // Roost loads no SELinux or AppArmor policy (an unprivileged user cannot); these are accepted and have no effect.
    } else {
      throw invalid(`invalid --security-opt: ${JSON.stringify(option.length > 80 ? `${option.slice(0, 80)}...` : option)}`);
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
    ...(seccompProfile && !request.Privileged ? { seccomp: compileSeccomp(seccompProfile, [...capabilities]) } : {}),
  };
}

/**
 * The profile named by `seccomp=VALUE`: unconfined (none), builtin/default (Roost's), the JSON text of a
 * profile (what the docker CLI and Roost's CLI send for a file), or a file the engine can read.
 */
function seccompOption(value: string | undefined): SeccompProfile | undefined {
  if (!value) throw invalid('--security-opt seccomp needs a value: unconfined, builtin or a profile file');
  if (value === 'unconfined') return undefined;
  if (value === 'builtin' || value === 'default') return defaultSeccompProfile;
  if (value.trimStart().startsWith('{')) return parseSeccompProfile(value, 'seccomp profile');
  let text: string;
  try {
    text = fs.readFileSync(value, 'utf8');
  } catch (err) {
    throw invalid(`opening seccomp profile (${value}) failed: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseSeccompProfile(text, `seccomp profile ${value}`);
}

export const resourceFields = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuQuota', 'CpuPeriod', 'CpusetCpus', 'PidsLimit', 'BlkioWeight'] as const;

/** Docker's checks of the resource fields of a create or update request. */
export function checkResources(hostConfig: Record<string, unknown>, cpuCount = os.availableParallelism()): void {
  const num = (key: string) => (typeof hostConfig[key] === 'number' ? hostConfig[key] as number : 0);
  for (const key of resourceFields) {
    const value = hostConfig[key];
    if (value !== undefined && value !== null && (key === 'CpusetCpus' ? typeof value !== 'string' : typeof value !== 'number')) throw invalid(`${key} must be a ${key === 'CpusetCpus' ? 'string' : 'number'}`);
  }
  if (num('Memory') > 0 && num('Memory') < 6 * 1024 * 1024) throw invalid('Minimum memory limit allowed is 6MB');
  if (num('MemorySwap') > 0 && num('Memory') <= 0) throw invalid('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (num('MemorySwap') > 0 && num('Memory') > 0 && num('MemorySwap') < num('Memory')) throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (num('MemoryReservation') > 0 && num('Memory') > 0 && num('MemoryReservation') > num('Memory')) throw invalid('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (num('NanoCpus') < 0 || num('CpuShares') < 0 || num('Memory') < 0) throw invalid('resource limits cannot be negative');
  if (num('NanoCpus') > cpuCount * 1e9) throw invalid(`range of CPUs is from 0.01 to ${cpuCount}.00, as there are only ${cpuCount} CPUs available`);
  const weight = num('BlkioWeight');
  if (weight !== 0 && (weight < 10 || weight > 1000)) throw invalid('Range of blkio weight is from 10 to 1000');
  const cpuset = hostConfig.CpusetCpus;
  if (typeof cpuset === 'string' && cpuset !== '') {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(cpuset)) throw invalid(`invalid value ${JSON.stringify(cpuset)} for cpuset cpus`);
    const highest = Math.max(...cpuset.split(/[,-]/).map(Number));
    if (highest >= cpuCount) throw invalid(`Requested CPUs are not available - requested ${cpuset}, available: 0-${cpuCount - 1}`);
  }
}
