import { Readable } from 'node:stream';
import { paxBlocks, paxRecord, ustarName } from './pax-xattrs.js';
import type { Xattrs } from './xattrs.js';

/**
 * A tar written into a Node stream, its headers encoded here: ustar, with a PAX extended header when a name or
 * link target is longer than 100 bytes, an owner or size does not fit, or there are extended attributes
 * (`SCHILY.xattr.*`, values as raw bytes). Small entries are gathered into 64 kB pushes. The packers of host
 * trees use it instead of tar-stream's pack, whose per-entry stream and callbacks cost ~50 µs an entry: most
 * of the time of a 2,000-file build context's tar (bench/README.md).
 */

export interface TarOutHeader {
  name: string;
  type?: string | null;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: Date;
  linkname?: string | null;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string> | null;
}

const TYPEFLAGS: Record<string, string> = {
  file: '0', link: '1', symlink: '2', 'character-device': '3', 'block-device': '4', directory: '5', fifo: '6', 'contiguous-file': '7',
};
const BATCH = 64 * 1024;
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

function octal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${Math.max(0, Math.floor(value)).toString(8).padStart(width - 1, '0')}\0`, offset, width, 'ascii');
}

const hasContent = (type: string | null | undefined): boolean => type === 'file' || type === 'contiguous-file' || !type;

/** The header block(s) of one entry: a PAX header first when needed, then the ustar block. */
export function encodeTarHeader(h: TarOutHeader, xattrs?: Xattrs): Buffer {
  const type = h.type ?? 'file';
  const typeflag = TYPEFLAGS[type];
  if (typeflag === undefined) throw new Error(`cannot write a tar entry of type ${type}`);
  const size = hasContent(type) ? h.size ?? 0 : 0;
  const linkname = h.linkname ?? '';
  const withXattrs = Boolean(xattrs?.length);
  const nameFits = Buffer.byteLength(h.name) <= 100;
  const linkFits = Buffer.byteLength(linkname) <= 100;
  const records: Buffer[] = [];
  if (!nameFits || withXattrs) records.push(paxRecord('path', Buffer.from(h.name, 'utf8')));
  if (linkname && (!linkFits || withXattrs)) records.push(paxRecord('linkpath', Buffer.from(linkname, 'utf8')));
  for (const [key, value] of Object.entries(h.pax ?? {})) if (key !== 'path' && key !== 'linkpath' && key !== 'size') records.push(paxRecord(key, Buffer.from(String(value), 'utf8')));
  if (size > MAX_OCTAL_11) records.push(paxRecord('size', Buffer.from(String(size))));
  for (const [name, value] of xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${name}`, value));

  const block = Buffer.alloc(512);
  block.write(nameFits && !withXattrs ? h.name : ustarName(h.name), 0, 100, 'utf8');
  octal(block, 100, 8, (h.mode ?? (type === 'directory' ? 0o755 : 0o644)) & 0o7777);
  octal(block, 108, 8, (h.uid ?? 0) > MAX_OCTAL_7 ? 0 : h.uid ?? 0);
  octal(block, 116, 8, (h.gid ?? 0) > MAX_OCTAL_7 ? 0 : h.gid ?? 0);
  octal(block, 124, 12, size > MAX_OCTAL_11 ? 0 : size);
  octal(block, 136, 12, Math.min(MAX_OCTAL_11, (h.mtime ?? new Date()).getTime() / 1000));
  block.write(typeflag, 156, 'ascii');
  if (linkname) block.write(linkFits && !withXattrs ? linkname : ustarName(linkname), 157, 100, 'utf8');
  block.write('ustar\x0000', 257, 'ascii');
  if (h.uname) block.write(h.uname, 265, 32, 'utf8');
  if (h.gname) block.write(h.gname, 297, 32, 'utf8');
  octal(block, 329, 8, h.devmajor ?? 0);
  octal(block, 337, 8, h.devminor ?? 0);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return records.length ? Buffer.concat([paxBlocks(Buffer.concat(records), h.mtime), block]) : block;
}

export class TarOut {
  readonly stream: Readable;
  private batch: Buffer[] = [];
  private batched = 0;
  private waiting: (() => void) | undefined;
  private gone = false;

  /** `onDestroy` runs when the reader destroys the stream (it went away). */
  constructor(onDestroy?: () => void) {
    this.stream = new Readable({
      read: () => this.wake(),
      destroy: (err, callback) => {
        this.gone = true;
        this.wake();
        onDestroy?.();
        callback(err);
      },
    });
    // An error may come before the consumer listens: it stays in `stream.errored`, and must not crash the daemon.
    this.stream.on('error', () => {});
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  private async write(bytes: Buffer): Promise<void> {
    this.batch.push(bytes);
    this.batched += bytes.length;
    if (this.batched >= BATCH) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.gone) throw new Error('the tar\'s reader went away');
    if (this.batched === 0) return;
    const bytes = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batched);
    this.batch = [];
    this.batched = 0;
    if (!this.stream.push(bytes)) await new Promise<void>((resolve) => { this.waiting = resolve; });
    if (this.gone) throw new Error('the tar\'s reader went away');
  }

  /** One entry; a file's content must be exactly `size` bytes. */
  async entry(header: TarOutHeader, content?: Iterable<Buffer> | AsyncIterable<Buffer>, xattrs?: Xattrs): Promise<void> {
    await this.write(encodeTarHeader(header, xattrs));
    if (!hasContent(header.type)) return;
    const size = header.size ?? 0;
    let written = 0;
    for await (const chunk of content ?? []) {
      written += chunk.length;
      if (written > size) break;
      await this.write(chunk);
    }
    if (written !== size) throw new Error(`tar entry ${JSON.stringify(header.name)}: ${written} bytes of content for a size of ${size}`);
    const padding = (512 - (size % 512)) % 512;
    if (padding) await this.write(Buffer.alloc(padding));
  }

  /** The end-of-archive blocks, then the end of the stream. */
  async end(): Promise<void> {
    await this.write(Buffer.alloc(1024));
    await this.flush();
    this.stream.push(null);
  }

  fail(err: unknown): void {
    this.stream.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}
