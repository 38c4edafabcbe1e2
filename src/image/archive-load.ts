import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { invalid, EngineError } from '../util/errors.js';
import { decompressStream, sniffCompression } from '../fs/decompress.js';
import type { ImageConfig, ImageIndex, ImageManifest, Descriptor } from './types.js';
import { mediaTypes } from './types.js';

/** One image found in an archive, with the files that hold its parts. */
export interface ArchivedImage {
  configFile: string;
  layerFiles: string[];
  names: string[];
}

export interface StagedFile {
  tmpPath: string;
  digest: string;
  size: number;
}

/** The archive unpacked into a private temp dir: every regular entry by its normalised name. */
export interface StagedArchive {
  dir: string;
  files: Map<string, StagedFile>;
  images: ArchivedImage[];
  cleanup(): Promise<void>;
}

function normalizeEntryName(name: string): string {
  return path.posix.normalize(name.replace(/^\/+/, '')).replace(/^\.\//, '');
}

/** Peeks at the first bytes: an archive may be plain or compressed (gzip, zstd, xz, bzip2), as docker load takes it. */
async function decompressIfNeeded(source: Readable): Promise<Readable> {
  const first: Buffer = await new Promise((resolve, reject) => {
    const onReadable = () => {
      const chunk = source.read() as Buffer | null;
      if (chunk === null) return;
      cleanup();
      resolve(chunk);
    };
    const onEnd = () => { cleanup(); resolve(Buffer.alloc(0)); };
    const onError = (err: Error) => { cleanup(); reject(err); };
    const cleanup = () => {
      source.off('readable', onReadable); source.off('end', onEnd); source.off('error', onError);
    };
    source.on('readable', onReadable); source.on('end', onEnd); source.on('error', onError);
  });
  if (first.length === 0) throw invalid('archive is empty');
  const compression = sniffCompression(first);
  if (compression !== 'none') return decompressStream(compression, first, source, 256 * 1024, 'archive').output;
  const rejoined = new PassThrough();
  rejoined.write(first);
  source.pipe(rejoined);
  source.on('error', (err) => rejoined.destroy(err));
  return rejoined;
}

/**
 * Reads a docker-archive or OCI archive (plain or gzip) into a temp dir beside the store. Entry names are
 * never used as paths, so a hostile name cannot write anywhere; layers are checked when they are unpacked.
 */
export async function stageArchive(source: Readable, scratchRoot: string = os.tmpdir()): Promise<StagedArchive> {
  const dir = path.join(scratchRoot, `load-${randomBytes(6).toString('hex')}`);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const files = new Map<string, StagedFile>();
  const cleanup = () => fsp.rm(dir, { recursive: true, force: true });
  try {
    const input = await decompressIfNeeded(source);
    const extract = tar.extract();
    let entries = 0;
    extract.on('entry', (header, stream, next) => {
      entries++;
      const name = normalizeEntryName(header.name);
      if (header.type !== 'file' || name.startsWith('..')) {
        stream.resume();
        stream.on('end', next);
        return;
      }
      const tmpPath = path.join(dir, String(files.size));
      const hash = createHash('sha256');
      let size = 0;
      stream.on('data', (chunk: unknown) => { const bytes = chunk as Buffer; hash.update(bytes); size += bytes.length; });
      pipeline(stream, fs.createWriteStream(tmpPath, { mode: 0o600 })).then(() => {
        files.set(name, { tmpPath, digest: 'sha256:' + hash.digest('hex'), size });
        next();
      }, next);
    });
    try {
      await pipeline(input, extract);
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw invalid(`archive is not a valid tar file: ${(err as Error).message}`);
    }
    if (entries === 0) throw invalid('archive is not a valid tar file: no entries');
    const images = await findImages(files);
    return { dir, files, images, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function readStagedJson<T>(files: Map<string, StagedFile>, name: string): Promise<T> {
  const file = files.get(normalizeEntryName(name));
  if (!file) throw invalid(`archive is missing ${name}`);
  try {
    return JSON.parse(await fsp.readFile(file.tmpPath, 'utf8')) as T;
  } catch {
    throw invalid(`archive has a malformed ${name}`);
  }
}

interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function findImages(files: Map<string, StagedFile>): Promise<ArchivedImage[]> {
  if (files.has('manifest.json')) {
    const entries = await readStagedJson<DockerArchiveEntry[]>(files, 'manifest.json');
    if (!Array.isArray(entries) || entries.length === 0) throw invalid('archive manifest.json lists no images');
    return entries.map((entry) => {
      if (typeof entry?.Config !== 'string' || !Array.isArray(entry.Layers)) throw invalid('archive manifest.json entry is malformed');
      return { configFile: normalizeEntryName(entry.Config), layerFiles: entry.Layers.map(normalizeEntryName), names: entry.RepoTags ?? [] };
    });
  }
  if (files.has('index.json')) {
    const index = await readStagedJson<ImageIndex>(files, 'index.json');
    const images: ArchivedImage[] = [];
    const visit = async (descs: Descriptor[], inheritedName?: string): Promise<void> => {
      for (const desc of descs ?? []) {
        const name = desc.annotations?.['io.containerd.image.name'] ?? desc.annotations?.['org.opencontainers.image.ref.name'] ?? inheritedName;
        const blobName = `blobs/${desc.digest.replace(':', '/')}`;
        if (desc.mediaType === mediaTypes.ociIndex || desc.mediaType === mediaTypes.dockerManifestList) {
          await visit((await readStagedJson<ImageIndex>(files, blobName)).manifests, name);
          continue;
        }
        const manifest = await readStagedJson<ImageManifest>(files, blobName);
        if (!manifest.config || !Array.isArray(manifest.layers)) throw invalid(`archive manifest ${desc.digest} is malformed`);
        // OCI archives from podman name the image with a full reference; a bare tag ("latest") is not a name.
        const names = name && (name.includes('/') || name.includes(':')) && !/^[\w.-]+$/.test(name) ? [name] : [];
        images.push({
          configFile: `blobs/${manifest.config.digest.replace(':', '/')}`,
          layerFiles: manifest.layers.map((l) => `blobs/${l.digest.replace(':', '/')}`),
          names,
        });
      }
    };
    await visit(index.manifests);
    if (images.length === 0) throw invalid('archive index.json lists no images');
    return images;
  }
  throw invalid('archive has neither manifest.json (docker-archive) nor index.json (OCI layout)');
}

export async function readArchivedConfig(staged: StagedArchive, image: ArchivedImage): Promise<ImageConfig> {
  const config = await readStagedJson<ImageConfig>(staged.files, image.configFile);
  if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids)) throw invalid('image config has no rootfs.diff_ids');
  if (config.rootfs.diff_ids.length !== image.layerFiles.length) {
    throw invalid(`image config lists ${config.rootfs.diff_ids.length} layers but the archive has ${image.layerFiles.length}`);
  }
  return config;
}

export function stagedFile(staged: StagedArchive, name: string): StagedFile {
  const file = staged.files.get(name);
  if (!file) throw invalid(`archive is missing ${name}`);
  return file;
}
