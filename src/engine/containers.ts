import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Snapshotter } from '../fs/snapshotter.js';
import { readJsonIfExists, writeJsonAtomicSync } from '../fs/atomic.js';
import type { ContainerNetworks, NetworkAttachment } from '../net/container-network.js';
import { resolveHostPorts, uplinkGateway } from '../net/uplink.js';
import { withIPv6Bindings } from '../net/dual-stack.js';
import { bridgeGateway, bridgeSubnet } from '../net/shared-bridge.js';
import { checkDnsSettings, extraHostsLines, resolvConfContent, wantsHostGateway } from '../net/dns-config.js';
import type { RuntimeChoice } from '../rootless/host-check.js';
import { findExecutable } from '../util/find-executable.js';
import { buildExecProcess, buildSpec, keepIdMappings, type IdMap, type ProcessUser } from '../runtime/oci-spec.js';
import type { IdMappings } from '../runtime/id-maps.js';
import { launchMonitor, MonitorLink, type MonitorFiles } from '../runtime/monitor.js';
import { resolveGroups, resolveUser } from '../runtime/user.js';
import { checkResources, resourceFields, securitySettings } from '../runtime/security.js';
import { SeccompBpfCache } from '../runtime/seccomp-cache.js';
import { checkHealthOnFailure, HealthChecks, healthCommand, mergeHealthcheck } from './health.js';
import { ProbeAgent, probeBinary, probeMountPath } from '../runtime/probe-agent.js';
import { ContainerCgroups } from '../rootless/cgroup-delegation.js';
import { requestedResources } from '../rootless/cgroup-limits.js';
import { ipv6Of, predefinedNetworks, type UserNetworks } from '../net/user-networks.js';
import { checkConnect, checkDisconnectPredefined, currentNetworks } from '../net/predefined-networks.js';

import { EngineError, conflict, invalid } from '../util/errors.js';
import { runCommand } from '../util/exec.js';
import { isMountPoint, mount, unmount } from '../fs/mounter.js';
import { tracer } from '../util/trace.js';
import type { ContainerConfig, ContainerRecord, HostConfig, PortBinding } from './container-types.js';
import { initialState, transitions } from './container-types.js';
import type { EventBus } from './events.js';
import type { ImageService } from './images.js';
import { namePattern, randomName } from './names.js';
import { checkDuplicates, parseApiMount, parseBind, parseTmpfs, type MountPoint } from './mounts.js';
import type { VolumeService } from './volumes.js';
import { checkRestartPolicy, restartDelayMs, shouldRestart, startsWithEngine, type RestartPolicy } from './restart-policy.js';

/** A container's endpoint on a user-defined network, as inspect shows it. */
type EndpointView = {
  IPAddress: string; IPPrefixLen: number; Gateway: string; NetworkID: string; EndpointID: string; Aliases: string[];
  GlobalIPv6Address?: string; GlobalIPv6PrefixLen?: number; IPv6Gateway?: string;
};

export interface CreateRequest {
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** On a user-defined network: more names for the container there (--network-alias), a fixed address (--ip). */
  aliases?: string[];
  ip?: string;
  /** On an --ipv6 network: a fixed IPv6 address (--ip6). */
  ip6?: string;
}

/** A client attached to a container's stdio (API attach, `roost run`). */
export interface AttachSession {
  onOutput(stream: 1 | 2, data: Buffer): void;
  onEnd(): void;
  wantsStdout: boolean;
  wantsStderr: boolean;
}

/** What the daemon holds for a container with a live monitor. */
interface LiveContainer {
  link?: MonitorLink;
  sessions: Set<AttachSession>;
  /** stdin that arrived before the monitor link existed (docker run -i sends early). */
  pendingStdin: Buffer[];
  pendingStdinClose: boolean;
}

export interface ExecRecord {
  ID: string;
  ContainerID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  OpenStdin: boolean;
  OpenStdout: boolean;
  OpenStderr: boolean;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user: string };
  env: string[];
  workingDir: string;
  detachKeys?: string;
  link?: MonitorLink;
}

export interface EngineDirs {
  dataDir: string;
  runDir: string;
}

const signalNumbers: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, PWR: 30, SYS: 31,
};

/** Accepts `9`, `KILL`, `SIGKILL`; returns the name runc/crun take (`KILL`). */
export function parseSignal(text: string): string {
  const upper = text.toUpperCase().replace(/^SIG/, '');
  if (/^\d+$/.test(upper)) {
    const entry = Object.entries(signalNumbers).find(([, n]) => n === Number(upper));
    if (entry) return entry[0];
  } else if (upper in signalNumbers) return upper;
  throw invalid(`invalid signal: ${text}`);
}

/**
 * --userns=keep-id: the process runs as the user's own uid/gid, which the container's user namespace maps
 * to the engine namespace's root, i.e. the user on the host.
 */
function keepIdentity(): { user: ProcessUser; mappings: { uidMappings: IdMap[]; gidMappings: IdMap[] } } {
  const uid = Number(process.env.ROOST_OUTER_UID ?? 0);
  const gid = Number(process.env.ROOST_OUTER_GID ?? 0);
  const mapped = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[2] ?? 0), 0);
  return {
    user: { uid, gid, additionalGids: [] },
    mappings: { uidMappings: keepIdMappings(uid, mapped('/proc/self/uid_map')), gidMappings: keepIdMappings(gid, mapped('/proc/self/gid_map')) },
  };
}

/** runc/crun print logrus lines (`level=warning msg=...`): keep the error's own message. */
export function runtimeMessage(text: string): string {
  const errors = [...text.matchAll(/level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\"/g, '"'));
  const message = (errors.at(-1) ?? text).replace(/^runc (create|start|exec) failed: /, '').replace(/^unable to start container process: /, '').trim();
  // crun words these differently; clients (the docker CLI) map Docker's wording to exit statuses 127/126.
  const crunNotFound = /executable file `(.+?)` not found in \$PATH/.exec(message);
  if (crunNotFound) return `exec: "${crunNotFound[1]}": executable file not found in $PATH`;
  return message.replace(/Permission denied/g, 'permission denied').replace(/No such file or directory/g, 'no such file or directory');
}

function nowIso(): string {
  return new Date().toISOString();
}

/** Containers: create, start, stop, remove, attach, exec, wait; one record per container on disk. */
export class ContainerService {
  private readonly records = new Map<string, ContainerRecord>();
  private readonly live = new Map<string, LiveContainer>();
  private readonly execs = new Map<string, ExecRecord>();
  /** The process file written for each container's health probes (rewritten when the check changes). */
  private readonly probeSpecs = new Map<string, string>();
  /** Per running health-checked container, its in-container probe agent. */
  private readonly probeAgents = new Map<string, ProbeAgent>();
  private readonly waiters = new EventEmitter();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** Per container, settles when its last monitor has let go (and so has deleted the runtime's state). */
  private readonly monitorsClosing = new Map<string, Promise<void>>();
  private readonly containersDir: string;
  private readonly runContainersDir: string;
  private readonly runtimeRoot: string;
  private readonly seccompCache: SeccompBpfCache;
  private readonly health: HealthChecks;
  private readonly cgroups = ContainerCgroups.forThisProcess();

  constructor(
    dirs: EngineDirs,
    private readonly images: ImageService,
    private readonly snapshotter: Snapshotter,
    private readonly events: EventBus,
    private readonly runtime: RuntimeChoice,
    private readonly networks: ContainerNetworks,
    private readonly volumes: VolumeService,
    private readonly userNetworks: UserNetworks,
  ) {
    this.containersDir = path.join(dirs.dataDir, 'containers');
    this.runContainersDir = path.join(dirs.runDir, 'c');
    this.runtimeRoot = path.join(dirs.runDir, 'runtime');
    this.seccompCache = new SeccompBpfCache(path.join(dirs.runDir, 'seccomp-cache'), runtime.path, this.runtimeRoot);
    this.waiters.setMaxListeners(0);
    this.health = new HealthChecks((record, command, timeoutMs) => this.probe(record, command, timeoutMs), async (record, statusChanged, stateChanged) => {
      if (stateChanged) await this.persist(record);
      if (statusChanged) this.events.emit('container', `health_status: ${record.State.Health!.Status}`, record.Id, this.eventAttributes(record));
      if (statusChanged && record.State.Health!.Status === 'unhealthy') void this.onUnhealthy(record);
    });
  }

  /** --health-on-failure: what happens to a container that just turned unhealthy. */
  private async onUnhealthy(record: ContainerRecord): Promise<void> {
    const action = record.HostConfig.HealthOnFailure;
    if (!action || action === 'none' || !this.records.has(record.Id)) return;
    const done = action === 'kill' ? this.kill(record.Id) : action === 'stop' ? this.stop(record.Id) : this.restart(record.Id);
    await done.catch((err: Error) => process.stderr.write(`roost: --health-on-failure=${action} of ${record.Name.slice(1)} failed: ${err.message}\n`));
  }

  private containerDir(id: string): string {
    return path.join(this.containersDir, id);
  }

  private monitorFiles(id: string, execId?: string): MonitorFiles {
    const dir = path.join(this.runContainersDir, id.slice(0, 12));
    const prefix = execId ? `exec-${execId.slice(0, 12)}` : 'ctr';
    return {
      socket: path.join(dir, `${prefix}.sock`),
      exitFile: path.join(dir, `${prefix}.exit`),
      pidFile: path.join(dir, `${prefix}.pid`),
      debugLog: path.join(dir, `${prefix}.monitor.log`),
    };
  }

  async open(): Promise<void> {
    for (const dir of [this.containersDir, this.runContainersDir, this.runtimeRoot]) await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    for (const id of await fsp.readdir(this.containersDir)) {
      const record = await readJsonIfExists<ContainerRecord>(path.join(this.containerDir(id), 'container.json'));
      // A directory without its record is a create interrupted by kill -9: nothing refers to it.
      if (!record) {
        await fsp.rm(this.containerDir(id), { recursive: true, force: true });
        continue;
      }
      this.records.set(record.Id, record);
    }
    const inUse: NetworkAttachment[] = [];
    for (const record of this.records.values()) {
      const attachment = record.State.Running ? this.networkAttachment(record) : undefined;
      if (attachment) inUse.push(attachment);
    }
    await this.networks.open(inUse);
    for (const record of this.records.values()) {
      if (record.State.Status === 'restarting') record.State = { ...record.State, Status: 'exited', Restarting: false };
      if (record.State.Running) await this.readopt(record);
      else if (record.State.Status === 'removing') await this.remove(record.Id, { force: true, volumes: false });
    }
    await this.userNetworks.retain(new Set([...this.records.values()].filter((r) => r.State.Running).map((r) => r.Id)));
    // Restart policies at engine start: `always` (even if stopped by hand, as Docker), `unless-stopped`.
    for (const record of [...this.records.values()]) {
      if (record.State.Running || record.State.Status === 'restarting') continue;
      if (!startsWithEngine(record.HostConfig.RestartPolicy, Boolean(record.manuallyStopped))) continue;
      await this.start(record.Id, { byPolicy: true }).catch(() => {});
    }
  }

  /** After a daemon restart: reconnect to a container's monitor, or record the exit it missed. */
  private async readopt(record: ContainerRecord): Promise<void> {
    const files = this.monitorFiles(record.Id);
    try {
      const link = await MonitorLink.connect(files.socket);
      this.attachLink(record, link);
      this.health.watch(record, false);
      return;
    } catch {
      // The monitor is gone: the container ended while no daemon was watching.
    }
    let exitCode = 255;
    try {
      exitCode = Number(fs.readFileSync(files.exitFile, 'utf8').trim());
    } catch { /* no exit file: the host restarted */ }
    await this.onExit(record, exitCode);
  }

  list(): ContainerRecord[] {
    return [...this.records.values()];
  }

  /** By full ID, unique ID prefix or name (with or without the leading slash). */
  get(idOrName: string): ContainerRecord {
    const byId = this.records.get(idOrName);
    if (byId) return byId;
    const name = idOrName.startsWith('/') ? idOrName : `/${idOrName}`;
    for (const record of this.records.values()) if (record.Name === name) return record;
    if (/^[a-f0-9]+$/.test(idOrName)) {
      const matches = [...this.records.values()].filter((r) => r.Id.startsWith(idOrName));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw invalid(`multiple containers found with provided prefix: ${idOrName}`);
    }
    throw new EngineError('not_found', `No such container: ${idOrName}`);
  }

  /**
   * The container's root filesystem, mounted (a stopped container's may need mounting again after a
   * restart of the engine), and the directory holding only its changes (the overlay upper dir, or for the
   * copy driver the whole tree). For cp, diff, export and the archive API.
   */
  async filesystemOf(idOrName: string): Promise<{ record: ContainerRecord; rootfs: string; changesDir: string; driver: string }> {
    const { record, changesDir, driver } = this.changesOf(idOrName);
    const rootfs = await this.mountRootfs(record);
    return { record, rootfs, changesDir, driver };
  }

  /**
   * The mappings of the container's own user namespace (--userns=keep-id, with a subuid range), or undefined
   * when it shares the engine's: how the engine's view of its files differs from the container's.
   */
  idMappingsOf(record: ContainerRecord): IdMappings | undefined {
    if (record.HostConfig.UsernsMode !== 'keep-id') return undefined;
    const { mappings } = keepIdentity();
    return mappings.uidMappings.length > 1 ? mappings : undefined;
  }

  /** Mounts the container's rootfs; a keep-id container's presents the image's owners through its mapping. */
  private mountRootfs(record: ContainerRecord): Promise<string> {
    const idMappings = record.idMappedRootfs ? this.idMappingsOf(record) : undefined;
    return this.snapshotter.mountRootfs(this.containerDir(record.Id), record.chainIds, { idMappings });
  }

  /** Only the directory of a container's changes (commit, disk usage): nothing is mounted for it. */
  changesOf(idOrName: string): { record: ContainerRecord; changesDir: string; driver: string } {
    const record = this.get(idOrName);
    return { record, changesDir: this.snapshotter.changesDir(this.containerDir(record.Id)), driver: this.snapshotter.name };
  }

  imageInUse(imageId: string): boolean {
    return [...this.records.values()].some((r) => r.Image === imageId);
  }

  usedChains(): Set<string> {
    return new Set([...this.records.values()].flatMap((r) => r.chainIds));
  }

  /** Container state changes often and is rebuilt from the monitors after a crash: atomic, not fsync'd. */
  private async persist(record: ContainerRecord): Promise<void> {
    writeJsonAtomicSync(path.join(this.containerDir(record.Id), 'container.json'), record);
  }

  private nameTaken(name: string): boolean {
    return [...this.records.values()].some((r) => r.Name === `/${name}`);
  }

  async create(request: CreateRequest): Promise<ContainerRecord> {
    const config = request.config;
    if (!config.Image) throw invalid('no image specified');
    const image = this.images.resolve(config.Image);
    let name = request.name?.replace(/^\//, '');
    if (name !== undefined && name !== '') {
      if (!namePattern.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      const existing = [...this.records.values()].find((r) => r.Name === `/${name}`);
      if (existing) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${existing.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
    } else {
      name = randomName((n) => this.nameTaken(n));
    }
    const defaults = image.config.config ?? {};
    const entrypoint = config.Entrypoint === undefined || config.Entrypoint === null ? defaults.Entrypoint ?? [] : config.Entrypoint;
    // Docker: a new entrypoint resets the image's Cmd unless a Cmd is given.
    const cmd = config.Cmd && config.Cmd.length > 0 ? config.Cmd : config.Entrypoint != null ? [] : defaults.Cmd ?? [];
    const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
    if (argv.length === 0) throw invalid('no command specified');
    const id = randomBytes(32).toString('hex');
    const hostConfig: HostConfig = { NetworkMode: 'default', ...request.hostConfig };
    const networkMode = hostConfig.NetworkMode === 'default' || hostConfig.NetworkMode === 'bridge' || hostConfig.NetworkMode === '' ? 'bridge' : hostConfig.NetworkMode!;
    const userNetwork = ['bridge', 'host', 'none'].includes(networkMode) || networkMode.startsWith('container:') ? undefined : this.userNetworks.find(networkMode);
    if (networkMode.startsWith('container:')) this.get(networkMode.slice('container:'.length));
    else if (!['bridge', 'host', 'none'].includes(networkMode) && !userNetwork) throw new EngineError('not_found', `network ${networkMode} not found`);
    if ((request.aliases?.length || request.ip || request.ip6) && !userNetwork) throw invalid('network-scoped aliases and addresses are only supported for user-defined networks');
    if (request.ip6) this.userNetworks.allocateAddress6(userNetwork!.Id, id, request.ip6);
    checkDnsSettings(hostConfig);
    if (networkMode.startsWith('container:')) {
      // Docker's wording: the container uses the other one's name service.
      if (hostConfig.Dns?.length || hostConfig.DnsSearch?.length || hostConfig.DnsOptions?.length) throw invalid('conflicting options: dns and the network mode');
      if (hostConfig.ExtraHosts?.length) throw invalid('conflicting options: custom host-to-IP mapping and the network mode');
    }
    if (wantsHostGateway(hostConfig.ExtraHosts) && (networkMode === 'none' || userNetwork?.Internal)) {
      throw invalid(`--add-host with host-gateway: a container on network ${networkMode} has no way to the host`);
    }
    if (networkMode !== 'bridge' && !(userNetwork && !userNetwork.Internal) && Object.keys(hostConfig.PortBindings ?? {}).length > 0) {
      throw invalid(`published ports are discarded when using ${networkMode} network mode`);
    }
    const env = [...(defaults.Env ?? [])];
    for (const entry of config.Env ?? []) {
      const key = entry.split('=')[0];
      const at = env.findIndex((e) => e.split('=')[0] === key);
      if (at >= 0) env[at] = entry;
      else env.push(entry);
    }
    const mounts = this.requestedMounts(hostConfig, image.config.config?.Volumes ?? {});
    const record: ContainerRecord = {
      Id: id,
      Name: `/${name}`,
      Created: nowIso(),
      Image: image.id,
      Config: {
        ...config,
        Hostname: config.Hostname || (networkMode === 'host' ? undefined : id.slice(0, 12)),
        Env: env,
        Cmd: cmd,
        Entrypoint: entrypoint && entrypoint.length ? entrypoint : null,
        WorkingDir: config.WorkingDir || defaults.WorkingDir || '',
        User: config.User || defaults.User || '',
        Labels: { ...(defaults.Labels ?? {}), ...(config.Labels ?? {}) },
        StopSignal: config.StopSignal || defaults.StopSignal || 'SIGTERM',
        ExposedPorts: { ...(defaults.ExposedPorts ?? {}), ...(config.ExposedPorts ?? {}) },
        Healthcheck: mergeHealthcheck(config.Healthcheck, defaults.Healthcheck),
        Shell: config.Shell ?? defaults.Shell,
        Image: config.Image,
      },
      HostConfig: { ...hostConfig, NetworkMode: networkMode === 'bridge' ? (hostConfig.NetworkMode || 'default') : userNetwork ? userNetwork.Name : networkMode },
      ...(userNetwork ? { connectedNetworks: [{ NetworkID: userNetwork.Id, Aliases: request.aliases ?? [], ...(request.ip ? { IPv4Address: request.ip } : {}), ...(request.ip6 ? { IPv6Address: request.ip6 } : {}) }] } : {}),
      Path: argv[0]!,
      Args: argv.slice(1),
      State: initialState(),
      RestartCount: 0,
      Driver: this.snapshotter.name,
      LogPath: path.join(this.containerDir(id), 'ctr.log'),
      chainIds: this.images.chainIdsOf(image),
      Mounts: [],
      ...(hostConfig.UsernsMode === 'keep-id' ? { idMappedRootfs: true } : {}),
    };
    if (config.StopSignal) parseSignal(config.StopSignal);
    securitySettings(record.HostConfig);
    checkResources(record.HostConfig);
    for (const [flag, mode, allowed] of [['--pid', record.HostConfig.PidMode, ['', 'host']], ['--ipc', record.HostConfig.IpcMode, ['', 'host', 'private', 'shareable']], ['--uts', record.HostConfig.UTSMode, ['', 'host']]] as const) {
      if (mode === undefined || (allowed as readonly string[]).includes(mode)) continue;
      if (mode.startsWith('container:') && flag !== '--uts') this.get(mode.slice('container:'.length));
      else throw invalid(`invalid ${flag} mode ${JSON.stringify(mode)}`);
    }
    checkRestartPolicy(record.HostConfig.RestartPolicy, Boolean(record.HostConfig.AutoRemove));
    checkHealthOnFailure(record.HostConfig.HealthOnFailure, Boolean(healthCommand(record.Config.Healthcheck)));
    if (!['', 'host', 'keep-id', undefined].includes(record.HostConfig.UsernsMode as string | undefined)) {
      throw invalid(`invalid --userns ${JSON.stringify(record.HostConfig.UsernsMode)}: use host (the default) or keep-id`);
    }
    const trace = tracer(`create ${id.slice(0, 12)}`);
    fs.mkdirSync(this.containerDir(id), { recursive: true, mode: 0o700 });
    const createdVolumes: string[] = [];
    try {
      const rootfs = await this.mountRootfs(record);
      trace('rootfs');
      record.Mounts = await this.resolveMounts(mounts, rootfs, createdVolumes);
      await this.persist(record);
      trace('persisted');
    } catch (err) {
      await this.snapshotter.unmountRootfs(this.containerDir(id)).catch(() => {});
      await fsp.rm(this.containerDir(id), { recursive: true, force: true });
      for (const name of createdVolumes) if (this.volumes.get(name).anonymous) await this.volumes.remove(name, { force: true, usedBy: [] }).catch(() => {});
      throw err;
    }
    this.records.set(id, record);
    this.events.emit('container', 'create', id, this.eventAttributes(record));
    return record;
  }

  private eventAttributes(record: ContainerRecord): Record<string, string> {
    return { ...(record.Config.Labels ?? {}), image: record.Config.Image, name: record.Name.slice(1) };
  }

  private liveOf(id: string): LiveContainer {
    let live = this.live.get(id);
    if (!live) {
      live = { sessions: new Set(), pendingStdin: [], pendingStdinClose: false };
      this.live.set(id, live);
    }
    return live;
  }

  private userNetworkOf(record: ContainerRecord) {
    const mode = record.HostConfig.NetworkMode ?? '';
    return ['default', 'bridge', 'host', 'none', ''].includes(mode) || mode.startsWith('container:') ? undefined : this.userNetworks.find(mode);
  }

  /** The user-defined networks a container joins at start (a record from before `connectedNetworks`: the one of its --network). */
  private joinedNetworks(record: ContainerRecord): NonNullable<ContainerRecord['connectedNetworks']> {
    if (record.connectedNetworks) return record.connectedNetworks;
    const created = this.userNetworkOf(record);
    return created ? [{ NetworkID: created.Id, Aliases: record.networkAliases ?? [], ...(record.networkIp ? { IPv4Address: record.networkIp } : {}) }] : [];
  }

  /** The names of the user-defined networks a container joins at start. */
  networkNames(record: ContainerRecord): string[] {
    return this.joinedNetworks(record).map((c) => this.userNetworks.find(c.NetworkID)?.Name).filter((n): n is string => Boolean(n));
  }

  /** Containers (running or not) that belong to a network: it cannot be removed while there are any. */
  networkUsers(networkId: string): string[] {
    return this.list().filter((r) => this.joinedNetworks(r).some((c) => c.NetworkID === networkId)).map((r) => r.Name.slice(1));
  }

  /** The network namespace and uplink recorded for a container's current run. */
  private networkAttachment(record: ContainerRecord): NetworkAttachment | undefined {
    return this.networks.recorded(path.dirname(this.monitorFiles(record.Id).socket));
  }

  /**
   * Whether a container has a namespace of its own on its user-defined networks only, going out (if one
   * of them has a way out) through the networks' namespace and the shared bridge's one uplink: a
   * user-defined network's container where the shared bridge is up, unless its gateway must lead to the
   * host's loopback (--add-host NAME:host-gateway: an uplink of its own).
   */
  private onNetworksOnly(record: ContainerRecord): boolean {
    return Boolean(this.userNetworkOf(record) && !wantsHostGateway(record.HostConfig.ExtraHosts) && this.networks.sharedBridge);
  }

  /** The first free ethN in a container's namespace for one more veth. */
  private async freeInterface(nsFile: string): Promise<string> {
    const links = await runCommand('nsenter', [`--net=${nsFile}`, '--', 'ip', '-o', 'link', 'show']);
    const taken = new Set([...links.matchAll(/^\d+: ([^:@]+)[:@]/gm)].map((m) => m[1]));
    let n = 0;
    while (taken.has(`eth${n}`)) n++;
    return `eth${n}`;
  }

  /**
   * The network whose gateway is a container's way out, with its address there: the one it was created on
   * if it is still on it, else the first other one that is not --internal.
   */
  private exitNetwork(record: ContainerRecord): { gateway: string; address: string } | undefined {
    const on = this.userNetworks.of(record.Id).filter((n) => !n.Internal);
    const network = on.find((n) => n.Id === this.userNetworkOf(record)?.Id) ?? on[0];
    return network && { gateway: network.IPAM.Config[0]!.Gateway, address: network.endpoints[record.Id]!.IPv4 };
  }

  /**
   * After a live connect or disconnect: a running container that goes out through the networks' namespace
   * and has no default route (it lost the network that carried it, or had only --internal ones) gets one
   * through a network that has a way out, if it is on one.
   */
  private async keepWayOut(record: ContainerRecord, nsFile: string): Promise<void> {
    if (!this.onNetworksOnly(record)) return;
    const exit = this.exitNetwork(record);
    if (!exit || await uplinkGateway(nsFile)) return;
    await this.networks.routeOut(nsFile, path.dirname(nsFile), exit.gateway, exit.address, {});
  }

  /** Puts a container in its own network namespace on one more user-defined network. */
  private async joinNetwork(record: ContainerRecord, networkId: string, nsFile: string, aliases: string[], ip: string | undefined, ifname?: string, ip6?: string): Promise<void> {
    await this.networks.routeNetworks();
    await this.userNetworks.connect(networkId, {
      id: record.Id, name: record.Name.slice(1), aliases, nsFile, ifname: ifname ?? await this.freeInterface(nsFile), ip, ip6, dns: record.HostConfig.Dns ?? undefined,
    });
    await this.refreshPeersHosts(networkId, record.Id);
  }

  /**
   * `network connect`: a running container gets a veth on the network at once (its peers' /etc/hosts and
   * the DNS server know it from then on); any container keeps the network in its record for its next starts.
   */
  async connectNetwork(containerRef: string, networkRef: string, opts: { aliases?: string[]; ip?: string; ip6?: string } = {}): Promise<void> {
    const found = this.userNetworks.find(networkRef);
    if (!found && !predefinedNetworks.includes(networkRef)) throw new EngineError('not_found', `network ${networkRef} not found`);
    const record = this.get(containerRef);
    const name = record.Name.slice(1);
    const mode = record.HostConfig.NetworkMode ?? 'default';
    // Docker's refusals (host, none, a shared namespace, already connected); a predefined target never gets past it.
    checkConnect(name, mode, currentNetworks(mode, this.networkNames(record)), found?.Name ?? networkRef);
    const network = found!;
    const aliases = (opts.aliases ?? []).filter(Boolean);
    if (opts.ip) this.userNetworks.allocateAddress(network.Id, record.Id, opts.ip);
    if (opts.ip6) this.userNetworks.allocateAddress6(network.Id, record.Id, opts.ip6);
    if (record.State.Running) {
      const nsFile = this.networkAttachment(record)?.nsFile;
      if (!nsFile) throw new EngineError('internal', `container ${name} is running but its network namespace is not recorded`);
      await this.joinNetwork(record, network.Id, nsFile, aliases, opts.ip, undefined, opts.ip6);
      await this.keepWayOut(record, nsFile);
    }
    record.connectedNetworks = [...this.joinedNetworks(record), { NetworkID: network.Id, Aliases: aliases, ...(opts.ip ? { IPv4Address: opts.ip } : {}), ...(opts.ip6 ? { IPv6Address: opts.ip6 } : {}) }];
    await this.persist(record);
    this.events.emit('network', 'connect', network.Id, { container: record.Id, name: network.Name, type: network.Driver });
  }

  /** `network disconnect`: the veth goes at once from a running container, and the network from its record. */
  async disconnectNetwork(containerRef: string, networkRef: string, opts: { force?: boolean } = {}): Promise<void> {
    const network = this.userNetworks.find(networkRef);
    if (!network) {
      if (!predefinedNetworks.includes(networkRef)) throw new EngineError('not_found', `network ${networkRef} not found`);
      const record = this.get(containerRef);
      const mode = record.HostConfig.NetworkMode ?? 'default';
      checkDisconnectPredefined(record.Name.slice(1), mode, currentNetworks(mode, this.networkNames(record)), networkRef, record.State.Running);
    }
    let record: ContainerRecord;
    try {
      record = this.get(containerRef);
    } catch (err) {
      // -f: drop an endpoint whose container is gone (Docker's way to clean up a stale one).
      const stale = Object.values(network.endpoints).find((e) => e.Name === containerRef.replace(/^\//, '') || e.ContainerId.startsWith(containerRef));
      if (!opts.force || !stale) throw err;
      await this.userNetworks.disconnect(network.Id, stale.ContainerId);
      return;
    }
    const name = record.Name.slice(1);
    const joined = this.joinedNetworks(record);
    if (!joined.some((c) => c.NetworkID === network.Id)) throw invalid(`container ${name} is not connected to network ${network.Name}`);
    if (network.endpoints[record.Id]) {
      await this.userNetworks.disconnect(network.Id, record.Id);
      await this.refreshPeersHosts(network.Id, record.Id);
      const nsFile = this.networkAttachment(record)?.nsFile;
      if (record.State.Running && nsFile) await this.keepWayOut(record, nsFile);
    }
    record.connectedNetworks = joined.filter((c) => c.NetworkID !== network.Id);
    await this.persist(record);
    this.events.emit('network', 'disconnect', network.Id, { container: record.Id, name: network.Name, type: network.Driver });
  }

  /** /etc/hosts: localhost, the container's own name, and on a user-defined network its peers by name and alias. */
  private hostsContent(record: ContainerRecord): string {
    const hostname = record.Config.Hostname ?? '';
    const peers = this.userNetworks.hostsFor(record.Id);
    // --add-host entries before the peers: the first match wins, so they override a peer's name.
    const extra = extraHostsLines(record.HostConfig.ExtraHosts, record.hostGateway);
    const host = this.hostNameLine(record);
    return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${hostname && !peers.length ? `127.0.1.1\t${hostname}\n` : ''}${[...extra, ...peers, ...(host ? [host] : [])].map((l) => `${l}\n`).join('')}`;
  }

  /**
   * A name for the host, as podman gives one (host.containers.internal) and Docker Desktop (host.docker.internal):
   * the host's loopback where the container may reach it (host network; --add-host NAME:host-gateway asked for
   * it), else the host's first non-loopback IPv4 address, which the uplink reaches on the host itself (services
   * listening on it or on every address). None without a way out (--network none, an --internal network).
   */
  private hostNameLine(record: ContainerRecord): string | undefined {
    const mode = record.HostConfig.NetworkMode ?? 'default';
    if (mode === 'none' || mode.startsWith('container:') || this.userNetworkOf(record)?.Internal) return undefined;
    const address = mode === 'host' ? '127.0.0.1' : record.hostGateway
      ?? Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    return address ? `${address}\thost.containers.internal host.docker.internal` : undefined;
  }

  /** Rewrites, in place (the file is bound into the container), the hosts of every running container on a network. */
  private async refreshPeersHosts(networkId: string, changed: string): Promise<void> {
    const network = this.userNetworks.list().find((n) => n.Id === networkId);
    const ids = new Set([...Object.keys(network?.endpoints ?? {}), changed]);
    for (const id of ids) {
      const record = this.records.get(id);
      if (!record) continue;
      await fsp.writeFile(path.join(this.containerDir(id), 'hosts'), this.hostsContent(record)).catch(() => {});
    }
  }

  /** The container's endpoints on user-defined networks (for inspect). */
  networkEndpoints(record: ContainerRecord): Record<string, EndpointView> {
    const out: Record<string, EndpointView> = {};
    if (record.bridgeAddress && record.State.Running) {
      out.bridge = { IPAddress: record.bridgeAddress, IPPrefixLen: Number(bridgeSubnet.split('/')[1]), Gateway: bridgeGateway, NetworkID: 'bridge'.padEnd(64, '0'), EndpointID: '', Aliases: [] };
    }
    for (const network of this.userNetworks.of(record.Id)) {
      const e = network.endpoints[record.Id]!;
      const { Subnet, Gateway } = network.IPAM.Config[0]!;
      const v6 = ipv6Of(network);
      out[network.Name] = {
        IPAddress: e.IPv4, IPPrefixLen: Number(Subnet.split('/')[1]), Gateway, NetworkID: network.Id, EndpointID: e.EndpointID, Aliases: [...e.Aliases, record.Id.slice(0, 12)],
        ...(v6 && e.IPv6 ? { GlobalIPv6Address: e.IPv6, GlobalIPv6PrefixLen: Number(v6.Subnet.split('/')[1]), IPv6Gateway: v6.Gateway } : {}),
      };
    }
    return out;
  }

  private writeEtcFiles(record: ContainerRecord): Record<string, string> {
    const dir = this.containerDir(record.Id);
    const hostname = record.Config.Hostname ?? '';
    const files: Record<string, string> = {};
    // Synchronous: a few small files on the way to every start, where each asynchronous operation would be a
    // thread-pool round trip.
    const hosts = path.join(dir, 'hosts');
    fs.writeFileSync(hosts, this.hostsContent(record));
    files['/etc/hosts'] = hosts;
    if (hostname) {
      const hostnameFile = path.join(dir, 'hostname');
      fs.writeFileSync(hostnameFile, `${hostname}\n`);
      files['/etc/hostname'] = hostnameFile;
    }
    const resolv = path.join(dir, 'resolv.conf');
    let hostResolv = '';
    try { hostResolv = fs.readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* none */ }
    // Created on a user-defined network: the nameserver is the embedded DNS server at the gateway of a
    // network it is on (the one it was created on, unless it was disconnected from it).
    const userNetwork = this.userNetworkOf(record);
    const on = userNetwork ? this.userNetworks.of(record.Id) : [];
    const dnsNetwork = on.find((n) => n.Id === userNetwork?.Id) ?? on[0];
    const embeddedServer = dnsNetwork ? this.userNetworks.nameserverFor(dnsNetwork) : undefined;
    fs.writeFileSync(resolv, resolvConfContent(hostResolv, record.HostConfig, { hostNetwork: record.HostConfig.NetworkMode === 'host', embeddedServer }));
    files['/etc/resolv.conf'] = resolv;
    return files;
  }

  private initBinary(): string | undefined {
    return findExecutable('catatonit') ?? findExecutable('tini-static') ?? findExecutable('tini');
  }

  /** -v (Binds), --mount (Mounts), --tmpfs, --volumes-from and the image's VOLUMEs, in Docker's order of precedence. */
  private requestedMounts(hostConfig: HostConfig, imageVolumes: Record<string, object>): MountPoint[] {
    const mounts = [
      ...(hostConfig.Binds ?? []).map(parseBind),
      ...(hostConfig.Mounts ?? []).map(parseApiMount),
      ...Object.entries(hostConfig.Tmpfs ?? {}).map(([destination, options]) => parseTmpfs(destination, options)),
    ];
    checkDuplicates(mounts);
    const taken = new Set(mounts.map((m) => m.Destination));
    for (const spec of hostConfig.VolumesFrom ?? []) {
      const [name, mode] = spec.split(':') as [string, string | undefined];
      if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw invalid(`invalid mode for --volumes-from: ${spec}`);
      for (const mount of this.get(name).Mounts ?? []) {
        if (taken.has(mount.Destination)) continue;
        taken.add(mount.Destination);
        mounts.push({ ...mount, RW: mode === undefined ? mount.RW : mode === 'rw', createSource: false, noCopy: true });
      }
    }
    for (const destination of Object.keys(imageVolumes)) {
      const clean = path.posix.normalize(destination).replace(/\/$/, '');
      if (taken.has(clean)) continue;
      taken.add(clean);
      mounts.push({ Type: 'volume', Source: '', Destination: clean, Driver: 'local', Mode: '', RW: true, Propagation: '' });
    }
    return mounts;
  }

  /** Creates the volumes a container needs, checks bind sources, copies the image's content into new volumes. */
  private async resolveMounts(mounts: MountPoint[], rootfs: string, createdVolumes: string[]): Promise<MountPoint[]> {
    const resolved: MountPoint[] = [];
    for (const mount of mounts) {
      if (mount.Type === 'bind') {
        if (!fs.existsSync(mount.Source)) {
          if (!mount.createSource) throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${mount.Source}`);
          await fsp.mkdir(mount.Source, { recursive: true });
        }
        try {
          fs.accessSync(mount.Source, fs.constants.R_OK);
        } catch {
          throw invalid(`cannot bind ${mount.Source}: permission denied (the user running Roost cannot read it)`);
        }
        const { createSource: _ignored, ...kept } = mount;
        resolved.push(kept);
      } else if (mount.Type === 'volume') {
        const { volume, created } = await this.volumes.create({ name: mount.Name, anonymous: !mount.Name, options: mount.volumeOptions, labels: mount.volumeLabels });
        if (created) createdVolumes.push(volume.Name);
        const source = await this.volumes.prepare(volume);
        const imagePath = path.join(rootfs, mount.Destination);
        // Docker fills a new, empty volume with what the image has at that path (owners and modes kept).
        if (!mount.noCopy && fs.existsSync(imagePath) && fs.statSync(imagePath).isDirectory() && (await this.volumes.isEmpty(volume))) {
          await runCommand('cp', ['-a', `${imagePath}/.`, source]);
        }
        const { volumeOptions: _options, volumeLabels: _labels, ...kept } = mount;
        resolved.push({ ...kept, Name: volume.Name, Source: source });
      } else {
        resolved.push(mount);
      }
    }
    return resolved;
  }

  /** The OCI mounts for a container's volumes, binds and tmpfs mounts. */
  private async ociMounts(record: ContainerRecord) {
    const mounts = [];
    for (const mount of record.Mounts ?? []) {
      const ro = mount.RW ? [] : ['ro'];
      if (mount.Type === 'tmpfs') {
        mounts.push({ destination: mount.Destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(mount.tmpfsOptions ?? []), ...ro] });
        continue;
      }
      let source = mount.Source;
      if (mount.Type === 'volume') {
        source = await this.volumes.prepare(this.volumes.get(mount.Name!));
        this.events.emit('volume', 'mount', mount.Name!, { container: record.Id, destination: mount.Destination, driver: 'local', 'read/write': String(mount.RW) });
      }
      mounts.push({ destination: mount.Destination, type: 'bind', source, options: ['rbind', mount.Propagation || 'rprivate', ...ro] });
    }
    return mounts;
  }

  /**
   * The /dev/shm to bind into a container whose IPC namespace is shared: `--ipc shareable` gets a tmpfs of
   * its own outside the container (c/<id>/shm) that `--ipc container:NAME` binds too; `--ipc host` the
   * engine's. Undefined: a private tmpfs in the spec.
   */
  private async shmFor(record: ContainerRecord, sizeBytes: number): Promise<string | undefined> {
    const mode = record.HostConfig.IpcMode;
    if (mode === 'host') return '/dev/shm';
    if (mode === 'shareable') {
      const shm = path.join(path.dirname(this.monitorFiles(record.Id).socket), 'shm');
      await fsp.mkdir(shm, { recursive: true, mode: 0o1777 });
      if (!isMountPoint(shm)) await mount('tmpfs', 'shm', shm, `nosuid,nodev,noexec,mode=1777,size=${Math.ceil(sizeBytes / 1024)}k`);
      return shm;
    }
    if (mode?.startsWith('container:')) {
      const other = this.get(mode.slice('container:'.length));
      if (other.HostConfig.IpcMode !== 'shareable') throw conflict(`cannot join the IPC namespace of ${other.Name.slice(1)}: it was not started with --ipc shareable`);
      return path.join(path.dirname(this.monitorFiles(other.Id).socket), 'shm');
    }
    return undefined;
  }

  /** `container:NAME` → that running container's namespace file. */
  private namespaceOf(mode: string, ns: 'net' | 'pid' | 'ipc' | 'uts'): string {
    const other = this.get(mode.slice('container:'.length));
    if (!other.State.Running) throw conflict(`cannot join the namespaces of container ${other.Name.slice(1)}: it is not running`);
    return `/proc/${other.State.Pid}/ns/${ns}`;
  }

  private sharedNamespace(mode: string | undefined, ns: 'pid' | 'ipc' | 'uts'): string | undefined {
    if (mode === 'host') return 'host';
    if (mode?.startsWith('container:')) return this.namespaceOf(mode, ns);
    return undefined;
  }

  /** IDs of the containers that mount a volume. */
  volumeUsers(name: string): string[] {
    return [...this.records.values()].filter((r) => (r.Mounts ?? []).some((m) => m.Type === 'volume' && m.Name === name)).map((r) => r.Id);
  }

  async start(idOrName: string, opts: { byPolicy?: boolean } = {}): Promise<void> {
    const record = this.get(idOrName);
    if (record.State.Running) throw new EngineError('not_modified', 'container already started');
    if (record.State.Status === 'restarting') {
      // The policy's own start, or a start by the user while the back-off runs: then do it now.
      clearTimeout(this.restartTimers.get(record.Id));
      this.restartTimers.delete(record.Id);
    } else if (!transitions[record.State.Status].start) throw conflict(`cannot start a container in state ${record.State.Status}`);
    if (!opts.byPolicy) {
      record.manuallyStopped = false;
      record.RestartCount = 0;
      record.restartDelayMs = 0;
    }
    const trace = tracer(`start ${record.Id.slice(0, 12)}`);
    const dir = this.containerDir(record.Id);
    const rootfs = await this.mountRootfs(record);
    trace('rootfs');
    const keepId = record.HostConfig.UsernsMode === 'keep-id' ? keepIdentity() : undefined;
    const security = securitySettings(record.HostConfig);
    const baseUser = keepId && !record.Config.User ? keepId.user : resolveUser(rootfs, record.Config.User);
    const user = { ...baseUser, additionalGids: [...baseUser.additionalGids, ...resolveGroups(rootfs, security.groupAdd)] };
    const hostNetwork = record.HostConfig.NetworkMode === 'host';
    let initPath: string | undefined;
    if (record.HostConfig.Init) {
      initPath = this.initBinary();
      if (!initPath) throw new EngineError('unavailable', '--init needs catatonit or tini', { hint: 'sudo apt-get install catatonit' });
    }
    // A health-checked container gets the probe agent bound in; its probes then cost a fork, not a runtime exec.
    const probePath = healthCommand(record.Config.Healthcheck) ? probeBinary() : undefined;
    record.probeAgent = Boolean(probePath);
    const files = this.monitorFiles(record.Id);
    const runDir = path.dirname(files.socket);
    fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
    const joinsNetwork = record.HostConfig.NetworkMode?.startsWith('container:') ? this.namespaceOf(record.HostConfig.NetworkMode, 'net') : undefined;
    const userNetwork = this.userNetworkOf(record);
    const toHost = wantsHostGateway(record.HostConfig.ExtraHosts);
    const onNetworksOnly = this.onNetworksOnly(record);
    const throughNetworks = onNetworksOnly && this.joinedNetworks(record).some((joined) => this.userNetworks.find(joined.NetworkID)?.Internal === false);
    const uplink = record.HostConfig.NetworkMode !== 'host' && record.HostConfig.NetworkMode !== 'none' && !joinsNetwork && !userNetwork?.Internal && !onNetworksOnly;
    const sharedNamespaces = {
      pid: this.sharedNamespace(record.HostConfig.PidMode, 'pid'),
      ipc: this.sharedNamespace(record.HostConfig.IpcMode, 'ipc'),
      uts: this.sharedNamespace(record.HostConfig.UTSMode, 'uts'),
    };
    let monitor: Awaited<ReturnType<typeof launchMonitor>> | undefined;
    let link: MonitorLink | undefined;
    try {
      let netnsPath: string | undefined = joinsNetwork;
      if (uplink) {
        const ports = await resolveHostPorts(this.portBindings(record));
        const attachment = await this.networks.attach(runDir, ports, { hostLoopback: toHost, ownUplink: Boolean(userNetwork) })
          .catch((err: Error) => { throw this.portTakenBy(err, ports); });
        netnsPath = attachment.nsFile;
        record.publishedPorts = ports;
        if (attachment.bridgeIp) record.bridgeAddress = attachment.bridgeIp;
        else delete record.bridgeAddress;
        if (toHost) {
          record.hostGateway = await uplinkGateway(netnsPath);
          if (!record.hostGateway) throw new EngineError('unavailable', 'cannot resolve host-gateway: the uplink gave the container no default route');
        }
        trace('network');
      } else if (userNetwork) {
        netnsPath = (await this.networks.attachIsolated(runDir)).nsFile;
      }
      if (toHost && hostNetwork) record.hostGateway = '127.0.0.1';
      for (const [index, joined] of (netnsPath && !hostNetwork && !joinsNetwork ? this.joinedNetworks(record) : []).entries()) {
        // The network it was created on, joined first, has a known interface name (no lookup on the common path).
        const ifname = index === 0 && joined.NetworkID === userNetwork?.Id ? (uplink ? 'eth1' : 'eth0') : undefined;
        await this.joinNetwork(record, joined.NetworkID, netnsPath!, joined.Aliases, joined.IPv4Address, ifname, joined.IPv6Address);
        trace('user network');
      }
      if (throughNetworks) {
        const ports = await resolveHostPorts(this.portBindings(record));
        record.publishedPorts = ports;
        delete record.bridgeAddress;
        const exit = this.exitNetwork(record);
        if (exit) {
          await this.networks.routeOut(netnsPath!, runDir, exit.gateway, exit.address, ports).catch((err: Error) => { throw this.portTakenBy(err, ports); });
          trace('route out');
        } else if (Object.keys(ports).length) {
          throw new EngineError('unavailable', 'cannot publish ports: the container is on no network with a way out');
        }
      }
      const spec = buildSpec({
        container: record, rootfs, user, etcFiles: this.writeEtcFiles(record), hostNetwork, initPath, probePath, netnsPath,
        userMounts: await this.ociMounts(record), idMappings: keepId?.mappings, security, sharedNamespaces,
        sharedShm: await this.shmFor(record, security.shmSizeBytes),
      });
      const seccompKey = this.seccompCache.prepare(spec);
      const bundle = path.join(dir, 'bundle');
      fs.mkdirSync(bundle, { recursive: true });
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
      for (const file of [files.exitFile, files.pidFile]) fs.rmSync(file, { force: true });
      await this.previousMonitorGone(record.Id);
      await this.deleteRuntimeState(record.Id);
      monitor = await launchMonitor({
        id: record.Id, bundle, runtime: this.runtime.path, runtimeRoot: this.runtimeRoot, files,
        logFile: record.LogPath, tty: Boolean(record.Config.Tty), stdin: Boolean(record.Config.OpenStdin),
      });
      // Into its own cgroups, limits written, before it runs: every process it starts is there too.
      const limited = requestedResources(record.HostConfig as Record<string, unknown>).length > 0;
      await this.cgroups.create(record.Id, record.HostConfig as Record<string, unknown>);
      const placed = this.cgroups.place(record.Id, monitor.pid);
      if (limited) await placed.catch((err: Error) => { throw new EngineError('internal', `cannot move the container into its cgroup: ${err.message}`); });
      else await placed.catch(() => {});
      trace('created');
      if (seccompKey) void this.seccompCache.remember(seccompKey, record.Id);
      link = await MonitorLink.connect(files.socket);
      this.attachLink(record, link);
      const pid = await monitor.start();
      trace('started');
      record.State = { ...record.State, Status: 'running', Running: true, Restarting: false, OOMKilled: false, Pid: pid, ExitCode: 0, Error: '', StartedAt: nowIso(), FinishedAt: '0001-01-01T00:00:00Z' };
      this.health.watch(record, true);
      // Emitted before anything is awaited: a command as short as `true` may exit (and its exit be handled,
      // `die` emitted) while the record is written, and clients read the events in order.
      this.events.emit('container', 'start', record.Id, this.eventAttributes(record));
      await this.persist(record);
    } catch (err) {
      monitor?.abort();
      // The process never ran: no exit to record, but attached clients are told the stream is over.
      link?.removeAllListeners();
      link?.close();
      for (const session of this.live.get(record.Id)?.sessions ?? []) session.onEnd();
      this.live.delete(record.Id);
      // Endpoints made before the failure go with the namespace.
      for (const network of await this.userNetworks.release(record.Id).catch(() => [])) await this.refreshPeersHosts(network.Id, record.Id).catch(() => {});
      await Promise.all([this.networks.detach(runDir), this.cgroups.release(record.Id)]);
      const failure = this.startError(err);
      record.State.Error = failure.message;
      if (failure.exitCode === 126 || failure.exitCode === 127) record.State.ExitCode = failure.exitCode;
      await this.persist(record).catch(() => {});
      // Docker removes an --rm container whose start failed; clients waiting for `removed` rely on it.
      if (record.HostConfig.AutoRemove) await this.remove(record.Id, { force: true, volumes: true }).catch(() => {});
      throw failure;
    }
  }

  /** A port in use by another of this engine's containers: the error says which, as Docker does. */
  private portTakenBy(err: Error, ports: Record<string, Array<{ HostIp: string; HostPort: string }>>): Error {
    const match = /cannot publish \[?([^\]]*?)\]?:(\d+)(?:\/\w+)?: the port is already in use/.exec(err.message);
    if (!match || !(err instanceof EngineError)) return err;
    const port = match[2];
    const wanted = Object.keys(ports).filter((key) => ports[key]!.some((b) => b.HostPort === port));
    const owner = [...this.records.values()].find((r) => r.State.Running && Object.entries(r.publishedPorts ?? {})
      .some(([key, list]) => list.some((b) => b.HostPort === port) && wanted.some((w) => w.split('/')[1] === key.split('/')[1])));
    if (!owner) return err;
    return new EngineError(err.code, `${err.message.replace(/: the port is already in use.*$/, '')}: the port is already in use by container ${owner.Name.slice(1)} (${owner.Id.slice(0, 12)})`, { hint: err.hint });
  }

  private async previousMonitorGone(id: string): Promise<void> {
    const closing = this.monitorsClosing.get(id);
    if (closing) await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    this.monitorsClosing.delete(id);
  }

  /** `runtime delete --force`, only when the runtime still keeps state for the container (a spawn saved per run). */
  private async deleteRuntimeState(id: string): Promise<void> {
    if (!fs.existsSync(path.join(this.runtimeRoot, id))) return;
    await runCommand(this.runtime.path, ['--root', this.runtimeRoot, 'delete', '--force', id]).catch(() => {});
  }

  /** Docker's exit statuses for a process that cannot start: 127 not found, 126 not executable. */
  private startError(err: unknown): EngineError {
    const message = runtimeMessage(err instanceof Error ? err.message : String(err));
    if (err instanceof EngineError && err.code !== 'internal') return err;
    if (/not found|no such file/i.test(message) && /exec|executable|stat/i.test(message)) {
      return new EngineError('invalid_argument', `failed to start container: ${message}`, { exitCode: 127 });
    }
    if (/permission denied/i.test(message)) return new EngineError('invalid_argument', `failed to start container: ${message}`, { exitCode: 126 });
    return err instanceof EngineError ? err : new EngineError('internal', message, { cause: err });
  }

  private attachLink(record: ContainerRecord, link: MonitorLink): void {
    const live = this.liveOf(record.Id);
    live.link = link;
    // The monitor drops the runtime's state before it closes this link: a new start waits for that.
    this.monitorsClosing.set(record.Id, new Promise((resolve) => link.once('close', () => {
      this.monitorsClosing.delete(record.Id);
      resolve();
    })));
    for (const data of live.pendingStdin) link.writeStdin(data);
    live.pendingStdin = [];
    if (live.pendingStdinClose) link.closeStdin();
    link.on('output', (stream: number, data: Buffer) => {
      for (const session of live.sessions) {
        if ((stream === 1 && session.wantsStdout) || (stream === 2 && session.wantsStderr)) session.onOutput(stream === 2 ? 2 : 1, data);
      }
    });
    let exited = false;
    link.on('exit', (code: number) => {
      exited = true;
      void this.onExit(record, code, { runtimeStateDropped: true });
    });
    link.on('close', () => {
      if (exited) return;
      // The monitor died without telling us (killed): read what it left, if anything.
      let code = 255;
      try { code = Number(fs.readFileSync(this.monitorFiles(record.Id).exitFile, 'utf8').trim()); } catch { /* none */ }
      void this.onExit(record, code);
    });
  }

  /** `runtimeStateDropped`: the monitor deletes the runtime's state itself after reporting the exit. */
  private async onExit(record: ContainerRecord, exitCode: number, opts: { runtimeStateDropped?: boolean } = {}): Promise<void> {
    if (!this.records.has(record.Id)) return;
    this.health.unwatch(record.Id);
    this.stopProbeAgent(record.Id);
    const live = this.live.get(record.Id);
    this.live.delete(record.Id);
    live?.link?.close();
    for (const session of live?.sessions ?? []) session.onEnd();
    const wasRunning = record.State.Running;
    const oomKilled = await this.cgroups.oomKilled(record.Id);
    record.State = { ...record.State, Status: 'exited', Running: false, Paused: false, Pid: 0, ExitCode: exitCode, OOMKilled: oomKilled, FinishedAt: nowIso() };
    if (oomKilled && wasRunning) this.events.emit('container', 'oom', record.Id, this.eventAttributes(record));
    const trace = tracer(`exit ${record.Id.slice(0, 12)}`);
    const runDir = path.dirname(this.monitorFiles(record.Id).socket);
    delete record.publishedPorts;
    delete record.hostGateway;
    delete record.bridgeAddress;
    // Off its user-defined networks: the peers' /etc/hosts lose its name.
    for (const network of await this.userNetworks.release(record.Id).catch(() => [])) await this.refreshPeersHosts(network.Id, record.Id).catch(() => {});
    const died = () => {
      if (wasRunning) this.events.emit('container', 'die', record.Id, { ...this.eventAttributes(record), exitCode: String(exitCode) });
      this.waiters.emit(`exit:${record.Id}`, exitCode);
    };
    if (record.HostConfig.AutoRemove) {
      died();
      // remove() releases the network and the runtime state together with the rootfs (the state only when
      // the monitor is not dropping it itself).
      await this.remove(record.Id, { force: true, volumes: true, runtimeStateDropped: opts.runtimeStateDropped }).catch(() => {});
      trace('removed');
      return;
    }
    const restart = shouldRestart(record.HostConfig.RestartPolicy, exitCode, record.RestartCount, Boolean(record.manuallyStopped));
    if (restart) {
      const ranFor = Date.now() - Date.parse(record.State.StartedAt);
      record.restartDelayMs = restartDelayMs(record.restartDelayMs ?? 0, ranFor);
      record.State = { ...record.State, Status: 'restarting', Restarting: true };
    }
    // Waiters hear of the exit only once the state is on disk, so a `rm` right after cannot race it.
    await Promise.all([this.networks.detach(runDir), this.cgroups.release(record.Id), opts.runtimeStateDropped ? undefined : this.deleteRuntimeState(record.Id), this.persist(record).catch(() => {})]);
    trace('cleaned');
    died();
    if (restart) this.scheduleRestart(record);
  }

  /** Starts a container again after its back-off, unless it was stopped or removed meanwhile. */
  private scheduleRestart(record: ContainerRecord): void {
    const timer = setTimeout(() => {
      this.restartTimers.delete(record.Id);
      if (!this.records.has(record.Id) || record.State.Status !== 'restarting') return;
      record.RestartCount += 1;
      this.start(record.Id, { byPolicy: true }).catch(async (err: unknown) => {
        record.State = { ...record.State, Status: 'exited', Restarting: false, Error: err instanceof Error ? err.message : String(err) };
        await this.persist(record).catch(() => {});
      });
    }, record.restartDelayMs ?? 100);
    timer.unref();
    this.restartTimers.set(record.Id, timer);
  }

  /** A stop or kill by the user ends any pending restart and keeps the policy from starting it again. */
  private async markStoppedByUser(record: ContainerRecord): Promise<void> {
    record.manuallyStopped = true;
    const timer = this.restartTimers.get(record.Id);
    if (timer) {
      clearTimeout(timer);
      this.restartTimers.delete(record.Id);
    }
    if (record.State.Status === 'restarting') record.State = { ...record.State, Status: 'exited', Restarting: false };
    await this.persist(record).catch(() => {});
  }

  /** Registers a client on the container's stdio; before start, it sees everything from the first byte. */
  attach(idOrName: string, session: AttachSession): { detach(): void; writeStdin(data: Buffer): void; closeStdin(): void; resize(rows: number, cols: number): void } {
    const record = this.get(idOrName);
    // Created and exited containers accept an attach too: `start -a` attaches first, then starts.
    if (!record.State.Running && !transitions[record.State.Status].start) throw conflict(`container ${record.Id.slice(0, 12)} is ${record.State.Status}`);
    const live = this.liveOf(record.Id);
    live.sessions.add(session);
    return {
      detach: () => live.sessions.delete(session),
      writeStdin: (data) => (live.link ? live.link.writeStdin(data) : live.pendingStdin.push(data)),
      closeStdin: () => {
        if (live.link) live.link.closeStdin();
        else live.pendingStdinClose = true;
      },
      resize: (rows, cols) => live.link?.resize(rows, cols),
    };
  }

  resize(idOrName: string, rows: number, cols: number): void {
    const record = this.get(idOrName);
    if (!record.State.Running) throw conflict(`container ${record.Id.slice(0, 12)} is not running`);
    this.live.get(record.Id)?.link?.resize(rows, cols);
  }

  async kill(idOrName: string, signal = 'KILL'): Promise<void> {
    const record = this.get(idOrName);
    if (!record.State.Running) throw conflict(`cannot kill container: ${idOrName}: container ${record.Id.slice(0, 12)} is not running`);
    const name = parseSignal(signal);
    if (name === 'KILL' || name === 'TERM' || name === 'INT') await this.markStoppedByUser(record);
    await runCommand(this.runtime.path, ['--root', this.runtimeRoot, 'kill', record.Id, name]);
    // A frozen process only acts on the signal once thawed (as Docker does, the container is unpaused).
    if (record.State.Paused) await this.unpause(record.Id).catch(() => {});
    this.events.emit('container', 'kill', record.Id, { ...this.eventAttributes(record), signal: String(signalNumbers[name]) });
  }

  private waitExit(id: string, timeoutMs: number): Promise<boolean> {
    const record = this.records.get(id);
    if (!record || !record.State.Running) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiters.off(`exit:${id}`, done); resolve(false); }, timeoutMs);
      const done = () => { clearTimeout(timer); resolve(true); };
      this.waiters.once(`exit:${id}`, done);
    });
  }

  async stop(idOrName: string, timeoutSeconds?: number, signal?: string): Promise<void> {
    const record = this.get(idOrName);
    if (record.State.Status === 'restarting') {
      await this.markStoppedByUser(record);
      return;
    }
    if (!record.State.Running) throw new EngineError('not_modified', 'container already stopped');
    await this.markStoppedByUser(record);
    const timeout = timeoutSeconds ?? record.Config.StopTimeout ?? 10;
    const stopSignal = parseSignal(signal ?? record.Config.StopSignal ?? 'TERM');
    if (timeout !== 0) {
      await runCommand(this.runtime.path, ['--root', this.runtimeRoot, 'kill', record.Id, stopSignal]).catch(() => {});
    }
    if (record.State.Paused) await this.unpause(record.Id).catch(() => {});
    const exited = timeout < 0 ? await this.waitExit(record.Id, 2 ** 31 - 1) : await this.waitExit(record.Id, timeout * 1000);
    if (!exited) {
      await runCommand(this.runtime.path, ['--root', this.runtimeRoot, 'kill', record.Id, 'KILL']).catch(() => {});
      await this.waitExit(record.Id, 10_000);
    }
    this.events.emit('container', 'stop', record.Id, this.eventAttributes(record));
  }

  /** Freezes every process of the container (cgroup v2 freezer); health checks wait meanwhile. */
  async pause(idOrName: string): Promise<void> {
    const record = this.get(idOrName);
    if (!record.State.Running) throw conflict(`Container ${record.Id} is not running`);
    if (record.State.Paused) throw conflict(`Container ${record.Id} is already paused`);
    await this.cgroups.setFrozen(record.Id, true);
    this.health.unwatch(record.Id);
    record.State = { ...record.State, Status: 'paused', Paused: true };
    await this.persist(record);
    this.events.emit('container', 'pause', record.Id, this.eventAttributes(record));
  }

  async unpause(idOrName: string): Promise<void> {
    const record = this.get(idOrName);
    if (!record.State.Paused) throw conflict(`Container ${record.Id} is not paused`);
    await this.cgroups.setFrozen(record.Id, false);
    record.State = { ...record.State, Status: 'running', Paused: false };
    if (record.State.Running) this.health.watch(record, false);
    await this.persist(record);
    this.events.emit('container', 'unpause', record.Id, this.eventAttributes(record));
  }

  /** Runs `work` with the container frozen when it runs and a freezer is there (commit's --pause). */
  async whilePaused<T>(idOrName: string, work: () => Promise<T>): Promise<T> {
    const record = this.get(idOrName);
    const freeze = record.State.Running && !record.State.Paused && this.cgroups.available;
    if (freeze) await this.pause(record.Id);
    try {
      return await work();
    } finally {
      if (freeze) await this.unpause(record.Id).catch(() => {});
    }
  }

  async restart(idOrName: string, timeoutSeconds?: number): Promise<void> {
    const record = this.get(idOrName);
    if (record.State.Running) await this.stop(record.Id, timeoutSeconds);
    await this.start(record.Id);
    this.events.emit('container', 'restart', record.Id, this.eventAttributes(record));
  }

  /** `runtimeStateDropped`: the monitor reported the exit and deletes the runtime's state itself. */
  async remove(idOrName: string, opts: { force: boolean; volumes: boolean; runtimeStateDropped?: boolean }): Promise<void> {
    const record = this.get(idOrName);
    if (record.State.Status === 'restarting') {
      if (!opts.force) throw conflict(`cannot remove container "${record.Name.slice(1)}": container is restarting: stop the container before removing or force remove`);
      await this.markStoppedByUser(record);
    }
    if (record.State.Running) {
      if (!opts.force) throw conflict(`cannot remove container "${record.Name.slice(1)}": container is running: stop the container before removing or force remove`);
      await runCommand(this.runtime.path, ['--root', this.runtimeRoot, 'kill', record.Id, 'KILL']).catch(() => {});
      await this.waitExit(record.Id, 10_000);
    }
    record.State.Status = 'removing';
    await this.persist(record).catch(() => {});
    const dir = this.containerDir(record.Id);
    const runDir = path.dirname(this.monitorFiles(record.Id).socket);
    if (record.HostConfig.IpcMode === 'shareable') await unmount(path.join(runDir, 'shm'), { lazy: true }).catch(() => {});
    // A monitor still holding its link deletes the runtime's state itself as it goes; nothing can start this
    // ID again, so there is no need to wait for it.
    const dropRuntimeState = async () => {
      if (!opts.runtimeStateDropped && !this.monitorsClosing.has(record.Id)) await this.deleteRuntimeState(record.Id);
    };
    await Promise.all([this.snapshotter.unmountRootfs(dir).catch(() => {}), dropRuntimeState(), this.networks.detach(runDir), this.cgroups.release(record.Id)]);
    // Drop the record first: a kill -9 half way leaves a dir without container.json, which open() sweeps.
    fs.rmSync(path.join(dir, 'container.json'), { force: true });
    this.records.delete(record.Id);
    for (const name of ['healthcheck', 'probe-agent']) this.probeSpecs.delete(`${record.Id}/${name}`);
    this.stopProbeAgent(record.Id);
    this.events.emit('container', 'destroy', record.Id, this.eventAttributes(record));
    if (opts.volumes) {
      for (const mount of record.Mounts ?? []) {
        if (mount.Type !== 'volume' || !mount.Name || !this.volumes.has(mount.Name) || !this.volumes.get(mount.Name).anonymous) continue;
        await this.volumes.remove(mount.Name, { force: false, usedBy: this.volumeUsers(mount.Name) }).catch(() => {});
      }
    }
    // The container is gone for every client from here (`run --rm` returns); its directories, whose
    // deletion is the slow part, go after. A daemon killed meanwhile sweeps them at its next start, as
    // any directory without container.json.
    this.waiters.emit(`removed:${record.Id}`);
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rm(path.dirname(this.monitorFiles(record.Id).socket), { recursive: true, force: true });
  }

  /** Subscribes synchronously (so a start right after cannot be missed); resolves with the exit code. */
  waitLater(idOrName: string, condition: string = 'not-running'): Promise<number> {
    const record = this.get(idOrName);
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw invalid(`invalid condition: ${condition}`);
    if (condition === 'not-running' && !record.State.Running) return Promise.resolve(record.State.ExitCode);
    const event = condition === 'removed' ? `removed:${record.Id}` : `exit:${record.Id}`;
    return new Promise((resolve) => this.waiters.once(event, () => resolve(record.State.ExitCode)));
  }

  async rename(idOrName: string, newName: string): Promise<void> {
    const record = this.get(idOrName);
    const name = newName.replace(/^\//, '');
    if (!namePattern.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (this.nameTaken(name)) throw conflict(`Conflict. The container name "/${name}" is already in use`);
    const oldName = record.Name;
    record.Name = `/${name}`;
    await this.persist(record);
    this.events.emit('container', 'rename', record.Id, { ...this.eventAttributes(record), oldName });
  }

  /**
   * Docker's update: a new restart policy applies from the next exit; resource fields are checked, kept
   * in HostConfig and, on a running container, written into its cgroups at once.
   */
  async update(idOrName: string, body: Record<string, unknown>): Promise<void> {
    const record = this.get(idOrName);
    const policy = body.RestartPolicy as RestartPolicy | undefined;
    const changes: Record<string, unknown> = {};
    for (const key of resourceFields) {
      const value = body[key];
      if (value !== undefined && value !== null && value !== 0 && value !== '') changes[key] = value;
    }
    checkResources({ ...record.HostConfig, ...changes });
    if (policy?.Name) {
      if (record.HostConfig.AutoRemove && policy.Name !== 'no') throw invalid('Restart policy cannot be updated because AutoRemove is enabled for the container');
      checkRestartPolicy(policy, false);
      record.HostConfig.RestartPolicy = { Name: policy.Name, MaximumRetryCount: policy.MaximumRetryCount ?? 0 };
    }
    if (record.State.Running && Object.keys(changes).length) await this.cgroups.writeLimits(record.Id, { ...record.HostConfig, ...changes });
    Object.assign(record.HostConfig, changes);
    await this.persist(record);
    this.events.emit('container', 'update', record.Id, this.eventAttributes(record));
  }

  /**
   * The warning for resource limits this host cannot enforce (undefined when it enforces them all):
   * the container runs without them, as podman's do, and the client is told why and what would fix it.
   */
  limitsWarning(resources: Record<string, unknown>): string | undefined {
    const unapplied = this.cgroups.unapplied(requestedResources(resources));
    return unapplied && `resource limits (${unapplied.fields.join(', ')}) are not applied: ${unapplied.reason}; to have them, ${unapplied.remedy}`;
  }

  /** The memory limit the kernel enforces on the container, if it has one. */
  memoryLimit(record: ContainerRecord): number | undefined {
    const memory = record.HostConfig.Memory;
    return typeof memory === 'number' && memory > 0 && !this.cgroups.unapplied(['Memory']) ? memory : undefined;
  }

  /** Where limits can be enforced on this host, by cgroup version (for `roost info`). */
  limitControllers(): { v2: string[]; v1: string[] } {
    return this.cgroups.limitControllers();
  }

  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const record of [...this.records.values()]) {
      if (record.State.Running) continue;
      await this.remove(record.Id, { force: false, volumes: false });
      removed.push(record.Id);
    }
    return removed;
  }

  /** A running container's published ports for the API: its bindings, and `::` beside `0.0.0.0` where that listens on IPv6 too. */
  publishedPorts(record: ContainerRecord): Record<string, Array<{ HostIp: string; HostPort: string }>> {
    return withIPv6Bindings(record.publishedPorts ?? {}, this.networks.dualStack);
  }

  /** -p bindings, plus every exposed port on a random host port with -P. */
  private portBindings(record: ContainerRecord): Record<string, PortBinding[] | null> {
    const bindings: Record<string, PortBinding[] | null> = { ...(record.HostConfig.PortBindings ?? {}) };
    if (record.HostConfig.PublishAllPorts) {
      for (const key of Object.keys(record.Config.ExposedPorts ?? {})) if (!bindings[key]?.length) bindings[key] = [{ HostIp: '', HostPort: '' }];
    }
    return bindings;
  }

  // ---- exec ----

  execCreate(idOrName: string, body: { Cmd?: string[]; Env?: string[]; WorkingDir?: string; User?: string; Tty?: boolean; AttachStdin?: boolean; AttachStdout?: boolean; AttachStderr?: boolean; Privileged?: boolean; DetachKeys?: string }): ExecRecord {
    const record = this.get(idOrName);
    if (!record.State.Running) throw conflict(`container ${record.Id} is not running`);
    if (record.State.Paused) throw conflict(`Container ${record.Id} is paused, unpause the container before exec`);
    if (!body.Cmd || body.Cmd.length === 0) throw invalid('no exec command specified');
    const exec: ExecRecord = {
      ID: randomBytes(32).toString('hex'),
      ContainerID: record.Id,
      Running: false,
      ExitCode: null,
      Pid: 0,
      OpenStdin: Boolean(body.AttachStdin),
      OpenStdout: body.AttachStdout !== false,
      OpenStderr: body.AttachStderr !== false,
      ProcessConfig: { tty: Boolean(body.Tty), entrypoint: body.Cmd[0]!, arguments: body.Cmd.slice(1), privileged: Boolean(body.Privileged), user: body.User ?? '' },
      env: body.Env ?? [],
      workingDir: body.WorkingDir ?? '',
      detachKeys: body.DetachKeys,
    };
    this.execs.set(exec.ID, exec);
    return exec;
  }

  getExec(id: string): ExecRecord {
    const exec = this.execs.get(id) ?? [...this.execs.values()].find((e) => e.ID.startsWith(id) && id.length >= 12);
    if (!exec) throw new EngineError('not_found', `No such exec instance: ${id}`);
    return exec;
  }

  /** The OCI process of an exec: the container's environment, user and security settings with the exec's own. */
  private execProcessSpec(record: ContainerRecord, exec: ExecRecord, useTty: boolean) {
    const rootfs = path.join(this.containerDir(record.Id), 'rootfs');
    const env = [...(record.Config.Env ?? [])];
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    for (const entry of exec.env) env.push(entry);
    if (useTty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
    return buildExecProcess({
      args: [exec.ProcessConfig.entrypoint, ...exec.ProcessConfig.arguments],
      env, cwd: exec.workingDir || record.Config.WorkingDir || '/', tty: useTty, security: securitySettings(record.HostConfig),
      user: !exec.ProcessConfig.user && !record.Config.User && record.HostConfig.UsernsMode === 'keep-id'
        ? keepIdentity().user
        : resolveUser(rootfs, exec.ProcessConfig.user || record.Config.User),
    });
  }

  /** Starts an exec; output reaches `session` (if any) from the first byte. Resolves once it runs. */
  async execStart(execId: string, session: AttachSession | undefined, tty?: boolean): Promise<{ writeStdin(data: Buffer): void; closeStdin(): void; resize(rows: number, cols: number): void; exited: Promise<number> }> {
    const exec = this.getExec(execId);
    if (exec.Running || exec.ExitCode !== null) throw conflict(`exec ${exec.ID} has already been started`);
    const record = this.get(exec.ContainerID);
    if (!record.State.Running) throw conflict(`container ${record.Id} is not running`);
    const useTty = tty ?? exec.ProcessConfig.tty;
    const processSpec = this.execProcessSpec(record, exec, useTty);
    const files = this.monitorFiles(record.Id, exec.ID);
    const processFile = `${files.pidFile}.process.json`;
    await fsp.writeFile(processFile, JSON.stringify(processSpec));
    const monitor = await launchMonitor({
      id: record.Id, bundle: path.join(this.containerDir(record.Id), 'bundle'), runtime: this.runtime.path, runtimeRoot: this.runtimeRoot,
      files, tty: useTty, stdin: exec.OpenStdin, execProcessFile: processFile,
    }).catch((err: unknown) => { throw this.startError(err); });
    const link = await MonitorLink.connectFresh(files.socket).catch((err: unknown) => { monitor.abort(); throw err; });
    exec.link = link;
    exec.Running = true;
    if (session) {
      link.on('output', (stream: number, data: Buffer) => {
        if ((stream === 1 && session.wantsStdout) || (stream === 2 && session.wantsStderr)) session.onOutput(stream === 2 ? 2 : 1, data);
      });
    }
    const exited = new Promise<number>((resolve) => {
      let done = false;
      const finish = (code: number) => {
        if (done) return;
        done = true;
        exec.Running = false;
        exec.ExitCode = code;
        session?.onEnd();
        link.close();
        void fsp.rm(processFile, { force: true });
        this.events.emit('container', `exec_die`, record.Id, { ...this.eventAttributes(record), execID: exec.ID, exitCode: String(code) });
        resolve(code);
      };
      link.on('exit', finish);
      link.on('close', () => {
        let code = 126;
        try { code = Number(fs.readFileSync(files.exitFile, 'utf8').trim()); } catch { /* none */ }
        finish(code);
      });
    });
    // The monitor joins the container's cgroups first, so the process (and all it forks) starts under its limits.
    await this.cgroups.place(record.Id, monitor.monitorPid).catch(() => {});
    exec.Pid = await monitor.start().catch((err: unknown) => { throw this.startError(err); });
    await this.cgroups.place(record.Id, exec.Pid).catch(() => {});
    this.events.emit('container', `exec_start: ${exec.ProcessConfig.entrypoint} ${exec.ProcessConfig.arguments.join(' ')}`.trim(), record.Id, { ...this.eventAttributes(record), execID: exec.ID });
    return {
      writeStdin: (data) => link.writeStdin(data),
      closeStdin: () => link.closeStdin(),
      resize: (rows, cols) => link.resize(rows, cols),
      exited,
    };
  }

  /**
   * Runs a health check's command in the container and collects its output (stdout and stderr). With
   * the probe agent bound in (native/roost-probe), the agent forks it inside the container; otherwise
   * the runtime's exec runs it directly, without a monitor (no stdin, no terminal, nothing to outlive the
   * daemon). Either way the process spec is the exec's, written once per container.
   */
  private async probe(record: ContainerRecord, command: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const exec = this.execCreate(record.Id, { Cmd: command, AttachStdout: true, AttachStderr: true });
    try {
      exec.Running = true;
      this.events.emit('container', `exec_start: ${command.join(' ')}`, record.Id, { ...this.eventAttributes(record), execID: exec.ID });
      // An agent that cannot start (a runtime refusing it) is not tried again for this container.
      const agent = record.probeAgent ? await this.probeAgentOf(record, exec).catch(() => { record.probeAgent = false; return undefined; }) : undefined;
      const result = agent ? await agent.run(command, timeoutMs) : await this.probeByRuntimeExec(record, exec, timeoutMs);
      exec.Running = false;
      exec.ExitCode = result.exitCode;
      if (result.exitCode === -1) return { exitCode: -1, output: `Health check exceeded timeout (${timeoutMs / 1000}s)` };
      this.events.emit('container', 'exec_die', record.Id, { ...this.eventAttributes(record), execID: exec.ID, exitCode: String(result.exitCode) });
      return result;
    } finally {
      this.execs.delete(exec.ID);
    }
  }

  /** Writes the probes' process spec (`args` replaced) when it changed; returns its file. */
  private async probeProcessFile(record: ContainerRecord, exec: ExecRecord, name: string, args?: string[]): Promise<{ processFile: string; pidFile: string }> {
    const files = this.monitorFiles(record.Id, name);
    const processFile = `${files.pidFile}.process.json`;
    const process = this.execProcessSpec(record, exec, false);
    const spec = JSON.stringify(args ? { ...process, args } : process);
    const key = `${record.Id}/${name}`;
    if (this.probeSpecs.get(key) !== spec || !fs.existsSync(processFile)) {
      await fsp.mkdir(path.dirname(processFile), { recursive: true });
      await fsp.writeFile(processFile, spec);
      this.probeSpecs.set(key, spec);
    }
    return { processFile, pidFile: files.pidFile };
  }

  /** The container's probe agent, started (through the runtime's exec) and put into its cgroups when needed. */
  private async probeAgentOf(record: ContainerRecord, exec: ExecRecord): Promise<ProbeAgent> {
    const running = this.probeAgents.get(record.Id);
    if (running?.alive) return running;
    const { processFile, pidFile } = await this.probeProcessFile(record, exec, 'probe-agent', [probeMountPath]);
    await fsp.rm(pidFile, { force: true });
    const agent = ProbeAgent.start(this.runtime.path, this.runtimeRoot, record.Id, processFile, pidFile);
    this.probeAgents.set(record.Id, agent);
    const pid = await agent.started;
    await this.cgroups.place(record.Id, pid).catch(() => {});
    return agent;
  }

  private stopProbeAgent(id: string): void {
    this.probeAgents.get(id)?.stop();
    this.probeAgents.delete(id);
  }

  /** One probe as a runtime exec of its own (containers started without the agent). */
  private async probeByRuntimeExec(record: ContainerRecord, exec: ExecRecord, timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const { processFile, pidFile } = await this.probeProcessFile(record, exec, 'healthcheck');
    const child = spawn(this.runtime.path, ['--root', this.runtimeRoot, 'exec', '--process', processFile, '--pid-file', pidFile, record.Id], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = (data: Buffer) => { if (size < 8192) { chunks.push(data); size += data.length; } };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await new Promise<number | 'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
      child.on('error', () => resolve(126));
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 9) : 126)));
    });
    clearTimeout(timer);
    if (outcome === 'timeout') {
      try { process.kill(Number(fs.readFileSync(pidFile, 'utf8').trim()), 'SIGKILL'); } catch { /* gone */ }
      child.kill('SIGKILL');
      return { exitCode: -1, output: '' };
    }
    return { exitCode: outcome, output: Buffer.concat(chunks).toString('utf8') };
  }

  execResize(execId: string, rows: number, cols: number): void {
    const exec = this.getExec(execId);
    exec.link?.resize(rows, cols);
  }

  /** The image as the user named it (Docker shows Config.Image), or its ID once that name moved on. */
  familiarImage(record: ContainerRecord): string {
    try {
      if (this.images.resolve(record.Config.Image).id === record.Image) return record.Config.Image;
    } catch { /* the name is gone */ }
    return record.Image;
  }
}

