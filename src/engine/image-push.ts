import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { ContentStore } from '../fs/content-store.js';
import type { ImageStore } from '../image/image-store.js';
import { familiarName, parseReference, repositoryName } from '../image/reference.js';
import type { Descriptor, ImageManifest } from '../image/types.js';
import { mediaTypes } from '../image/types.js';
import type { Credentials, RegistryClient } from '../registry/registry-client.js';
import type { Registries } from '../registry/registries.js';
import { EngineError, invalid } from '../util/errors.js';
import type { EventBus } from './events.js';
import { bounded } from '../util/bounded.js';
import { reclaimBuffers } from '../util/buffer-reclaim.js';
import type { ProgressSink } from './pull-progress.js';

const parallelUploads = 3;
const uncompressed = new Set<string>([mediaTypes.ociLayer, mediaTypes.dockerLayer]);

/**
 * Pushes an image: each layer compressed once (gzip, kept: the image's manifest then names the gzip
 * blobs, so the next push sends them as they are), blobs the registry has already skipped (HEAD),
 * the others uploaded whole, then the config and the manifest. Prints Docker's progress and the
 * pushed digest.
 */
export class ImagePusher {
  constructor(
    private readonly content: ContentStore,
    private readonly store: ImageStore,
    private readonly events: EventBus,
    private readonly registries: Registries,
  ) {}

  async push(name: string, opts: { credentials?: Credentials; progress?: ProgressSink } = {}): Promise<{ digest: string; size: number }> {
    const ref = parseReference(name);
    if (ref.digest) throw invalid(`cannot push a digest reference: ${name}`);
    let image;
    try {
      image = this.store.resolve(name);
    } catch {
      throw new EngineError('not_found', `An image does not exist locally with the tag: ${familiarName(ref)}`);
    }
    const progress = opts.progress ?? (() => {});
    const client = this.registries.client(ref.domain, opts.credentials);
    const repo = ref.path;
    progress({ status: `The push refers to repository [${familiarName({ ...ref, tag: undefined })}]` });
    const layers = [...image.manifest.layers];
    // Compressing first: the upload of each blob needs its digest.
    let changed = false;
    for (const [i, layer] of layers.entries()) {
      if (!uncompressed.has(layer.mediaType)) continue;
      const gzip = await this.compress(layer);
      layers[i] = gzip;
      changed = true;
    }
    for (const layer of [...layers].reverse()) progress({ status: 'Preparing', id: shortId(layer.digest), progressDetail: {} });
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: mediaTypes.ociConfig, digest: image.manifest.config.digest, size: image.manifest.config.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType.includes('docker') ? mediaTypes.ociLayerGzip : l.mediaType, digest: l.digest, size: l.size })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    if (changed || manifestBytes.toString() !== (await this.content.readBuffer(image.manifestDigest)).toString()) {
      const stored = await this.content.putBuffer(manifestBytes);
      await this.store.setManifest(image, stored.digest);
    }
    // Auth once before the parallel uploads: a streamed body cannot be sent again after a challenge.
    await client.request(`/v2/`, { scope: `repository:${repo}:pull,push`, expect: [200], what: 'the registry API' });
    // Repositories of the same registry that this image came from or went to: their blobs can be mounted.
    const mountFrom = image.names.map((n) => parseReference(n)).filter((r) => r.domain === ref.domain && r.path !== repo).map((r) => r.path);
    await bounded(layers, parallelUploads, (layer) => this.uploadBlob(client, repo, layer, progress, mountFrom));
    await this.uploadBlob(client, repo, manifest.config, () => {}, mountFrom);
    const res = await client.request(`/v2/${repo}/manifests/${ref.tag ?? 'latest'}`, {
      method: 'PUT', scope: `repository:${repo}:pull,push`, body: manifestBytes,
      headers: { 'Content-Type': mediaTypes.ociManifest, 'Content-Length': String(manifestBytes.length) },
      expect: [200, 201, 202], what: `manifest ${familiarName(ref)}`,
    });
    res.body.resume();
    const digest = String(res.headers['docker-content-digest'] ?? image.manifestDigest);
    if (/^sha256:[a-f0-9]{64}$/.test(digest)) await this.store.recordRepoDigest(image, `${repositoryName(ref)}@${digest}`);
    progress({ status: `${ref.tag ?? 'latest'}: digest: ${digest} size: ${manifestBytes.length}` });
    (progress as (m: object) => void)({ progressDetail: {}, aux: { Tag: ref.tag ?? 'latest', Digest: digest, Size: manifestBytes.length } });
    this.events.emit('image', 'push', image.id, { name: familiarName(ref) });
    return { digest, size: manifestBytes.length };
  }

  /** The gzip form of an uncompressed layer blob, stored beside it. */
  private async compress(layer: Descriptor): Promise<Descriptor> {
    const gzip = zlib.createGzip({ level: 3, chunkSize: 1 << 20 });
    const source = this.content.openRead(layer.digest);
    const done = this.content.putStream(gzip);
    await pipeline(source, gzip).catch((err: unknown) => { gzip.destroy(err as Error); throw err; });
    const stored = await done;
    return { mediaType: mediaTypes.ociLayerGzip, digest: stored.digest, size: stored.size };
  }

  private async uploadBlob(client: RegistryClient, repo: string, blob: Descriptor, progress: ProgressSink, mountFrom: string[] = []): Promise<void> {
    const id = shortId(blob.digest);
    const scope = `repository:${repo}:pull,push`;
    const head = await client.request(`/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD', scope, expect: [200, 404], what: `blob ${blob.digest}` });
    head.body.resume();
    if (head.status === 200) {
      progress({ status: 'Layer already exists', id, progressDetail: {} });
      return;
    }
    // A cross-repository mount (201) saves the upload; a registry that cannot mount starts an upload (202).
    const from = mountFrom[0];
    const query = from ? `?mount=${blob.digest}&from=${encodeURIComponent(from)}` : '';
    const start = await client.request(`/v2/${repo}/blobs/uploads/${query}`, { method: 'POST', scope, headers: { 'Content-Length': '0' }, expect: [201, 202], what: 'a blob upload' });
    start.body.resume();
    if (start.status === 201) {
      progress({ status: `Mounted from ${from}`, id, progressDetail: {} });
      return;
    }
    const location = start.headers.location;
    if (!location) throw new EngineError('unavailable', `${client.host} started an upload without saying where to send it`);
    const base = `${client.transport.baseUrl()}/v2/${repo}/blobs/uploads/`;
    const pathOf = (url: URL) => (url.host === client.host ? url.pathname + url.search : url.toString());
    let target = new URL(location, base);
    let sent = 0;
    let last = 0;
    const report = (bytes: number) => {
      sent += bytes;
      const now = Date.now();
      if (now - last < 100 && sent < blob.size) return;
      last = now;
      progress({ status: 'Pushing', id, progressDetail: { current: sent, total: blob.size } });
    };
    const chunkBytes = pushChunkBytes();
    let body: fs.ReadStream | Buffer = Buffer.alloc(0);
    if (blob.size <= chunkBytes) {
      // Monolithic: the whole blob in the closing PUT.
      body = fs.createReadStream(this.content.blobPath(blob.digest), { highWaterMark: 1 << 20 });
      body.on('data', (chunk) => { report(chunk.length); reclaimBuffers(chunk.length); });
    } else {
      // Chunked: PATCHes of at most chunkBytes (each one retriable), following the registry's Location and
      // Range (a registry that kept less than was sent is sent the rest again), then an empty PUT.
      // Each chunk read from the blob as it is sent (a fresh read for a retry), not held whole in memory.
      const blobFile = this.content.blobPath(blob.digest);
      const stored = (await fsp.stat(blobFile)).size;
      if (stored !== blob.size) throw new EngineError('internal', `the blob ${blob.digest} in the content store has ${stored} bytes, not its ${blob.size}`);
      for (let offset = 0; offset < blob.size;) {
        const length = Math.min(chunkBytes, blob.size - offset);
        const start = offset;
        const res = await client.request(pathOf(target), {
          method: 'PATCH', scope, body: () => fs.createReadStream(blobFile, { start, end: start + length - 1, highWaterMark: 1 << 20 }).on('data', (c) => reclaimBuffers(c.length)), expect: [202],
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length), 'Content-Range': `${offset}-${offset + length - 1}` },
          what: `a chunk of the upload of ${blob.digest}`,
        });
        res.body.resume();
        if (res.headers.location) target = new URL(res.headers.location, base);
        const kept = /^(?:bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ''));
        const next = kept ? Number(kept[1]) + 1 : offset + length;
        if (next <= offset || next > blob.size) throw new EngineError('unavailable', `${client.host} answered a chunk of ${blob.digest} with the range ${String(res.headers.range)}`);
        report(next - offset);
        offset = next;
      }
    }
    target.searchParams.set('digest', blob.digest);
    const put = await client.request(pathOf(target), {
      method: 'PUT', scope, body, expect: [201, 204],
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(Buffer.isBuffer(body) ? 0 : blob.size) },
      what: `the upload of ${blob.digest}`,
    });
    put.body.resume();
    progress({ status: 'Pushed', id, progressDetail: {} });
  }
}

const shortId = (digest: string) => digest.slice(7, 19);

/**
 * Blobs above this size go up in chunks (PATCH with Content-Range): a registry or proxy that limits a
 * request's body still takes them, and a failed chunk is sent again alone. ROOST_PUSH_CHUNK_BYTES sets it.
 */
function pushChunkBytes(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.ROOST_PUSH_CHUNK_BYTES);
  return Number.isInteger(value) && value > 0 ? value : 64 * 1024 * 1024;
}
