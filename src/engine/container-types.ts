import type { ContainerDefaults, HealthConfig } from '../image/types.js';

export type { HealthConfig };
import type { MountPoint } from './mounts.js';
import type { SecurityRequest } from '../runtime/security.js';
import type { DnsSettings } from '../net/dns-config.js';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** The container's config as Docker's API shows it (image defaults merged in at create). */
export interface ContainerConfig extends ContainerDefaults {
  Image: string;
  Hostname?: string;
  Domainname?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  StdinOnce?: boolean;
  StopTimeout?: number;
}

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

export interface HostConfig extends SecurityRequest, DnsSettings {
  NetworkMode?: string;
  PortBindings?: Record<string, PortBinding[] | null> | null;
  AutoRemove?: boolean;
  Init?: boolean | null;
  Binds?: string[] | null;
  RestartPolicy?: { Name: string; MaximumRetryCount?: number };
  /** Roost's (and podman's) action when the container turns unhealthy: none, kill, restart or stop. */
  HealthOnFailure?: string;
  PublishAllPorts?: boolean;
  UsernsMode?: string;
  PidMode?: string;
  IpcMode?: string;
  UTSMode?: string;
  Mounts?: import('./mounts.js').ApiMount[] | null;
  Tmpfs?: Record<string, string> | null;
  VolumesFrom?: string[] | null;
  [key: string]: unknown;
}

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Present while the container has a health check (Docker's State.Health). */
  Health?: HealthState;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  /** Image ID (config digest). */
  Image: string;
  Config: ContainerConfig;
  HostConfig: HostConfig;
  Path: string;
  Args: string[];
  State: ContainerState;
  RestartCount: number;
  Driver: string;
  LogPath: string;
  /** Snapshot chain the rootfs stands on (internal, kept for re-mounting after a restart). */
  chainIds: string[];
  /** Volumes, binds and tmpfs mounts, resolved at create (Docker's inspect `Mounts`, with Roost's extras). */
  Mounts: MountPoint[];
  /** Stopped or killed by the user: restart policies leave it stopped (Docker's HasBeenManuallyStopped). */
  manuallyStopped?: boolean;
  /** The last restart back-off, doubled on each quick exit. */
  restartDelayMs?: number;
  /** Records made before `connectedNetworks`: the --network-alias names and --ip on the network created on. */
  networkAliases?: string[];
  networkIp?: string;
  /**
   * The user-defined networks the container joins at every start, with its aliases and requested address
   * there: the one it was created on (--network) first, then those of `network connect`; `network
   * disconnect` takes any of them out.
   */
  connectedNetworks?: Array<{ NetworkID: string; Aliases: string[]; IPv4Address?: string; IPv6Address?: string }>;
  /** While running: the address `--add-host NAME:host-gateway` stands for (the uplink's gateway). */
  hostGateway?: string;
  /** While running: the probe binary is bound in (native/roost-probe), so health checks use an agent. */
  probeAgent?: boolean;
  /** While running on the default network's shared bridge: its address there. */
  bridgeAddress?: string;
  /** Host ports as really published while running (random ports resolved). */
  publishedPorts?: Record<string, Array<{ HostIp: string; HostPort: string }>>;
  /**
   * keep-id records made since image owners go through the container's mappings: its rootfs presents (copy
   * driver: holds) them mapped. Older keep-id records keep the unmapped rootfs their files were written to.
   */
  idMappedRootfs?: boolean;
}

const zeroTime = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return {
    Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
    Pid: 0, ExitCode: 0, Error: '', StartedAt: zeroTime, FinishedAt: zeroTime,
  };
}

/** Which operations each status allows: one lookup instead of scattered ifs. */
export const transitions: Record<ContainerStatus, { start: boolean; stop: boolean; remove: boolean }> = {
  created: { start: true, stop: false, remove: true },
  running: { start: false, stop: true, remove: false },
  paused: { start: false, stop: true, remove: false },
  restarting: { start: false, stop: true, remove: false },
  removing: { start: false, stop: false, remove: false },
  exited: { start: true, stop: false, remove: true },
  dead: { start: false, stop: false, remove: true },
};
