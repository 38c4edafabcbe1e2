import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { sha256Digest, type ContentStore } from '../fs/content-store.js';
import type { Snapshotter } from '../fs/snapshotter.js';
import type { ImageStore } from '../image/image-store.js';
import { chainIds } from '../image/chain.js';
import { readArchivedConfig, stageArchive, stagedFile } from '../image/archive-load.js';
import { familiar, normalizeName } from '../image/reference.js';
import type { HistoryEntry, ImageConfig, ImageManifest, ImageRecord } from '../image/types.js';
import { mediaTypes } from '../image/types.js';
import { conflict, invalid, unavailable } from '../util/errors.js';
import { applyChanges } from '../image/changes.js';
import { tracer } from '../util/trace.js';
import { packOverlayChanges } from '../fs/layer-pack.js';
import type { EventBus } from './events.js';

function isGzipFile(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    fs.readSync(fd, head, 0, 2, 0);
    return head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}

/** Images: load, save, tag, remove, and unpacking them into snapshots. */
export class ImageService {
  constructor(
    private readonly content: ContentStore,
    private readonly store: ImageStore,
    private readonly snapshotter: Snapshotter,
    private readonly events: EventBus,
    private readonly scratchDir: string,
  ) {}

  list(): ImageRecord[] {
    return this.store.list();
  }

  resolve(text: string): ImageRecord {
    return this.store.resolve(text);
  }

  chainIdsOf(image: ImageRecord): string[] {
    return chainIds(image.config.rootfs.diff_ids);
  }

  /** Loads a docker-archive or OCI archive. Nothing is registered unless every layer unpacked and verified. */
  async load(source: Readable): Promise<string[]> {
    const staged = await stageArchive(source, this.scratchDir);
    const loaded: string[] = [];
    try {
      for (const archived of staged.images) {
        const config = await readArchivedConfig(staged, archived);
        const configFile = stagedFile(staged, archived.configFile);
        const chains = chainIds(config.rootfs.diff_ids);
        const layers = [];
        // A staged file moves into the content store once adopted; a second use reads it from there.
        const current = (file: { tmpPath: string; digest: string }) => (fs.existsSync(file.tmpPath) ? file.tmpPath : this.content.blobPath(file.digest));
        for (const [i, layerName] of archived.layerFiles.entries()) {
          const layerFile = stagedFile(staged, layerName);
          const expectedDiffId = config.rootfs.diff_ids[i]!;
          if (!this.snapshotter.hasLayer(chains[i]!)) {
            const { diffId } = await this.snapshotter.ensureLayer(chains[i]!, chains[i - 1], () => fs.createReadStream(current(layerFile)));
            if (diffId !== expectedDiffId) {
              await this.snapshotter.removeLayer(chains[i]!);
              throw invalid(`layer ${i + 1} does not match the image config: diff ID ${diffId}, expected ${expectedDiffId}`);
            }
          }
          const gzip = isGzipFile(current(layerFile));
          await this.content.adopt(layerFile.tmpPath, layerFile.digest);
          layers.push({ mediaType: gzip ? mediaTypes.ociLayerGzip : mediaTypes.ociLayer, digest: layerFile.digest, size: layerFile.size });
        }
        await this.content.adopt(configFile.tmpPath, configFile.digest);
        const manifest: ImageManifest = {
          schemaVersion: 2,
          mediaType: mediaTypes.ociManifest,
          config: { mediaType: mediaTypes.ociConfig, digest: configFile.digest, size: configFile.size },
          layers,
        };
        const { digest } = await this.content.putBuffer(JSON.stringify(manifest));
        const names = archived.names.map(normalizeName);
        const image = await this.store.add(digest, names);
        for (const name of names) this.events.emit('image', 'load', image.id, { name: familiar(name) });
        if (names.length === 0) loaded.push(`Loaded image ID: ${image.id}`);
        for (const name of names) loaded.push(`Loaded image: ${familiar(name)}`);
      }
    } finally {
      await staged.cleanup();
    }
    return loaded;
  }

  /** Imports a root filesystem tarball as a one-layer image (`roost import`). */
  async importRootfs(source: Readable, name: string | undefined, defaults: ImageConfig['config'] = {}, message?: string): Promise<ImageRecord> {
    const tmpFile = path.join(this.scratchDir, `import-${process.hrtime.bigint()}`);
    await fsp.mkdir(this.scratchDir, { recursive: true });
    try {
      await pipeline(source, fs.createWriteStream(tmpFile, { mode: 0o600 }));
      const blob = await this.content.putStream(fs.createReadStream(tmpFile));
      const provisional = `sha256:${'0'.repeat(64)}`;
      const { diffId } = await this.snapshotter.ensureLayer(provisional, undefined, () => fs.createReadStream(tmpFile));
      await this.snapshotter.removeLayer(provisional);
      await this.snapshotter.ensureLayer(diffId, undefined, () => fs.createReadStream(tmpFile));
      const config: ImageConfig = {
        architecture: process.arch === 'x64' ? 'amd64' : process.arch,
        os: 'linux',
        created: new Date().toISOString(),
        config: defaults,
        rootfs: { type: 'layers', diff_ids: [diffId] },
        history: [{ created: new Date().toISOString(), created_by: 'roost import', ...(message ? { comment: message } : {}) }],
      };
      const configBlob = await this.content.putBuffer(JSON.stringify(config));
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: mediaTypes.ociManifest,
        config: { mediaType: mediaTypes.ociConfig, ...configBlob },
        layers: [{ mediaType: isGzipFile(tmpFile) ? mediaTypes.ociLayerGzip : mediaTypes.ociLayer, ...blob }],
      };
      const { digest } = await this.content.putBuffer(JSON.stringify(manifest));
      const image = await this.store.add(digest, name ? [name] : []);
      this.events.emit('image', 'import', image.id, name ? { name: familiar(name) } : {});
      return image;
    } finally {
      await fsp.rm(tmpFile, { force: true });
    }
  }

  /**
   * `commit`: the container's changes (its overlay upper dir) become one more layer on its image, with the
   * container's config (and any --change) as the new image's defaults.
   */
  async commit(input: {
    imageId: string; changesDir: string; driver: string; containerConfig: ImageConfig['config']; createdBy: string;
    name?: string; comment?: string; author?: string; changes: string[];
    /** History entries to add before this layer's own (a build's config-only steps). */
    historyBefore?: HistoryEntry[];
  }): Promise<ImageRecord> {
    if (input.driver === 'copy') throw unavailable('commit needs the overlay or fuse-overlayfs storage driver (the copy driver keeps no change list yet)');
    const parent = this.store.resolve(input.imageId);
    const defaults = applyChanges(input.containerConfig ?? {}, input.changes);
    await fsp.mkdir(this.scratchDir, { recursive: true });
    const tmpFile = path.join(this.scratchDir, `commit-${process.hrtime.bigint()}`);
    const trace = tracer('commit');
    try {
      await packOverlayChanges(input.changesDir, fs.createWriteStream(tmpFile, { mode: 0o600 }));
      trace('packed');
      const blob = await this.content.putStream(fs.createReadStream(tmpFile));
      trace('stored');
      const diffIds = [...parent.config.rootfs.diff_ids, blob.digest];
      const chains = chainIds(diffIds);
      const { diffId } = await this.snapshotter.ensureLayer(chains.at(-1)!, chains.at(-2), () => fs.createReadStream(tmpFile));
      if (diffId !== blob.digest) throw new Error(`the committed layer changed while it was read (${diffId} != ${blob.digest})`);
      trace('unpacked');
      const created = new Date().toISOString();
      const history = [...(parent.config.history ?? []), ...(input.historyBefore ?? []), { created, created_by: input.createdBy, ...(input.comment ? { comment: input.comment } : {}), ...(input.author ? { author: input.author } : {}) }];
      return await this.addLayerImage(parent, { mediaType: mediaTypes.ociLayer, ...blob }, blob.digest, { created, author: input.author, defaults, history, name: input.name });
    } finally {
      await fsp.rm(tmpFile, { force: true });
    }
  }

  /**
   * The image a commit made, made again from an image that has its layer (a build's `--cache-from`): the
   * parent's layers plus `donor`'s next one, with the given defaults and history (the donor's own entries,
   * times included), so the same inputs give the same ID the commit gave.
   */
  async restoreLayer(input: { parentId: string; donorId: string; defaults: ImageConfig['config']; history: HistoryEntry[] }): Promise<ImageRecord> {
    const parent = this.store.resolve(input.parentId);
    const donor = this.store.resolve(input.donorId);
    const at = parent.config.rootfs.diff_ids.length;
    const diffId = donor.config.rootfs.diff_ids[at];
    const layer = donor.manifest.layers[at];
    if (!diffId || !layer || !this.snapshotter.hasLayer(chainIds(donor.config.rootfs.diff_ids)[at]!)) throw invalid(`image ${donor.id} has no layer ${at + 1} to reuse`);
    const created = input.history.at(-1)?.created ?? new Date().toISOString();
    return this.addLayerImage(parent, layer, diffId, { created, defaults: applyChanges(input.defaults ?? {}, []), history: input.history });
  }

  /** Config and manifest of `parent` plus one layer (unpacked already), added to the store. */
  private async addLayerImage(parent: ImageRecord, layer: ImageManifest['layers'][number], diffId: string, fields: {
    created: string; author?: string; defaults: ImageConfig['config']; history: HistoryEntry[]; name?: string;
  }): Promise<ImageRecord> {
    const config: ImageConfig = {
      ...parent.config,
      created: fields.created,
      author: fields.author ?? parent.config.author,
      config: fields.defaults,
      rootfs: { type: 'layers', diff_ids: [...parent.config.rootfs.diff_ids, diffId] },
      history: fields.history,
    };
    const configBlob = await this.content.putBuffer(JSON.stringify(config));
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: mediaTypes.ociConfig, ...configBlob },
      layers: [...parent.manifest.layers, layer],
    };
    const { digest } = await this.content.putBuffer(JSON.stringify(manifest));
    return this.store.add(digest, fields.name ? [fields.name] : []);
  }

  /** The empty image `FROM scratch` starts from: no layers, no config (stored untagged). */
  async scratch(): Promise<ImageRecord> {
    const config: ImageConfig = { architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
    const configBlob = await this.content.putBuffer(JSON.stringify(config));
    const manifest: ImageManifest = { schemaVersion: 2, mediaType: mediaTypes.ociManifest, config: { mediaType: mediaTypes.ociConfig, ...configBlob }, layers: [] };
    const { digest } = await this.content.putBuffer(JSON.stringify(manifest));
    return this.store.add(digest, []);
  }

  /** An image with the parent's layers and a new config (a build's steps that add no layer). */
  async deriveConfig(parentId: string, defaults: ImageConfig['config'], history: HistoryEntry[], name?: string): Promise<ImageRecord> {
    const parent = this.store.resolve(parentId);
    const config: ImageConfig = { ...parent.config, created: new Date().toISOString(), config: defaults, history: [...(parent.config.history ?? []), ...history] };
    const configBlob = await this.content.putBuffer(JSON.stringify(config));
    const manifest: ImageManifest = { ...parent.manifest, config: { mediaType: mediaTypes.ociConfig, ...configBlob } };
    const { digest } = await this.content.putBuffer(JSON.stringify(manifest));
    return this.store.add(digest, name ? [name] : []);
  }

  /** Writes a docker-archive that is also an OCI layout (as Docker 25+ does), layers uncompressed. */
  async save(names: string[], out: NodeJS.WritableStream): Promise<void> {
    const images = names.map((n) => ({ image: this.store.resolve(n), name: n }));
    const pack = tar.pack();
    const piped = pipeline(pack, out as NodeJS.WritableStream & import('node:stream').Writable);
    const written = new Set<string>();
    const addEntry = async (name: string, data: Buffer) => {
      if (written.has(name)) return;
      written.add(name);
      await new Promise<void>((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o644 }, data, (err) => (err ? reject(err) : resolve())));
    };
    const addFileEntry = async (name: string, file: string, size: number) => {
      if (written.has(name)) return;
      written.add(name);
      const entry = pack.entry({ name, size, mode: 0o644 });
      await pipeline(fs.createReadStream(file), entry);
    };
    const dockerManifest = [];
    const ociManifests = [];
    await addEntry('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    for (const { image, name } of images) {
      const configHex = image.id.slice(7);
      await addEntry(`blobs/sha256/${configHex}`, await this.content.readBuffer(image.id));
      const layerNames = [];
      const ociLayers = [];
      for (const [i, layer] of image.manifest.layers.entries()) {
        const diffId = image.config.rootfs.diff_ids[i]!;
        const entryName = `blobs/sha256/${diffId.slice(7)}`;
        layerNames.push(entryName);
        if (layer.mediaType.endsWith('gzip')) {
          const tmp = path.join(this.scratchDir, `save-${diffId.slice(7, 19)}-${process.pid}`);
          await fsp.mkdir(this.scratchDir, { recursive: true });
          await pipeline(this.content.openRead(layer.digest), zlib.createGunzip(), fs.createWriteStream(tmp));
          const size = (await fsp.stat(tmp)).size;
          await addFileEntry(entryName, tmp, size);
          await fsp.rm(tmp, { force: true });
          ociLayers.push({ mediaType: mediaTypes.ociLayer, digest: diffId, size });
        } else {
          await addFileEntry(entryName, this.content.blobPath(layer.digest), layer.size);
          ociLayers.push({ mediaType: mediaTypes.ociLayer, digest: diffId, size: layer.size });
        }
      }
      const isName = !/^(sha256:)?[a-f0-9]{3,64}$/.test(name) || image.names.some((n) => n === normalizeName(name));
      const repoTags = isName ? [familiar(name)] : image.names.map(familiar);
      dockerManifest.push({ Config: `blobs/sha256/${configHex}`, RepoTags: repoTags, Layers: layerNames });
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: mediaTypes.ociManifest,
        config: { mediaType: mediaTypes.ociConfig, digest: image.id, size: image.manifest.config.size },
        layers: ociLayers,
      }));
      const manifestDigest = sha256Digest(manifest);
      await addEntry(`blobs/sha256/${manifestDigest.slice(7)}`, manifest);
      for (const tag of repoTags.length ? repoTags : [undefined]) {
        ociManifests.push({
          mediaType: mediaTypes.ociManifest, digest: manifestDigest, size: manifest.length,
          annotations: tag ? { 'io.containerd.image.name': normalizeName(tag), 'org.opencontainers.image.ref.name': normalizeName(tag) } : undefined,
        });
      }
    }
    await addEntry('manifest.json', Buffer.from(JSON.stringify(dockerManifest)));
    await addEntry('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: ociManifests })));
    pack.finalize();
    await piped;
  }

  async tag(source: string, target: string): Promise<void> {
    const image = await this.store.tag(source, target);
    this.events.emit('image', 'tag', image.id, { name: familiar(target) });
  }

  /**
   * `rmi`: removes a name, or the whole image when it was its last name or an ID was given.
   * `inUse` says whether a container uses the image (Docker refuses without force).
   */
  async remove(text: string, opts: { force: boolean; inUse: (imageId: string) => boolean }): Promise<Array<{ Untagged?: string; Deleted?: string }>> {
    const image = this.store.resolve(text);
    const report: Array<{ Untagged?: string; Deleted?: string }> = [];
    const byId = /^(sha256:)?[a-f0-9]{3,64}$/.test(text) && !image.names.includes(safeNormalize(text));
    if (!byId && image.names.length > 1) {
      const name = normalizeName(text);
      await this.store.untag(image, name);
      this.events.emit('image', 'untag', image.id, { name: familiar(name) });
      return [{ Untagged: familiar(name) }];
    }
    if (opts.inUse(image.id)) {
      if (!opts.force) throw conflict(`unable to delete ${image.id.slice(7, 19)} (must be forced) - image is being used by a container`);
      // Forced while a container uses it: Docker drops the names and keeps the layers the container stands on.
      for (const name of [...image.names]) {
        await this.store.untag(image, name);
        this.events.emit('image', 'untag', image.id, { name: familiar(name) });
        report.push({ Untagged: familiar(name) });
      }
      return report;
    }
    for (const name of image.names) report.push({ Untagged: familiar(name) });
    await this.store.delete(image, true);
    for (const name of image.names) this.events.emit('image', 'untag', image.id, { name: familiar(name) });
    await this.collectGarbage();
    report.push({ Deleted: image.id });
    this.events.emit('image', 'delete', image.id, {});
    return report;
  }

  /** Removes blobs and snapshots no image references any more. */
  async collectGarbage(keepChains: Set<string> = new Set()): Promise<void> {
    const referenced = this.store.referencedBlobs();
    for (const digest of await this.content.listDigests()) {
      if (!referenced.has(digest)) await this.content.remove(digest);
    }
    const liveChains = new Set(keepChains);
    for (const image of this.store.list()) for (const chain of this.chainIdsOf(image)) liveChains.add(chain);
    for (const chainId of await this.snapshotter.listLayers()) {
      if (!liveChains.has(chainId)) await this.snapshotter.removeLayer(chainId);
    }
  }
}

function safeNormalize(text: string): string {
  try {
    return normalizeName(text);
  } catch {
    return text;
  }
}
