import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { decompressStream, sniffCompression, type Compression } from '../fs/decompress.js';
import { rewriteTar } from '../engine/container-files.js';
import { invalid } from '../util/errors.js';

/**
 * ADD's two extras over COPY: a local tar archive (plain, gzip, bzip2 or xz, recognised by its content,
 * never by its name) is unpacked at the destination, and an http(s) URL is downloaded (not unpacked), with
 * an optional `--checksum=sha256:<hex>` and the mtime taken from Last-Modified, as Docker does.
 */

/** A tar header block: its checksum (the sum of its bytes, the checksum field counted as spaces) matches. */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512 || block.subarray(0, 512).every((b) => b === 0)) return false;
  const field = block.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === parseInt(field, 8);
}

/** The file's content, decompressed (by the same programs as layers). */
export function decompressed(file: string, compression: Compression): Readable {
  if (compression === 'none') return fs.createReadStream(file);
  return decompressStream(compression, Buffer.alloc(0), fs.createReadStream(file), 128 * 1024, path.basename(file)).output;
}

async function head(stream: Readable, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= size) break;
    }
  } catch {
    /* not decompressible: not an archive */
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, size);
}

/** The compression of a local tar archive, or undefined when the file is not one (then ADD copies it). */
export async function localArchive(file: string): Promise<Compression | undefined> {
  const fd = fs.openSync(file, 'r');
  const first = Buffer.alloc(512);
  let read: number;
  try { read = fs.readSync(fd, first, 0, 512, 0); } finally { fs.closeSync(fd); }
  const compression = sniffCompression(first.subarray(0, read));
  const block = compression === 'none' ? first.subarray(0, read) : await head(decompressed(file, compression), 512);
  return isTarHeader(block) ? compression : undefined;
}

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

export interface Download {
  /** The file's name in the image when the destination is a directory: the URL path's last part. */
  name: string;
  file: string;
  digest: string;
  mtime?: Date;
}

/** Downloads `url` into `dir`, checking `--checksum` when given. */
export async function download(url: string, dir: string, checksum: string | undefined, where: string): Promise<Download> {
  if (checksum !== undefined && !/^sha256:[a-f0-9]{64}$/.test(checksum)) throw invalid(`${where}ADD --checksum=${checksum}: expected sha256:<64 hex digits>`);
  const name = path.posix.basename(new URL(url).pathname);
  if (!name || name === '/') throw invalid(`${where}ADD ${url}: cannot determine a file name from the URL; give the destination a file name`);
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(10 * 60_000) });
  } catch (err) {
    throw invalid(`${where}ADD ${url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
  }
  if (!response.ok || !response.body) throw invalid(`${where}ADD ${url}: ${response.status} ${response.statusText}`);
  const file = path.join(dir, name);
  const hash = crypto.createHash('sha256');
  const out = fs.createWriteStream(file, { mode: 0o600 });
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (checksum !== undefined && checksum !== digest) throw invalid(`${where}ADD ${url}: checksum mismatch: expected ${checksum}, got ${digest}`);
  fs.chmodSync(file, 0o600);
  const modified = response.headers.get('last-modified');
  const mtime = modified && !Number.isNaN(Date.parse(modified)) ? new Date(modified) : undefined;
  if (mtime) fs.utimesSync(file, mtime, mtime);
  return { name, file, digest, mtime };
}

/**
 * An archive's entries moved under `destAbs` (the archive's own root entry left out, so the destination keeps
 * its owner and mode); an entry or hard link that would land outside the destination stops the copy. Owners
 * stay as the archive has them unless `--chown` gave one.
 */
export function archiveAt(tar: Readable, destAbs: string, chown: { uid: number; gid: number } | undefined, where: string): Readable {
  const destRel = destAbs.replace(/^\/+/, '');
  const inside = (name: string) => {
    const rel = path.posix.normalize(name.replace(/^\/+/, ''));
    if (rel === '..' || rel.startsWith('../')) throw invalid(`${where}archive entry ${JSON.stringify(name)} points outside the destination`);
    return rel === '.' || rel === './' ? '' : rel.replace(/\/$/, '');
  };
  return rewriteTar(tar, (h) => {
    const rel = inside(h.name);
    if (rel === '') return undefined;
    const linkname = h.type === 'link' && h.linkname ? [destRel, inside(h.linkname)].filter(Boolean).join('/') : h.linkname;
    return { ...h, name: [destRel, rel].filter(Boolean).join('/'), linkname, ...(chown ? { uid: chown.uid, gid: chown.gid, uname: '', gname: '' } : {}) };
  });
}
