import path from 'node:path';
import { ContentStore } from '../fs/content-store.js';
import { readJsonIfExists, writeJsonAtomic } from '../fs/atomic.js';
import { EngineError, conflict } from '../util/errors.js';
import { normalizeName, parseReference, repositoryName } from './reference.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, ImageRecord } from './types.js';
import { mediaTypes } from './types.js';

const refAnnotation = 'org.opencontainers.image.ref.name';
/** Roost's own annotation on an image's descriptors: its recorded `repository@digest`s, as JSON. */
const repoDigestsAnnotation = 'io.github.roost.repo-digests';

/**
 * Images, kept in the OCI layout's index.json: one descriptor per (manifest, name), the name in the
 * standard ref.name annotation so skopeo/umoci find it; an untagged image keeps a descriptor without one.
 */
export class ImageStore {
  readonly content: ContentStore;
  private readonly indexFile: string;
  private images = new Map<string, ImageRecord>();

  constructor(content: ContentStore) {
    this.content = content;
    this.indexFile = path.join(content.root, 'index.json');
  }

  async open(): Promise<void> {
    const index = (await readJsonIfExists<ImageIndex>(this.indexFile)) ?? { schemaVersion: 2, manifests: [] };
    this.images.clear();
    for (const desc of index.manifests) {
      try {
        const record = await this.loadRecord(desc.digest);
        const existing = this.images.get(record.id) ?? record;
        const name = desc.annotations?.[refAnnotation];
        if (name && !existing.names.includes(name)) existing.names.push(name);
        const recorded = desc.annotations?.[repoDigestsAnnotation];
        if (recorded) existing.repoDigests = [...new Set([...existing.repoDigests ?? [], ...JSON.parse(recorded) as string[]])];
        this.images.set(record.id, existing);
      } catch {
        // A descriptor whose blobs are missing (interrupted write) is ignored and dropped on the next save.
      }
    }
  }

  private async loadRecord(manifestDigest: string): Promise<ImageRecord> {
    const manifest = await this.content.readJson<ImageManifest>(manifestDigest);
    const config = await this.content.readJson<ImageConfig>(manifest.config.digest);
    const size = manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
    return { id: manifest.config.digest, manifestDigest, manifest, config, names: [], size };
  }

  private async save(): Promise<void> {
    const manifests: Descriptor[] = [];
    for (const image of this.images.values()) {
      const base = { mediaType: mediaTypes.ociManifest, digest: image.manifestDigest, size: await this.content.size(image.manifestDigest) };
      const recorded = image.repoDigests?.length ? { [repoDigestsAnnotation]: JSON.stringify(image.repoDigests) } : undefined;
      if (image.names.length === 0) manifests.push(recorded ? { ...base, annotations: recorded } : base);
      for (const name of image.names) manifests.push({ ...base, annotations: { [refAnnotation]: name, ...recorded } });
    }
    await writeJsonAtomic(this.indexFile, { schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests });
  }

  list(): ImageRecord[] {
    return [...this.images.values()];
  }

  /**
   * Adds an image whose manifest, config and layers are in the content store; names move to it from older
   * images. `repoDigest`: the `repository@digest` a registry served it by (it replaces the one recorded for
   * that repository, on this image and any other).
   */
  async add(manifestDigest: string, names: string[], repoDigest?: string): Promise<ImageRecord> {
    const record = await this.loadRecord(manifestDigest);
    const existing = this.images.get(record.id);
    const image = existing ?? record;
    for (const name of names.map(normalizeName)) {
      this.untagEverywhere(name);
      if (!image.names.includes(name)) image.names.push(name);
    }
    if (repoDigest) this.noteRepoDigest(image, repoDigest);
    this.images.set(image.id, image);
    await this.save();
    return image;
  }

  /** Points an image at another manifest of the same config (a push's compressed layers); its names stay. */
  async setManifest(image: ImageRecord, manifestDigest: string): Promise<ImageRecord> {
    const record = await this.loadRecord(manifestDigest);
    if (record.id !== image.id) throw new EngineError('internal', `manifest ${manifestDigest} belongs to another image`);
    Object.assign(image, { manifestDigest, manifest: record.manifest, size: record.size });
    await this.save();
    return image;
  }

  /** Records the `repository@digest` a registry serves an image by (a pull's, a push's), for that repository alone. */
  async recordRepoDigest(image: ImageRecord, repoDigest: string): Promise<void> {
    this.noteRepoDigest(image, repoDigest);
    await this.save();
  }

  private noteRepoDigest(image: ImageRecord, repoDigest: string): void {
    const repository = repoDigest.slice(0, repoDigest.lastIndexOf('@') + 1);
    for (const other of this.images.values()) other.repoDigests = other.repoDigests?.filter((d) => !d.startsWith(repository));
    image.repoDigests = [...(image.repoDigests ?? []), repoDigest];
  }

  private untagEverywhere(name: string): void {
    for (const other of this.images.values()) other.names = other.names.filter((n) => n !== name);
  }

  /** Finds an image by name, full ID, `sha256:` ID or unique ID prefix. */
  resolve(text: string): ImageRecord {
    const id = text.startsWith('sha256:') ? text : `sha256:${text}`;
    const byId = this.images.get(id);
    if (byId) return byId;
    if (/^(sha256:)?[a-f0-9]{3,64}$/.test(text)) {
      const matches = [...this.images.values()].filter((image) => image.id.startsWith(id));
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new EngineError('invalid_argument', `image ID prefix ${text} is ambiguous`);
    }
    let name: string | undefined;
    try {
      const ref = parseReference(text);
      name = normalizeName(text);
      if (ref.digest) {
        const repoDigest = `${repositoryName(ref)}@${ref.digest}`;
        const byDigest = [...this.images.values()].find((image) => image.manifestDigest === ref.digest || image.repoDigests?.includes(repoDigest));
        if (byDigest) return byDigest;
      }
    } catch {
      name = undefined;
    }
    const byName = name === undefined ? undefined : [...this.images.values()].find((image) => image.names.includes(name!));
    if (byName) return byName;
    throw new EngineError('not_found', `No such image: ${text}`);
  }

  async tag(source: string, target: string): Promise<ImageRecord> {
    const image = this.resolve(source);
    const name = normalizeName(target);
    this.untagEverywhere(name);
    image.names.push(name);
    await this.save();
    return image;
  }

  /** Removes a name; returns true when it was the image's last name. */
  async untag(image: ImageRecord, name: string): Promise<void> {
    image.names = image.names.filter((n) => n !== name);
    await this.save();
  }

  /** Drops the image record; blobs are collected by the caller, which knows what is still referenced. */
  async delete(image: ImageRecord, force: boolean): Promise<void> {
    if (image.names.length > 1 && !force) {
      throw conflict(`unable to delete ${image.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
    }
    this.images.delete(image.id);
    await this.save();
  }

  /** Digests of every blob some image still references. */
  referencedBlobs(): Set<string> {
    const refs = new Set<string>();
    for (const image of this.images.values()) {
      refs.add(image.manifestDigest);
      refs.add(image.manifest.config.digest);
      for (const layer of image.manifest.layers) refs.add(layer.digest);
    }
    return refs;
  }
}
