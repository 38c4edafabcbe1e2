import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readJsonIfExists, writeJsonAtomic } from '../fs/atomic.js';
import { EngineError, conflict, invalid } from '../util/errors.js';
import { isMountPoint, mount, unmount } from '../fs/mounter.js';
import type { EventBus } from './events.js';

/** A local volume as Docker's API shows it, plus whether Roost made it for one container (anonymous). */
export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
  /** Created for a `-v /path` or an image VOLUME; `rm -v` and `volume prune` remove these. */
  anonymous: boolean;
}

export const volumeNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const anonymousLabel = 'com.docker.volume.anonymous';

/**
 * Named and anonymous volumes of the local driver: a directory under the store (`volumes/<name>/_data`),
 * or with `--opt type=none,o=bind,device=DIR` a host directory, or with `--opt type=tmpfs` a tmpfs mounted
 * on the data directory when a container first uses it.
 */
export class VolumeService {
  private readonly root: string;
  private readonly volumes = new Map<string, VolumeRecord>();

  constructor(dataDir: string, private readonly events: EventBus) {
    this.root = path.join(dataDir, 'volumes');
  }

  async open(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const name of await fsp.readdir(this.root)) {
      const record = await readJsonIfExists<VolumeRecord>(path.join(this.root, name, 'volume.json'));
      // A directory without its record is a create that died half way.
      if (record) this.volumes.set(record.Name, record);
      else await fsp.rm(path.join(this.root, name), { recursive: true, force: true });
    }
  }

  list(): VolumeRecord[] {
    return [...this.volumes.values()];
  }

  get(name: string): VolumeRecord {
    const volume = this.volumes.get(name);
    if (!volume) throw new EngineError('not_found', `get ${name}: no such volume`);
    return volume;
  }

  has(name: string): boolean {
    return this.volumes.has(name);
  }

  private static checkOptions(options: Record<string, string>): void {
    for (const key of Object.keys(options)) {
      if (!['type', 'device', 'o'].includes(key)) throw invalid(`invalid option key: ${JSON.stringify(key)} (the local driver takes type, device, o)`);
    }
    const type = options.type;
    if (type === undefined) {
      if (options.device || options.o) throw invalid('device and o need type (type=none with o=bind, or type=tmpfs)');
      return;
    }
    if (type === 'tmpfs') {
      if (options.device && options.device !== 'tmpfs') throw invalid('a tmpfs volume takes no device');
      return;
    }
    if (type === 'none') {
      if (!(options.o ?? '').split(',').includes('bind')) throw invalid('type=none needs o=bind');
      if (!options.device || !path.isAbsolute(options.device)) throw invalid('o=bind needs an absolute device path');
      return;
    }
    throw invalid(`volume type ${JSON.stringify(type)} is not supported rootless (use none with o=bind, or tmpfs)`);
  }

  /** `volume create`; an existing volume of that name is returned as it is (as Docker does). */
  async create(opts: { name?: string; labels?: Record<string, string>; options?: Record<string, string>; anonymous?: boolean }): Promise<{ volume: VolumeRecord; created: boolean }> {
    const anonymous = Boolean(opts.anonymous) || !opts.name;
    const name = opts.name || randomBytes(32).toString('hex');
    if (!volumeNamePattern.test(name)) throw invalid(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
    const existing = this.volumes.get(name);
    if (existing) return { volume: existing, created: false };
    const options = opts.options ?? {};
    VolumeService.checkOptions(options);
    if (options.type === 'none' && !fs.existsSync(options.device!)) throw invalid(`failed to mount local volume: ${options.device}: no such file or directory`);
    const dir = path.join(this.root, name);
    const data = path.join(dir, '_data');
    await fsp.mkdir(data, { recursive: true, mode: 0o755 });
    const volume: VolumeRecord = {
      Name: name,
      Driver: 'local',
      Mountpoint: options.type === 'none' ? options.device! : data,
      CreatedAt: new Date().toISOString(),
      Labels: { ...(opts.labels ?? {}), ...(anonymous ? { [anonymousLabel]: '' } : {}) },
      Options: options,
      Scope: 'local',
      anonymous,
    };
    await writeJsonAtomic(path.join(dir, 'volume.json'), volume);
    this.volumes.set(name, volume);
    this.events.emit('volume', 'create', name, { driver: 'local' });
    return { volume, created: true };
  }

  /** Where a container mounts the volume from; a tmpfs volume gets its tmpfs on first use. */
  async prepare(volume: VolumeRecord): Promise<string> {
    if (volume.Options.type === 'tmpfs') {
      if (!isMountPoint(volume.Mountpoint)) {
        const o = volume.Options.o ? `,${volume.Options.o}` : '';
        await mount('tmpfs', 'tmpfs', volume.Mountpoint, `nosuid,nodev${o}`);
      }
    }
    return volume.Mountpoint;
  }

  /** True when the volume was never written: Docker copies the image's content into such a volume. */
  async isEmpty(volume: VolumeRecord): Promise<boolean> {
    return (await fsp.readdir(volume.Mountpoint).catch(() => [])).length === 0;
  }

  async remove(name: string, opts: { force: boolean; usedBy: string[] }): Promise<void> {
    const volume = this.volumes.get(name);
    if (!volume) {
      if (opts.force) return;
      throw new EngineError('not_found', `get ${name}: no such volume`);
    }
    if (opts.usedBy.length > 0) throw conflict(`remove ${name}: volume is in use - [${opts.usedBy.join(', ')}]`);
    const dir = path.join(this.root, name);
    if (volume.Options.type === 'tmpfs') await unmount(volume.Mountpoint, { lazy: true }).catch(() => {});
    // Drop the record first: a kill -9 during the delete leaves a directory that open() sweeps.
    await fsp.rm(path.join(dir, 'volume.json'), { force: true });
    this.volumes.delete(name);
    await fsp.rm(dir, { recursive: true, force: true });
    this.events.emit('volume', 'destroy', name, { driver: 'local' });
  }
}
