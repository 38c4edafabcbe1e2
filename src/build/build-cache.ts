import crypto from 'node:crypto';
import path from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../fs/atomic.js';

/**
 * The build cache: a step's key (its parent image and config, the instruction as expanded, the build
 * arguments in scope and, for COPY/ADD, the checksum of the sources' names, modes and contents, never
 * their times: BuildContext.checksum) → the image that step made. Those images stay in the store untagged; `images` hides them
 * unless -a, as Docker hides intermediate images, and `builder prune` forgets them.
 */
export class BuildCache {
  private entries: Record<string, string> | undefined;
  private readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'build-cache.json');
  }

  private async load(): Promise<Record<string, string>> {
    this.entries ??= (await readJsonIfExists<Record<string, string>>(this.file)) ?? {};
    return this.entries;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.load())[key];
  }

  async set(key: string, imageId: string): Promise<void> {
    (await this.load())[key] = imageId;
    await writeJsonAtomic(this.file, this.entries, false);
  }

  /** Image IDs the cache holds (intermediate images). */
  async imageIds(): Promise<Set<string>> {
    return new Set(Object.values(await this.load()));
  }

  /** Forgets every entry; returns the image IDs it held. */
  async clear(): Promise<string[]> {
    const ids = [...new Set(Object.values(await this.load()))];
    this.entries = {};
    await writeJsonAtomic(this.file, this.entries, false);
    return ids;
  }

  static key(parts: unknown): string {
    return crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }
}
