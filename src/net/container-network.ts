import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { forwarderPidFile } from './port-forwarder.js';
import { chooseUplink, createNetns, removeNetns, startUplink, stopUplink, type UplinkName } from './uplink.js';

/** Where a container's network namespace and its uplink's pid file are (recorded for cleanup). */
export interface NetworkAttachment {
  nsFile: string;
  uplinkPidFile: string;
  /** A directory to remove with the attachment (a pool entry's), if any. */
  ownDir?: string;
}

type PublishedPorts = Record<string, Array<{ HostIp: string; HostPort: string }>>;

/**
 * The default network's per-container namespaces and uplinks. Starting the uplink is most of a
 * container's start time, so one namespace with its uplink already running is kept ready: a container
 * takes it and the next one is prepared in the background. A slirp4netns spare also serves containers
 * with `-p` (TCP ports get a roost-portfwd, UDP ports go through slirp's API socket); a pasta spare only
 * those without (pasta takes its ports when it starts).
 */
export class ContainerNetworks {
  private readonly poolDir: string;
  private spare: Promise<NetworkAttachment | undefined> | undefined;
  private closed = false;
  /** Decided once per engine start, not looked up on every container start. */
  private readonly uplink: UplinkName = chooseUplink();

  constructor(runDir: string) {
    this.poolDir = path.join(runDir, 'netpool');
  }

  /** Removes spares left by a daemon that died; in-use entries are found through the containers' records. */
  async open(inUse: Set<string>): Promise<void> {
    await fsp.mkdir(this.poolDir, { recursive: true, mode: 0o700 });
    for (const name of await fsp.readdir(this.poolDir)) {
      const dir = path.join(this.poolDir, name);
      if (inUse.has(dir)) continue;
      await this.release({ nsFile: path.join(dir, 'netns'), uplinkPidFile: path.join(dir, 'uplink.pid'), ownDir: dir });
    }
  }

  private async prepare(dir: string, ports: PublishedPorts, hostLoopback = false): Promise<NetworkAttachment> {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const attachment = { nsFile: path.join(dir, 'netns'), uplinkPidFile: path.join(dir, 'uplink.pid') };
    await removeNetns(attachment.nsFile);
    await createNetns(attachment.nsFile);
    try {
      await startUplink(this.uplink, attachment.nsFile, ports, dir, hostLoopback);
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
   * A namespace with a running uplink for a container; `record` is written to the container's run dir.
   * `hostLoopback`: the uplink's gateway must lead to the host's loopback (--add-host NAME:host-gateway).
   */
  async attach(containerRunDir: string, ports: PublishedPorts, opts: { hostLoopback?: boolean } = {}): Promise<NetworkAttachment> {
    let attachment: NetworkAttachment | undefined;
    const hasPorts = Object.keys(ports).length > 0;
    // A slirp4netns spare keeps the host's loopback closed; pasta's gateway always leads to the host.
    const spareFits = this.uplink === 'pasta' ? !hasPorts : !opts.hostLoopback;
    if (spareFits && this.spare) {
      attachment = await this.spare;
      this.spare = undefined;
      if (attachment && hasPorts) {
        try {
          const { publishSlirpPorts } = await import('./slirp-uplink.js');
          await publishSlirpPorts(path.join(attachment.ownDir!, 'slirp.sock'), attachment.nsFile, ports);
        } catch (err) {
          await this.release(attachment);
          this.refill();
          throw err;
        }
      }
    }
    attachment ??= await this.prepare(containerRunDir, ports, opts.hostLoopback);
    fs.writeFileSync(path.join(containerRunDir, 'network.json'), JSON.stringify(attachment));
    this.refill();
    return attachment;
  }

  /** A namespace with no uplink (an --internal network's containers). */
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
    await removeNetns(attachment.nsFile);
    if (attachment.ownDir) await fsp.rm(attachment.ownDir, { recursive: true, force: true });
  }

  /** Daemon shutdown: the spare goes; containers keep theirs. */
  async close(): Promise<void> {
    this.closed = true;
    const spare = await this.spare;
    if (spare) await this.release(spare);
  }
}
