/**
 * Extended attributes in tar archives as Docker, containerd and GNU tar write them: PAX records
 * `SCHILY.xattr.<name>=<raw value bytes>`. tar-stream reads and writes PAX values as UTF-8 text, which
 * corrupts binary values such as `security.capability`, so the records are encoded and decoded here as bytes.
 */
import type { Pack } from 'tar-stream';
import type { Xattrs } from './xattrs.js';

const XATTR_PREFIX = 'SCHILY.xattr.';

/** One PAX record: `<length> <key>=<value>\n`, the length counting itself. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length), 'ascii'), body]);
}

/** The `SCHILY.xattr.*` records of one PAX extended header's data, values as the raw bytes they are. */
export function xattrsFromPax(data: Buffer): Xattrs {
  const xattrs: Xattrs = [];
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(data.toString('ascii', at, space));
    if (!Number.isInteger(length) || length <= space - at + 1 || at + length > data.length) break;
    const record = data.subarray(space + 1, at + length - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq > 0) {
      const key = record.toString('utf8', 0, eq);
      if (key.startsWith(XATTR_PREFIX) && key.length > XATTR_PREFIX.length) xattrs.push([key.slice(XATTR_PREFIX.length), Buffer.from(record.subarray(eq + 1))]);
    }
    at += length;
  }
  return xattrs;
}

/** What `pack.entry` takes as a header. */
type PackHeader = Parameters<Pack['entry']>[0];

/** A name tar-stream can write in a plain ustar header (ASCII, 100 bytes at most); the PAX `path` holds the real one. */
export function ustarName(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length <= 100 ? ascii : ascii.slice(ascii.length - 100);
}

function octal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, width, 'ascii');
}

/** A PAX extended header (typeflag `x`) with its data, padded to whole 512-byte blocks. */
export function paxBlocks(data: Buffer, mtime: Date | undefined): Buffer {
  const header = Buffer.alloc(512);
  header.write('PaxHeader', 0, 'ascii');
  octal(header, 100, 8, 0o644);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, data.length);
  octal(header, 136, 12, Math.max(0, Math.floor((mtime?.getTime() ?? 0) / 1000)));
  header.write('x', 156, 'ascii');
  header.write('ustar\x0000', 257, 'ascii');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  const padding = (512 - (data.length % 512)) % 512;
  return Buffer.concat([header, data, Buffer.alloc(padding)]);
}

/**
 * Stores `header` with `xattrs`: our own PAX extended header goes into the pack first (tar-stream can only
 * write PAX values as text), holding the attributes and the path and link target, so that tar-stream writes no
 * second PAX header for a long name (readers such as Go's take only the last); the entry itself then gets a
 * ustar-safe name. Returns the header to give `pack.entry`. The pack must be between entries (every earlier
 * entry finished), which is how our packers write: one entry at a time, each awaited.
 */
export function putXattrs(pack: Pack, header: PackHeader, xattrs: Xattrs): PackHeader {
  if (xattrs.length === 0) return header;
  const records = [paxRecord('path', Buffer.from(header.name, 'utf8'))];
  if (header.linkname) records.push(paxRecord('linkpath', Buffer.from(header.linkname, 'utf8')));
  for (const [name, value] of xattrs) records.push(paxRecord(`${XATTR_PREFIX}${name}`, value));
  pack.push(paxBlocks(Buffer.concat(records), header.mtime));
  return { ...header, name: ustarName(header.name), ...(header.linkname ? { linkname: ustarName(header.linkname) } : {}) };
}
