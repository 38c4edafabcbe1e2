import { PassThrough } from 'node:stream';
import type { ContentStore } from '../fs/content-store.js';
import type { Snapshotter } from '../fs/snapshotter.js';
import { chainIds } from '../image/chain.js';
import type { ImageStore } from '../image/image-store.js';
import { familiarName, fullName, parseReference, repositoryName, type ImageReference } from '../image/reference.js';
import type { ImageConfig, ImageRecord } from '../image/types.js';
import { listTags } from '../registry/tags.js';
import { blobStream } from '../registry/blob-stream.js';
import { fetchManifest, type FetchedManifest, type Platform } from '../registry/manifests.js';
import type { Credentials, RegistryClient } from '../registry/registry-client.js';
import type { Registries } from '../registry/registries.js';
import { EngineError } from '../util/errors.js';
import { tracer } from '../util/trace.js';
import { bounded } from '../util/bounded.js';
import type { EventBus } from './events.js';
import { LayerProgress, type ProgressSink } from './pull-progress.js';

export type { ProgressMessage, ProgressSink } from './pull-progress.js';

/** Layers fetched and unpacked at once (ROOST_PULL_LAYERS sets it; 1 is one layer at a time). */
function parallelLayers(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.ROOST_PULL_LAYERS);
  return Number.isInteger(value) && value > 0 ? value : 3;
}


/**
 * Pulls an image: the manifest (for the host's platform), the config, then each missing layer streamed
 * once through digest check, decompression and unpacking into its snapshot, several layers at a time.
 * A layer counts only once its digest and its diff ID matched; the image is recorded only when every
 * layer is in place, so a failed pull leaves no image (finished layers stay for the next try).
 */
export class ImagePuller {
  constructor(
    private readonly content: ContentStore,
    private readonly store: ImageStore,
    private readonly snapshotter: Snapshotter,
    private readonly events: EventBus,
    private readonly registries: Registries,
  ) {}

  async pull(name: string, opts: { credentials?: Credentials; platform?: Platform; progress?: ProgressSink } = {}): Promise<ImageRecord> {
    const ref = parseReference(name);
    const progress = opts.progress ?? (() => {});
    const trace = tracer(`pull ${familiarName(ref)}`);
    const { client, fetched } = await this.resolve(ref, opts.credentials, opts.platform);
    trace('manifest');
    progress({ status: `Pulling from ${familiarName({ ...ref, tag: undefined, digest: undefined })}`, id: ref.digest ?? ref.tag });
    const config = await this.fetchConfig(client, ref.path, fetched);
    // A single-platform image is only checked against a platform the user asked for.
    const wanted = opts.platform;
    if (wanted && (config.os !== wanted.os || config.architecture !== wanted.architecture || (wanted.variant && config.variant && wanted.variant !== config.variant))) {
      throw new EngineError('not_found', `${familiarName(ref)} does not match the requested platform: wanted ${wanted.os}/${wanted.architecture}${wanted.variant ? `/${wanted.variant}` : ''}, it is ${config.os}/${config.architecture}${config.variant ? `/${config.variant}` : ''}`);
    }
    const { layers } = fetched.manifest;
    if (config.rootfs.diff_ids.length !== layers.length) {
      throw new EngineError('invalid_argument', `the image config of ${familiarName(ref)} lists ${config.rootfs.diff_ids.length} layers but its manifest ${layers.length}`);
    }
    const chains = chainIds(config.rootfs.diff_ids);
    const todo: number[] = [];
    const layerProgress = new Map<number, LayerProgress>();
    layers.forEach((layer, i) => {
      const id = layer.digest.slice(7, 19);
      if (this.content.has(layer.digest) && this.snapshotter.hasLayer(chains[i]!)) progress({ status: 'Already exists', id, progressDetail: {} });
      else {
        // An uncompressed layer's unpacked size is its size; a compressed one's is known only at its end.
        const view = new LayerProgress(id, progress, layer.size, layer.mediaType.endsWith('tar') ? layer.size : undefined);
        view.pullingFsLayer();
        layerProgress.set(i, view);
        todo.push(i);
      }
    });
    // The copy driver builds each layer on a copy of its parent, so it unpacks in order.
    const limit = this.snapshotter.name === 'copy' ? 1 : parallelLayers();
    for (const i of todo.slice(limit)) layerProgress.get(i)!.waiting();
    await bounded(todo, limit, async (i) => {
      const view = layerProgress.get(i)!;
      const unpacked = await this.fetchLayer(client, ref.path, layers[i]!.digest, chains[i]!, chains[i - 1], config.rootfs.diff_ids[i]!, view, trace);
      view.complete(unpacked);
    });
    trace('layers');
    await this.content.putBuffer(fetched.bytes);
    const names = ref.tag ? [fullName(ref)] : [];
    const existed = this.store.list().find((image) => image.id === fetched.manifest.config.digest && names.every((n) => image.names.includes(n)));
    const image = await this.store.add(fetched.digest, names, `${repositoryName(ref)}@${fetched.topDigest}`);
    progress({ status: `Digest: ${fetched.topDigest}` });
    progress({ status: `Status: ${existed ? 'Image is up to date' : 'Downloaded newer image'} for ${familiarName(ref)}` });
    this.events.emit('image', 'pull', image.id, { name: familiarName(ref) });
    return image;
  }

  /**
   * `pull --all-tags`: every tag of the repository, one after the other (layers they share are fetched
   * once). Docker's API asks for this with a `fromImage` that names no tag and no `tag` parameter.
   */
  async pullAllTags(name: string, opts: { credentials?: Credentials; platform?: Platform; progress?: ProgressSink } = {}): Promise<ImageRecord[]> {
    const ref = parseReference(name);
    if (ref.digest) throw new EngineError('invalid_argument', `tag can't be used with --all-tags/-a: ${name} names a digest`);
    const client = this.registries.client(ref.domain, opts.credentials);
    const tags = await listTags(client, ref.path);
    if (!tags.length) throw new EngineError('not_found', `${familiarName({ ...ref, tag: undefined })} has no tags`);
    const images: ImageRecord[] = [];
    for (const tag of tags.sort()) images.push(await this.pull(fullName({ ...ref, tag }), opts));
    return images;
  }

  /** The manifest, from a mirror when one has it, else from the registry itself. */
  private async resolve(ref: ImageReference, credentials: Credentials | undefined, platform: Platform | undefined): Promise<{ client: RegistryClient; fetched: FetchedManifest }> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    for (const mirror of this.registries.mirrors(ref.domain)) {
      const client = this.registries.client(mirror);
      try {
        return { client, fetched: await fetchManifest(client, ref.path, reference, platform) };
      } catch { /* the next mirror, then the registry */ }
    }
    const client = this.registries.client(ref.domain, credentials);
    return { client, fetched: await fetchManifest(client, ref.path, reference, platform) };
  }

  private async fetchConfig(client: RegistryClient, repo: string, fetched: FetchedManifest): Promise<ImageConfig> {
    const digest = fetched.manifest.config.digest;
    if (!this.content.has(digest)) {
      const stream = blobStream(client, repo, digest);
      // A config is small; a huge one is refused while it streams.
      const limited = new PassThrough();
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 16 * 1024 * 1024) stream.destroy(new EngineError('invalid_argument', `the image config ${digest} is larger than 16 MiB`));
      });
      stream.on('error', (err) => limited.destroy(err));
      stream.pipe(limited);
      await this.content.putStream(limited, digest).catch((err: unknown) => { throw asPullError(err, `image config ${digest}`); });
    }
    let config: ImageConfig;
    try {
      config = JSON.parse((await this.content.readBuffer(digest)).toString('utf8')) as ImageConfig;
    } catch {
      await this.content.remove(digest);
      throw new EngineError('invalid_argument', `the image config ${digest} is not valid JSON`);
    }
    if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids)) throw new EngineError('invalid_argument', 'the image config has no rootfs.diff_ids');
    return config;
  }

  /**
   * One layer: downloaded once, into the content store and (when missing) its snapshot at the same time.
   * Resolves with whether it was unpacked.
   */
  private async fetchLayer(client: RegistryClient, repo: string, digest: string, chainId: string, parent: string | undefined, diffId: string, view: LayerProgress, trace: (step: string) => void = () => {}): Promise<boolean> {
    const unpack = !this.snapshotter.hasLayer(chainId);
    const source = blobStream(client, repo, digest, { onBytes: (n) => view.downloading(n) });
    const id = digest.slice(7, 19);
    source.once('end', () => { trace(`${id} downloaded`); view.downloaded(); });
    const toStore = new PassThrough({ highWaterMark: 1 << 20 });
    const toUnpack = new PassThrough({ highWaterMark: 1 << 20 });
    source.pipe(toStore);
    if (unpack) source.pipe(toUnpack);
    source.on('error', (err) => { toStore.destroy(err); toUnpack.destroy(err); });
    const abort = (err: unknown) => { source.destroy(err as Error); return Promise.reject(err); };
    const results = await Promise.allSettled([
      this.content.putStream(toStore, digest).then(() => { trace(`${id} stored`); view.verified(unpack); }, abort),
      unpack ? this.snapshotter.ensureLayer(chainId, parent, () => toUnpack, { onBytes: (n) => view.extracting(n) }).then((r) => { trace(`${id} unpacked`); return r; }, abort) : Promise.resolve(undefined),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const unpacked = results[1].status === 'fulfilled' ? results[1].value : undefined;
    if (failed || (unpacked && unpacked.diffId !== diffId)) {
      if (unpack) await this.snapshotter.removeLayer(chainId).catch(() => {});
      if (failed) throw asPullError(failed.reason, `layer ${digest}`);
      await this.content.remove(digest).catch(() => {});
      throw new EngineError('invalid_argument', `layer ${digest} unpacks to ${unpacked!.diffId}, but the image config says ${diffId}: refused`);
    }
    return unpack;
  }
}

function asPullError(err: unknown, what: string): EngineError {
  if (err instanceof EngineError) {
    if (/digest mismatch/.test(err.message)) return new EngineError('invalid_argument', `${what} does not match its digest (${err.message}): refused`);
    return err;
  }
  const e = err as NodeJS.ErrnoException;
  return new EngineError('unavailable', `downloading ${what} failed: ${e.message ?? String(err)}`, { cause: err });
}

