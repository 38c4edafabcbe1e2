import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { invalid } from '../util/errors.js';
import { findExecutable } from '../util/find-executable.js';

/**
 * Decompression for layers, archives and ADD sources, recognised by content. gzip: Node's zlib inflates at
 * ~140 MB/s here; ISA-L's igzip (Debian package `isal`) at ~800 MB/s and pigz at ~270 MB/s, and as child
 * processes they run on another core while the engine applies the tar, so the fastest installed is used
 * and zlib when there is none (ROOST_GUNZIP=node forces it). zstd, xz and bzip2 go through their programs
 * (Node 20 has none of them; zstd falls back to Node's own where a newer Node has it). A program that
 * fails ends the stream with an error, never early.
 */

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  // "BZh" then the block size digit; a plain tar starting with a file named "BZh1..." is not worth worrying about.
  if (head.length >= 4 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && head[3]! >= 0x31 && head[3]! <= 0x39) return 'bzip2';
  return 'none';
}

/** Bytes enough for sniffCompression. */
export const SNIFF_BYTES = 6;

type Packed = Exclude<Compression, 'none'>;

const tools: Record<Packed, Array<[string, string[]]>> = {
  gzip: [['igzip', ['-d', '-c']], ['pigz', ['-d', '-c']]],
  zstd: [['zstd', ['-d', '-c', '-q']]],
  xz: [['xz', ['-d', '-c']]],
  bzip2: [['lbzip2', ['-d', '-c']], ['bzip2', ['-d', '-c']]],
};
const packages: Record<Packed, string> = { gzip: 'isal', zstd: 'zstd', xz: 'xz-utils', bzip2: 'bzip2' };
const chosen = new Map<Packed, { path: string; args: string[] } | null>();

/** The program that decompresses `kind` here, or null when Node does it (or nothing can). */
export function decompressTool(kind: Packed, env: NodeJS.ProcessEnv = process.env): { path: string; args: string[] } | null {
  if (kind === 'gzip' && env.ROOST_GUNZIP === 'node') return null;
  if (chosen.has(kind)) return chosen.get(kind)!;
  let found: { path: string; args: string[] } | null = null;
  for (const [name, args] of tools[kind]) {
    const file = findExecutable(name);
    if (file) { found = { path: file, args }; break; }
  }
  chosen.set(kind, found);
  return found;
}

export interface Decompressor {
  output: Readable;
  destroy(): void;
}

type NodeZstd = { createZstdDecompress?: (o: object) => zlib.Gunzip };

/** Decompresses `head` followed by the rest of `source` (absent when `head` was all of it). */
export function decompressStream(kind: Packed, head: Buffer, source: Readable | undefined, chunkSize: number, what = 'layer'): Decompressor {
  const tool = decompressTool(kind);
  if (!tool) {
    const z = kind === 'gzip' ? zlib.createGunzip({ chunkSize })
      : kind === 'zstd' && typeof (zlib as NodeZstd).createZstdDecompress === 'function' ? (zlib as NodeZstd).createZstdDecompress!({ chunkSize })
        : undefined;
    if (!z) throw invalid(`${what} is ${kind}-compressed and no ${kind} program is installed`, `sudo apt-get install ${packages[kind]}`);
    z.on('error', (err: Error) => {
      if (!output.destroyed) output.destroy(invalid(`${what} is not a valid ${kind} stream: ${err.message}`));
    });
    const output = new PassThrough({ highWaterMark: chunkSize });
    z.pipe(output);
    z.write(head);
    if (!source) z.end();
    else {
      source.pipe(z);
      source.on('error', (err) => output.destroy(err));
    }
    return { output, destroy: () => { z.destroy(); source?.destroy(); output.destroy(); } };
  }
  const child = spawn(tool.path, tool.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const output = new PassThrough({ highWaterMark: chunkSize });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { if (stderr.length < 2000) stderr += d.toString(); });
  child.stdout.pipe(output, { end: false });
  child.stdin.on('error', () => { /* the tool stopped reading: its exit says why */ });
  child.stdin.write(head);
  if (!source) child.stdin.end();
  else {
    source.pipe(child.stdin);
    source.on('error', (err) => { output.destroy(err); child.kill('SIGKILL'); });
  }
  child.on('error', (err) => output.destroy(err));
  // Only the exit status says whether the data was whole: the output ends after it.
  child.on('close', (code, signal) => {
    if (code === 0) output.end();
    else if (!output.destroyed) output.destroy(invalid(`${what} is not a valid ${kind} stream: ${stderr.trim().split('\n')[0] || `${tool.path} ${signal ?? `exited ${code}`}`}`));
  });
  return {
    output,
    destroy: () => {
      child.kill('SIGKILL');
      source?.destroy();
      output.destroy();
    },
  };
}
