import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { unavailable } from '../util/errors.js';
import { runCommand } from '../util/exec.js';
import { listensDualStack } from './dual-stack.js';
import { forwardedPorts, forwarderPidFile, portForwards, startPortForwarder } from './port-forwarder.js';
import { bridgeName, bridgeSubnet, SharedBridge } from './shared-bridge.js';
import { slirpGuestAddress } from './slirp-uplink.js';
import { chooseUplink, createNetns, removeNetns, startUplink, stopUplink, type UplinkName } from './uplink.js';

/** Where a container's network namespace and its uplink's pid file are (recorded for cleanup). */
export interface NetworkAttachment {
  nsFile: string;
  uplinkPidFile: string;
  /** A directory to remove with the attachment (a pool entry's), if any. */
  ownDir?: string;
  /** On the shared bridge: the container's address there (no uplink of its own). */
  bridgeIp?: string;
}

type PublishedPorts = Record<string, Array<{ HostIp: string; HostPort: string }>>;

/**
 * The default network's per-container namespaces and uplinks. Starting the uplink is most of a
 * container's start time, so one namespace with its uplink already running is kept ready: a container
 * takes it and the next one is prepared in the background. A slirp4netns spare also serves containers
 * with `-p` (they get a roost-portfwd); a pasta spare only those without (pasta takes its ports when it
 * starts).
 */
export class ContainerNetworks {
  private readonly poolDir: string;
  private spare: Promise<NetworkAttachment | undefined> | undefined;
  private closed = false;
  /** Decided once per engine start, not looked up on every container start. */
  private readonly uplink: UplinkName = chooseUplink();
  /**
   * The shared bridge, where the host has what it needs and no uplink was asked for by ROOST_UPLINK;
   * dropped (each container then gets its own uplink) if it cannot be set up.
   */
  private bridge: SharedBridge | undefined;
  /** Why containers get an uplink each instead of the shared bridge (for `roost info`). */
  bridgeUnavailable: string | undefined;
  /**
   * Whether a port published on every address (0.0.0.0) listens on IPv6 as well: roost-portfwd binds it as
   * a dual-stack `[::]` and pasta binds both families, where the host can (decided once, at `open`).
   */
  dualStack = false;

  constructor(runDir: string, bridge?: SharedBridge, env: NodeJS.ProcessEnv = process.env) {
    this.poolDir = path.join(runDir, 'netpool');
    this.bridgeUnavailable = env.ROOST_UPLINK ? `ROOST_UPLINK=${env.ROOST_UPLINK} gives each container its own uplink` : SharedBridge.unavailableReason();
    if (!this.bridgeUnavailable) this.bridge = bridge;
  }

  /**
   * Whether the default network is the shared bridge (for `network inspect bridge`); then the user-defined
   * networks' containers go out through its uplink as well (`routeOut`).
   */
  get sharedBridge(): boolean {
    return Boolean(this.bridge);
  }

  /** What the default network is, for `roost info`. */
  describe(): string {
    return this.bridge ? `one bridge (${bridgeName}, ${bridgeSubnet}) with one slirp4netns uplink for all containers`
      : `an uplink (${this.uplink}) per container${this.bridgeUnavailable ? `: ${this.bridgeUnavailable}` : ''}`;
  }

  /**
   * Removes spares left by a daemon that died and takes back the bridge addresses of running containers;
   * `inUse`: the attachments of the running containers.
   */
  async open(inUse: NetworkAttachment[]): Promise<void> {
    this.dualStack = await listensDualStack();
    await fsp.mkdir(this.poolDir, { recursive: true, mode: 0o700 });
    const ownDirs = new Set(inUse.map((a) => a.ownDir).filter(Boolean));
    for (const attachment of inUse) if (attachment.bridgeIp) this.bridge?.adopt(attachment.bridgeIp);
    for (const name of await fsp.readdir(this.poolDir)) {
      const dir = path.join(this.poolDir, name);
      if (ownDirs.has(dir)) continue;
      await this.release({ nsFile: path.join(dir, 'netns'), uplinkPidFile: path.join(dir, 'uplink.pid'), ownDir: dir });
    }
    // The first container need not wait for the namespace (and, the first time, the bridge) to be made.
    this.refill();
  }

  /**
   * On the shared bridge unless the container needs an uplink of its own: one whose gateway leads to the
   * host's loopback (--add-host NAME:host-gateway).
   */
  private onBridge(ports: PublishedPorts, hostLoopback: boolean, ownUplink = false): boolean {
    return Boolean(this.bridge) && !ownUplink && !hostLoopback;
  }

  private async prepare(dir: string, ports: PublishedPorts, hostLoopback = false, ownUplink = false): Promise<NetworkAttachment> {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const attachment: NetworkAttachment = { nsFile: path.join(dir, 'netns'), uplinkPidFile: path.join(dir, 'uplink.pid') };
    await removeNetns(attachment.nsFile);
    await createNetns(attachment.nsFile);
    try {
      if (this.onBridge(ports, hostLoopback, ownUplink)) {
        try {
          attachment.bridgeIp = await this.bridge!.attach(attachment.nsFile);
        } catch (err) {
          // Once, in the daemon's log; from here on every container gets its own uplink.
          this.bridgeUnavailable = (err as Error).message;
          this.bridge = undefined;
          process.stderr.write(`${new Date().toISOString()} ${this.bridgeUnavailable}: each container gets its own uplink\n`);
          await startUplink(this.uplink, attachment.nsFile, ports, dir, hostLoopback);
        }
      } else {
        await startUplink(this.uplink, attachment.nsFile, ports, dir, hostLoopback);
      }
    } catch (err) {
      await removeNetns(attachment.nsFile);
      throw err;
    }
    return attachment;
  }

  private refill(): void {
    if (this.closed || this.spare) return;
    const dir = path.join(this.poolDir, randomBytes(6).toString('hex'));
    this.spare = this.prepare(dir, {}).then((a) => ({ ...a, ownDir: dir }), () => undefined);
  }

  /**
   * Publishes the ports of a namespace that has its place already (on a bridge, or a slirp4netns spare's;
   * a pasta spare takes no ports): roost-portfwd to the container's address there.
   */
  private async publish(nsFile: string, dir: string, ports: PublishedPorts, address: string): Promise<void> {
    const forwarded = forwardedPorts(ports);
    if (forwarded.length) await startPortForwarder(nsFile, forwarded, address, forwarderPidFile(dir));
  }

  /**
   * The way out of a namespace on user-defined networks (made by `attachIsolated`), through the shared
   * bridge's uplink: the default route through `gateway` (a bridge in the networks' namespace), and its
   * published ports forwarded to `address`, its address on that network.
   */
  async routeOut(nsFile: string, containerRunDir: string, gateway: string, address: string, ports: PublishedPorts): Promise<void> {
    await this.bridge!.ensure();
    await runCommand('nsenter', [`--net=${nsFile}`, '--', 'ip', 'route', 'replace', 'default', 'via', gateway]);
    await this.publish(nsFile, containerRunDir, ports, address);
  }

  /**
   * Before a namespace joins a user-defined network: the networks' namespace forwards for it (its rules are
   * current). Not fatal here: without the rules nothing is forwarded (forwarding is switched on after them),
   * an --internal network needs none, and `routeOut` reports the failure for a container that goes out.
   */
  async routeNetworks(): Promise<void> {
    await this.bridge?.ensure().catch(() => {});
  }

  /**
   * A namespace with its way out for a container; `record` is written to the container's run dir.
   * `hostLoopback`: the uplink's gateway must lead to the host's loopback (--add-host NAME:host-gateway).
   * `ownUplink`: never the shared bridge (a container on a user-defined network that cannot go out through
   * it: where there is no shared bridge, or with host-gateway, gets an uplink of its own).
   */
  async attach(containerRunDir: string, ports: PublishedPorts, opts: { hostLoopback?: boolean; ownUplink?: boolean } = {}): Promise<NetworkAttachment> {
    let attachment: NetworkAttachment | undefined;
    const sctp = portForwards(ports, 'sctp')[0];
    if (sctp) throw unavailable(`cannot publish ${sctp.hostIp}:${sctp.hostPort}/sctp: a rootless engine's forwarders carry TCP and UDP only`);
    const hasPorts = Object.keys(ports).length > 0;
    const hostLoopback = Boolean(opts.hostLoopback);
    const ownUplink = Boolean(opts.ownUplink);
    // A spare on the bridge fits a container that goes on the bridge; a slirp4netns spare keeps the host's
    // loopback closed; pasta's gateway always leads to the host, but pasta takes its ports when it starts.
    const spareFits = this.bridge ? this.onBridge(ports, hostLoopback, ownUplink) : this.uplink === 'pasta' ? !hasPorts : !hostLoopback;
    if (spareFits && this.spare) {
      attachment = await this.spare;
      this.spare = undefined;
      if (attachment && hasPorts) {
        try {
          await this.publish(attachment.nsFile, attachment.ownDir!, ports, attachment.bridgeIp ?? slirpGuestAddress);
        } catch (err) {
          await this.release(attachment);
          this.refill();
          throw err;
        }
      }
    }
    if (!attachment) {
      attachment = await this.prepare(containerRunDir, ports, hostLoopback, ownUplink);
      if (attachment.bridgeIp && hasPorts) {
        try {
          await this.publish(attachment.nsFile, containerRunDir, ports, attachment.bridgeIp);
        } catch (err) {
          await this.release(attachment);
          throw err;
        }
      }
    }
    fs.writeFileSync(path.join(containerRunDir, 'network.json'), JSON.stringify(attachment));
    this.refill();
    return attachment;
  }

  /** A namespace with no uplink (a user-defined network's container: it goes out through `routeOut`, or not at all on an --internal one). */
  async attachIsolated(containerRunDir: string): Promise<NetworkAttachment> {
    await fsp.mkdir(containerRunDir, { recursive: true, mode: 0o700 });
    const attachment = { nsFile: path.join(containerRunDir, 'netns'), uplinkPidFile: path.join(containerRunDir, 'uplink.pid') };
    await removeNetns(attachment.nsFile);
    await createNetns(attachment.nsFile);
    fs.writeFileSync(path.join(containerRunDir, 'network.json'), JSON.stringify(attachment));
    return attachment;
  }

  /** The attachment recorded for a container (also after a daemon restart). */
  recorded(containerRunDir: string): NetworkAttachment | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(containerRunDir, 'network.json'), 'utf8')) as NetworkAttachment;
    } catch {
      return undefined;
    }
  }

  async detach(containerRunDir: string): Promise<void> {
    const attachment = this.recorded(containerRunDir);
    if (!attachment) return;
    await this.release(attachment);
    fs.rmSync(path.join(containerRunDir, 'network.json'), { force: true });
  }

  private async release(attachment: NetworkAttachment): Promise<void> {
    stopUplink(attachment.uplinkPidFile);
    stopUplink(forwarderPidFile(path.dirname(attachment.nsFile)));
    // The namespace's end of the veth pair goes with it, and the bridge's end with that.
    await removeNetns(attachment.nsFile);
    if (attachment.bridgeIp) this.bridge?.release(attachment.bridgeIp);
    if (attachment.ownDir) await fsp.rm(attachment.ownDir, { recursive: true, force: true });
  }

  /** Daemon shutdown: the spare goes; containers keep theirs. */
  async close(): Promise<void> {
    this.closed = true;
    const spare = await this.spare;
    if (spare) await this.release(spare);
  }
}
