import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { EngineError, invalid } from '../util/errors.js';
import { writeFileAtomic } from './atomic.js';

const digestPattern = /^sha256:[a-f0-9]{64}$/;

export function assertDigest(digest: string): void {
  if (!digestPattern.test(digest)) throw invalid(`invalid digest: ${JSON.stringify(digest)}`);
}

export function sha256Digest(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/**
 * Digest-addressed blobs in an OCI image layout (blobs/sha256/<hex>), so skopeo and umoci can read the store.
 * Every blob is written to ingest/ first and renamed into place only after its digest was checked:
 * a kill -9 leaves at most a stray ingest file, which open() sweeps.
 */
export class ContentStore {
  readonly root: string;
  private readonly ingestDir: string;

  constructor(root: string) {
    this.root = root;
    this.ingestDir = path.join(root, 'ingest');
  }

  async open(): Promise<void> {
    await fsp.mkdir(path.join(this.root, 'blobs', 'sha256'), { recursive: true, mode: 0o700 });
    await fsp.rm(this.ingestDir, { recursive: true, force: true });
    await fsp.mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
    const layoutFile = path.join(this.root, 'oci-layout');
    if (!fs.existsSync(layoutFile)) await writeFileAtomic(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  blobPath(digest: string): string {
    assertDigest(digest);
    return path.join(this.root, 'blobs', 'sha256', digest.slice('sha256:'.length));
  }

  has(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  async size(digest: string): Promise<number> {
    return (await fsp.stat(this.blobPath(digest))).size;
  }

  async readBuffer(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.blobPath(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new EngineError('not_found', `blob ${digest} not found in the content store`);
      throw err;
    }
  }

  async readJson<T>(digest: string): Promise<T> {
    return JSON.parse((await this.readBuffer(digest)).toString('utf8')) as T;
  }

  openRead(digest: string): Readable {
    return fs.createReadStream(this.blobPath(digest));
  }

  /** Stores bytes already in memory (configs, manifests). Returns the digest. */
  async putBuffer(data: Buffer | string): Promise<{ digest: string; size: number }> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256Digest(bytes);
    if (!this.has(digest)) await writeFileAtomic(this.blobPath(digest), bytes, this.ingestDir);
    return { digest, size: bytes.length };
  }

  /**
   * Streams a blob in, hashing while it writes. With `expected` the digest must match or nothing is stored.
   */
  async putStream(source: Readable, expected?: string): Promise<{ digest: string; size: number }> {
    if (expected !== undefined) assertDigest(expected);
    const tmp = path.join(this.ingestDir, randomBytes(8).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      const out = fs.createWriteStream(tmp, { mode: 0o600 });
      await pipeline(source, counter, out);
      const digest = 'sha256:' + hash.digest('hex');
      if (expected !== undefined && digest !== expected) {
        throw invalid(`digest mismatch: expected ${expected}, got ${digest}`);
      }
      const fd = await fsp.open(tmp, 'r');
      await fd.sync();
      await fd.close();
      await fsp.rename(tmp, this.blobPath(digest));
      return { digest, size };
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  /**
   * Takes over a file whose digest the caller computed while writing it (a staged archive entry on the same
   * filesystem): renamed into place instead of copied. Not fsync'd: the rename is what makes a kill -9 safe,
   * and a load need not wait for the disk to flush a layer it can read back from the page cache.
   */
  async adopt(file: string, digest: string): Promise<void> {
    const target = this.blobPath(digest);
    if (fs.existsSync(target)) return;
    await fsp.rename(file, target);
  }

  async remove(digest: string): Promise<void> {
    await fsp.rm(this.blobPath(digest), { force: true });
  }

  async listDigests(): Promise<string[]> {
    const names = await fsp.readdir(path.join(this.root, 'blobs', 'sha256'));
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => 'sha256:' + n);
  }
}
