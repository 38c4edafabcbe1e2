import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { runCommand } from '../util/exec.js';
import { applyLayer } from './layer-apply.js';

export type SnapshotterName = 'overlay' | 'fuse-overlayfs' | 'copy';

/**
 * Layers become read-only snapshots keyed by chain ID; a container gets a writable rootfs on top.
 * One interface for every driver (containerd's snapshotter idea): the engine never knows which runs.
 */
export interface Snapshotter {
  readonly name: SnapshotterName;
  /** Unpacks a layer on top of its parent chain, unless that snapshot already exists. Returns the diff ID. */
  ensureLayer(chainId: string, parentChainId: string | undefined, openLayer: () => Readable): Promise<{ diffId: string; skipped: string[] }>;
  hasLayer(chainId: string): boolean;
  listLayers(): Promise<string[]>;
  removeLayer(chainId: string): Promise<void>;
  /** Creates (or re-mounts after a restart) the container's writable rootfs; returns its path. */
  mountRootfs(containerDir: string, chainIds: string[]): Promise<string>;
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
}

async function isMountPoint(dir: string): Promise<boolean> {
  const mountinfo = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === dir);
}

/** Native overlayfs inside the user namespace (Linux ≥ 5.11): each layer its own lower dir. */
export class OverlaySnapshotter extends DirectorySnapshotter implements Snapshotter {
  readonly name: SnapshotterName = 'overlay';

  /** Mounts lower dirs (topmost first) under upper/work at `target`. */
  protected async mountOverlay(lower: string[], upper: string, work: string, target: string): Promise<void> {
    await runCommand('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work},userxattr`, target]);
  }

  async ensureLayer(chainId: string, _parent: string | undefined, openLayer: () => Readable) {
    const tmp = this.tempDir(chainId);
    await fsp.mkdir(tmp, { mode: 0o755 });
    try {
      const result = await applyLayer(openLayer(), tmp, { whiteouts: 'overlay', ownership: true });
      if (this.hasLayer(chainId)) await fsp.rm(tmp, { recursive: true, force: true });
      else await fsp.rename(tmp, this.layerDir(chainId));
      return result;
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  changesDir(containerDir: string): string {
    return path.join(containerDir, 'upper');
  }

  async mountRootfs(containerDir: string, chainIds: string[]): Promise<string> {
    const rootfs = path.join(containerDir, 'rootfs');
    const upper = this.changesDir(containerDir);
    const work = path.join(containerDir, 'work');
    for (const dir of [rootfs, upper, work]) await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
    if (await isMountPoint(rootfs)) return rootfs;
    // overlay wants the topmost lower layer first.
    const lower = chainIds.map((id) => this.layerDir(id)).reverse();
    if (lower.length === 0) {
      const empty = path.join(containerDir, 'empty');
      await fsp.mkdir(empty, { recursive: true });
      lower.push(empty);
    }
    await this.mountOverlay(lower, upper, work, rootfs);
    return rootfs;
  }

  async unmountRootfs(containerDir: string): Promise<void> {
    const rootfs = path.join(containerDir, 'rootfs');
    if (await isMountPoint(rootfs)) await runCommand('umount', ['-l', rootfs]);
  }

  /** Mounts a tiny overlay to learn whether the kernel allows it here. */
  static async probe(scratch: string): Promise<string | undefined> {
    const dirs = ['lower', 'upper', 'work', 'merged'].map((d) => path.join(scratch, d));
    try {
      for (const dir of dirs) await fsp.mkdir(dir, { recursive: true });
      await runCommand('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${dirs[0]},upperdir=${dirs[1]},workdir=${dirs[2]},userxattr`, dirs[3]!]);
      await runCommand('umount', [dirs[3]!]);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await fsp.rm(scratch, { recursive: true, force: true });
    }
  }
}

/**
 * fuse-overlayfs, where the kernel refuses overlay in a user namespace: the same layer layout (whiteouts as
 * 0/0 devices, user.overlay.opaque), mounted in user space.
 */
export class FuseOverlaySnapshotter extends OverlaySnapshotter {
  override readonly name: SnapshotterName = 'fuse-overlayfs';

  protected override async mountOverlay(lower: string[], upper: string, work: string, target: string): Promise<void> {
    await runCommand('fuse-overlayfs', ['-o', `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`, target]);
  }

  static async probeFuse(scratch: string): Promise<string | undefined> {
    const dirs = ['lower', 'upper', 'work', 'merged'].map((d) => path.join(scratch, d));
    try {
      for (const dir of dirs) await fsp.mkdir(dir, { recursive: true });
      await runCommand('fuse-overlayfs', ['-o', `lowerdir=${dirs[0]},upperdir=${dirs[1]},workdir=${dirs[2]}`, dirs[3]!]);
      await runCommand('umount', [dirs[3]!]);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await fsp.rm(scratch, { recursive: true, force: true });
    }
  }
}

/** Works everywhere: each snapshot is a full copy of its parent plus the layer; a rootfs is a full copy. */
export class CopySnapshotter extends DirectorySnapshotter implements Snapshotter {
  readonly name = 'copy' as const;

  async ensureLayer(chainId: string, parent: string | undefined, openLayer: () => Readable) {
    const tmp = this.tempDir(chainId);
    try {
      if (parent) await runCommand('cp', ['-a', '--reflink=auto', this.layerDir(parent), tmp]);
      else await fsp.mkdir(tmp, { mode: 0o755 });
      const result = await applyLayer(openLayer(), tmp, { whiteouts: 'delete', ownership: true });
      if (this.hasLayer(chainId)) await fsp.rm(tmp, { recursive: true, force: true });
      else await fsp.rename(tmp, this.layerDir(chainId));
      return result;
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  changesDir(containerDir: string): string {
    return path.join(containerDir, 'rootfs');
  }

  async mountRootfs(containerDir: string, chainIds: string[]): Promise<string> {
    const rootfs = path.join(containerDir, 'rootfs');
    if (fs.existsSync(rootfs)) return rootfs;
    const top = chainIds.at(-1);
    const tmp = `${rootfs}.tmp-${randomBytes(4).toString('hex')}`;
    if (top) await runCommand('cp', ['-a', '--reflink=auto', this.layerDir(top), tmp]);
    else await fsp.mkdir(tmp, { mode: 0o755 });
    await fsp.rename(tmp, rootfs);
    return rootfs;
  }

  async unmountRootfs(): Promise<void> {}
}
