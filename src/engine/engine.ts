import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ContentStore } from '../fs/content-store.js';
import { CopySnapshotter, FuseOverlaySnapshotter, OverlaySnapshotter, type Snapshotter } from '../fs/snapshotter.js';
import { ImageStore } from '../image/image-store.js';
import { checkHost, chooseRuntime, cgroupLayout, type HostFinding, type RuntimeChoice } from '../rootless/host-check.js';
import type { IdMapping } from '../rootless/user-namespace.js';
import { unavailable } from '../util/errors.js';
import { ContainerService } from './containers.js';
import { VolumeService } from './volumes.js';
import { ContainerNetworks } from '../net/container-network.js';
import { SharedBridge } from '../net/shared-bridge.js';
import { EventBus } from './events.js';
import { ImageService } from './images.js';
import { ImagePuller } from './image-pull.js';
import { ImagePusher } from './image-push.js';
import { BuildCache } from '../build/build-cache.js';
import { UserNetworks } from '../net/user-networks.js';
import { Registries } from '../registry/registries.js';
import { homeConfigDir } from '../registry/transport.js';

import { roostVersion } from '../util/version.js';
import { hotPathChoices } from '../wasm/choice.js';

export interface EngineOptions {
  dataDir: string;
  runDir: string;
  mapping: IdMapping;
  /** Host findings made outside the user namespace (device access differs inside it). */
  hostFindings: HostFinding[];
  snapshotter?: string;
  /** Roost's config dir (registries.json, certs.d); $XDG_CONFIG_HOME/roost by default. */
  configDir?: string;
}

/** The domain the API serves: images, containers, events and what the host can do. */
export class Engine {
  readonly events = new EventBus();
  readonly images: ImageService;
  readonly containers: ContainerService;
  readonly snapshotter: Snapshotter;
  readonly runtime: RuntimeChoice;
  readonly snapshotterReason: string;
  readonly networks: ContainerNetworks;
  readonly volumes: VolumeService;
  readonly registries: Registries;
  readonly puller: ImagePuller;
  readonly pusher: ImagePusher;
  readonly buildCache: BuildCache;
  readonly userNetworks: UserNetworks;

  private constructor(readonly options: EngineOptions, snapshotter: Snapshotter, reason: string, runtime: RuntimeChoice, content: ContentStore, imageStore: ImageStore) {
    this.snapshotter = snapshotter;
    this.snapshotterReason = reason;
    this.runtime = runtime;
    this.images = new ImageService(content, imageStore, snapshotter, this.events, path.join(options.dataDir, 'tmp'));
    this.registries = new Registries(options.configDir ?? homeConfigDir());
    this.puller = new ImagePuller(content, imageStore, snapshotter, this.events, this.registries);
    this.pusher = new ImagePusher(content, imageStore, this.events, this.registries);
    this.buildCache = new BuildCache(options.dataDir);
    this.volumes = new VolumeService(options.dataDir, this.events);
    this.userNetworks = new UserNetworks(options.dataDir, options.runDir);
    // The default network's bridge lives in the user-defined networks' namespace, beside their bridges,
    // and its uplink is theirs as well.
    const bridge = new SharedBridge(this.userNetworks.holder, options.runDir, () => this.userNetworks.ensureHolder(),
      () => this.userNetworks.list().map((n) => ({ bridge: n.bridge, internal: n.Internal })));
    this.networks = new ContainerNetworks(options.runDir, bridge);
    this.containers = new ContainerService({ dataDir: options.dataDir, runDir: options.runDir }, this.images, snapshotter, this.events, runtime, this.networks, this.volumes, this.userNetworks);
  }

  static async open(options: EngineOptions): Promise<Engine> {
    await fsp.mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    await fsp.chmod(options.dataDir, 0o700);
    await fsp.rm(path.join(options.dataDir, 'tmp'), { recursive: true, force: true });
    await fsp.mkdir(path.join(options.dataDir, 'tmp'), { recursive: true, mode: 0o700 });
    const runtime = chooseRuntime();
    if (!runtime) throw unavailable('no OCI runtime found', 'sudo apt-get install crun runc');
    const { snapshotter, reason } = await Engine.pickSnapshotter(options);
    const content = new ContentStore(path.join(options.dataDir, 'storage'));
    await content.open();
    const imageStore = new ImageStore(content);
    await imageStore.open();
    await snapshotter.open();
    const engine = new Engine(options, snapshotter, reason, runtime, content, imageStore);
    await engine.volumes.open();
    await engine.userNetworks.open();
    await engine.containers.open();
    return engine;
  }

  /** overlay where the kernel allows it in a user namespace, else fuse-overlayfs, else copy; ROOST_STORAGE_DRIVER overrides. */
  private static async pickSnapshotter(options: EngineOptions): Promise<{ snapshotter: Snapshotter; reason: string }> {
    const root = path.join(options.dataDir, 'storage');
    const wanted = options.snapshotter;
    if (wanted && !['overlay', 'fuse-overlayfs', 'copy'].includes(wanted)) {
      throw unavailable(`unknown storage driver ${wanted}`, 'use overlay, fuse-overlayfs or copy');
    }
    // The driver is fixed once images exist: snapshots of one driver cannot be read by another.
    const markerFile = path.join(root, 'driver');
    const recorded = await fsp.readFile(markerFile, 'utf8').then((s) => s.trim(), () => undefined);
    if (recorded && wanted && recorded !== wanted) {
      throw unavailable(`the store was created with the ${recorded} driver`, `unset ROOST_STORAGE_DRIVER or remove ${root}`);
    }
    let name = wanted ?? recorded;
    let reason = wanted ? 'chosen by ROOST_STORAGE_DRIVER' : recorded ? 'kept from the existing store' : '';
    if (!name) {
      const scratch = path.join(options.dataDir, 'tmp');
      const overlayFailure = await OverlaySnapshotter.probe(path.join(scratch, 'overlay-probe'));
      const fuseFailure = overlayFailure ? await FuseOverlaySnapshotter.probeFuse(path.join(scratch, 'fuse-probe')) : undefined;
      name = !overlayFailure ? 'overlay' : !fuseFailure ? 'fuse-overlayfs' : 'copy';
      reason = !overlayFailure ? 'native overlayfs in the user namespace'
        : !fuseFailure ? `native overlay is refused here (${overlayFailure})`
          : `neither native overlay (${overlayFailure}) nor fuse-overlayfs (${fuseFailure}) works here`;
    }
    await fsp.mkdir(root, { recursive: true, mode: 0o700 });
    await fsp.writeFile(markerFile, `${name}\n`);
    const snapshotter = name === 'overlay' ? new OverlaySnapshotter(root) : name === 'fuse-overlayfs' ? new FuseOverlaySnapshotter(root) : new CopySnapshotter(root);
    return { snapshotter, reason };
  }

  /** Daemon shutdown: containers keep running; only what serves future starts goes. */
  async close(): Promise<void> {
    this.userNetworks.close();
    await this.networks.close();
  }

  info(): Record<string, unknown> {
    const containers = this.containers.list();
    const running = containers.filter((c) => c.State.Running).length;
    const paused = containers.filter((c) => c.State.Paused).length;
    const findings = this.options.hostFindings.length ? this.options.hostFindings : checkHost();
    return {
      ID: 'roost',
      Containers: containers.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: containers.length - running - paused,
      Images: this.images.list().length,
      Driver: this.snapshotter.name,
      DriverStatus: [['Backing Filesystem', 'extfs'], ['Reason', this.snapshotterReason]],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Log: ['k8s-file'] },
      MemoryLimit: false,
      SwapLimit: false,
      CpuCfsPeriod: false,
      CpuCfsQuota: false,
      CPUShares: false,
      CPUSet: false,
      PidsLimit: false,
      OomKillDisable: false,
      IPv4Forwarding: true,
      Debug: false,
      NFd: 0,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'k8s-file',
      CgroupDriver: 'none',
      CgroupVersion: cgroupLayout() === 'v2' ? '2' : '1',
      NEventsListener: 0,
      KernelVersion: os.release(),
      OperatingSystem: osName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.arch() === 'x64' ? 'x86_64' : os.arch(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      DockerRootDir: this.options.dataDir,
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: roostVersion,
      Runtimes: { [this.runtime.name]: { path: this.runtime.path } },
      DefaultRuntime: this.runtime.name,
      Swarm: { LocalNodeState: 'inactive', NodeID: '', NodeAddr: '', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: 'catatonit',
      SecurityOptions: ['name=rootless', 'name=seccomp,profile=default'],
      Warnings: findings.filter((f) => !f.ok).map((f) => `WARNING: ${f.name}: ${f.detail}${f.remedy ? ` (fix: ${f.remedy})` : ''}`),
      Roost: {
        IdMapping: this.options.mapping,
        Runtime: `${this.runtime.name} (${this.runtime.reason})`,
        StorageDriver: `${this.snapshotter.name} (${this.snapshotterReason})`,
        DefaultNetwork: this.networks.describe(),
        HotPaths: hotPathChoices(),
        Host: findings,
      },
    };
  }
}

function osName(): string {
  try {
    return /PRETTY_NAME="?([^"\n]+)"?/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}
