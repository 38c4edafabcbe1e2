import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { runCommand } from '../util/exec.js';
import { isMountPoint, mount, unmount } from './mounter.js';
import { EngineError } from '../util/errors.js';
import { applyLayer } from './layer-apply.js';
import { shiftOwners } from './shift-owners.js';

export type SnapshotterName = 'overlay' | 'fuse-overlayfs' | 'copy';

/** One range of an OCI id mapping: container ids from containerID on are hostID on, for size ids. */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface UnpackOptions {
  /** Called as the layer's uncompressed bytes are applied, with the count so far (pull's Extracting). */
  onBytes?: (applied: number) => void;
}

export interface RootfsOptions {
  /**
   * The container runs in a user namespace of its own with these mappings (--userns=keep-id). Layer files
   * are stored with the ids the image gives them, so the rootfs presents each stored id through the mapping,
   * and the container sees the image's owners again (its writes are stored the other way back).
   */
  idMappings?: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
}

/**
 * Layers become read-only snapshots keyed by chain ID; a container gets a writable rootfs on top.
 * One interface for every driver (containerd's snapshotter idea): the engine never knows which runs.
 */
export interface Snapshotter {
  readonly name: SnapshotterName;
  /** Creates the snapshot root and sweeps what an interrupted unpack left. */
  open(): Promise<void>;
  /** Unpacks a layer on top of its parent chain, unless that snapshot already exists. Returns the diff ID. */
  ensureLayer(chainId: string, parentChainId: string | undefined, openLayer: () => Readable, opts?: UnpackOptions): Promise<{ diffId: string; skipped: string[] }>;
  hasLayer(chainId: string): boolean;
  listLayers(): Promise<string[]>;
  removeLayer(chainId: string): Promise<void>;
  /** Creates (or re-mounts after a restart) the container's writable rootfs; returns its path. */
  mountRootfs(containerDir: string, chainIds: string[], opts?: RootfsOptions): Promise<string>;
  unmountRootfs(containerDir: string): Promise<void>;
  /** Directory holding the container's changes (the overlay upper dir, or the whole copy). */
  changesDir(containerDir: string): string;
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');

abstract class DirectorySnapshotter {
  protected readonly root: string;
  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'snapshots');
  }

  async open(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
    // An unpack interrupted by kill -9 leaves only a temp dir, never a half snapshot under its real name.
    for (const name of await fsp.readdir(this.root)) {
      if (name.includes('.tmp-')) await fsp.rm(path.join(this.root, name), { recursive: true, force: true });
    }
  }

  layerDir(chainId: string): string {
    return path.join(this.root, hex(chainId));
  }

  hasLayer(chainId: string): boolean {
    return fs.existsSync(this.layerDir(chainId));
  }

  async listLayers(): Promise<string[]> {
    const names = await fsp.readdir(this.root).catch(() => [] as string[]);
    return names.filter((name) => /^[a-f0-9]{64}$/.test(name)).map((name) => `sha256:${name}`);
  }

  async removeLayer(chainId: string): Promise<void> {
    await fsp.rm(this.layerDir(chainId), { recursive: true, force: true });
  }

  protected tempDir(chainId: string): string {
    return `${this.layerDir(chainId)}.tmp-${randomBytes(4).toString('hex')}`;
  }

  /** Unpacks into a temp dir (seeded by `seed`) and renames it into place: never half a snapshot. */
  protected async unpack(chainId: string, seed: (tmp: string) => Promise<void>, openLayer: () => Readable, whiteouts: 'overlay' | 'delete', opts: UnpackOptions = {}) {
    const tmp = this.tempDir(chainId);
    try {
      await seed(tmp);
      const result = await applyLayer(openLayer(), tmp, { whiteouts, ownership: true, onBytes: opts.onBytes });
      if (this.hasLayer(chainId)) await fsp.rm(tmp, { recursive: true, force: true });
      else await fsp.rename(tmp, this.layerDir(chainId));
      return result;
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }
}

/** Mounts a tiny overlay with `mount` to learn whether it works here; returns why not, or undefined. */
async function probeMount(scratch: string, mount: (lower: string, upper: string, work: string, target: string) => Promise<void>): Promise<string | undefined> {
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => path.join(scratch, d)) as [string, string, string, string];
  try {
    for (const dir of [lower, upper, work, merged]) await fsp.mkdir(dir, { recursive: true });
    await mount(lower, upper, work, merged);
    await unmount(merged);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
}

/** Native overlayfs inside the user namespace (Linux ≥ 5.11): each layer its own lower dir. */
export class OverlaySnapshotter extends DirectorySnapshotter implements Snapshotter {
  readonly name: SnapshotterName = 'overlay';

  /** Mounts lower dirs (topmost first) under upper/work at `target`. */
  protected async mountOverlay(lower: string[], upper: string, work: string, target: string): Promise<void> {
    await mount('overlay', 'overlay', target, `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work},userxattr`);
  }

  async ensureLayer(chainId: string, _parent: string | undefined, openLayer: () => Readable, opts?: UnpackOptions) {
    return this.unpack(chainId, (tmp) => fsp.mkdir(tmp, { mode: 0o755 }).then(() => {}), openLayer, 'overlay', opts);
  }

  changesDir(containerDir: string): string {
    return path.join(containerDir, 'upper');
  }

  async mountRootfs(containerDir: string, chainIds: string[], opts: RootfsOptions = {}): Promise<string> {
    const rootfs = path.join(containerDir, 'rootfs');
    const upper = this.changesDir(containerDir);
    const work = path.join(containerDir, 'work');
    for (const dir of [rootfs, upper, work]) fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (isMountPoint(rootfs)) return rootfs;
    // overlay wants the topmost lower layer first.
    const lower = chainIds.map((id) => this.layerDir(id)).reverse();
    if (lower.length === 0) {
      const empty = path.join(containerDir, 'empty');
      await fsp.mkdir(empty, { recursive: true });
      lower.push(empty);
    }
    // Kernel overlay cannot shift ids (an idmapped mount needs privileges over the filesystem below), so a
    // mapped rootfs is always a fuse-overlayfs one, over the same layer layout.
    if (opts.idMappings && opts.idMappings.uidMappings.length > 1) await mountFuseOverlay(lower, upper, work, rootfs, opts.idMappings);
    else await this.mountOverlay(lower, upper, work, rootfs);
    return rootfs;
  }

  async unmountRootfs(containerDir: string): Promise<void> {
    const rootfs = path.join(containerDir, 'rootfs');
    if (isMountPoint(rootfs)) await unmount(rootfs, { lazy: true });
  }

  /** Whether the kernel allows overlay in this user namespace; returns why not, or undefined. */
  static probe(scratch: string): Promise<string | undefined> {
    return probeMount(scratch, (lower, upper, work, target) => new OverlaySnapshotter('').mountOverlay([lower], upper, work, target));
  }
}

/** fuse-overlayfs' uidmapping/gidmapping value: the OCI triplets, all joined by colons. */
const fuseMapping = (maps: IdMapping[]) => maps.map((m) => `${m.containerID}:${m.hostID}:${m.size}`).join(':');

/**
 * Mounts with fuse-overlayfs; with mappings, a stored id X is presented as the mapping's host id for container
 * id X, and an id written through the mount is stored as the container id it maps back to.
 */
async function mountFuseOverlay(lower: string[], upper: string, work: string, target: string, idMappings?: RootfsOptions['idMappings']): Promise<void> {
  const mapping = idMappings ? `,uidmapping=${fuseMapping(idMappings.uidMappings)},gidmapping=${fuseMapping(idMappings.gidMappings)}` : '';
  try {
    await runCommand('fuse-overlayfs', ['-o', `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}${mapping}`, target]);
  } catch (err) {
    if (!idMappings) throw err;
    throw new EngineError('unavailable', `cannot mount the container's files with its id mapping: ${(err as Error).message}`, {
      hint: '--userns=keep-id shows image files with their owners through fuse-overlayfs: install it (package fuse-overlayfs) and make sure /dev/fuse can be opened',
      cause: err,
    });
  }
}

/**
 * fuse-overlayfs, where the kernel refuses overlay in a user namespace: the same layer layout (whiteouts as
 * 0/0 devices, user.overlay.opaque), mounted in user space.
 */
export class FuseOverlaySnapshotter extends OverlaySnapshotter {
  override readonly name: SnapshotterName = 'fuse-overlayfs';

  protected override async mountOverlay(lower: string[], upper: string, work: string, target: string): Promise<void> {
    await mountFuseOverlay(lower, upper, work, target);
  }

  static probeFuse(scratch: string): Promise<string | undefined> {
    return probeMount(scratch, (lower, upper, work, target) => new FuseOverlaySnapshotter('').mountOverlay([lower], upper, work, target));
  }
}

/** Works everywhere: each snapshot is a full copy of its parent plus the layer; a rootfs is a full copy. */
export class CopySnapshotter extends DirectorySnapshotter implements Snapshotter {
  readonly name = 'copy' as const;

  async ensureLayer(chainId: string, parent: string | undefined, openLayer: () => Readable, opts?: UnpackOptions) {
    const seed = async (tmp: string) => {
      if (parent) await runCommand('cp', ['-a', '--reflink=auto', this.layerDir(parent), tmp]);
      else await fsp.mkdir(tmp, { mode: 0o755 });
    };
    return this.unpack(chainId, seed, openLayer, 'delete', opts);
  }

  changesDir(containerDir: string): string {
    return path.join(containerDir, 'rootfs');
  }

  async mountRootfs(containerDir: string, chainIds: string[], opts: RootfsOptions = {}): Promise<string> {
    const rootfs = path.join(containerDir, 'rootfs');
    if (fs.existsSync(rootfs)) return rootfs;
    const top = chainIds.at(-1);
    const tmp = `${rootfs}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      if (top) await runCommand('cp', ['-a', '--reflink=auto', this.layerDir(top), tmp]);
      else await fsp.mkdir(tmp, { mode: 0o755 });
      // The copy is the container's own: a mapped one gets its owners shifted once, before it is in place.
      if (opts.idMappings && opts.idMappings.uidMappings.length > 1) await shiftOwners(tmp, opts.idMappings);
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
    await fsp.rename(tmp, rootfs);
    return rootfs;
  }

  async unmountRootfs(): Promise<void> {}
}
