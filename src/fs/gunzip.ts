import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { invalid } from '../util/errors.js';
import { findExecutable } from '../util/find-executable.js';

/**
 * gzip decompression for layers. Node's zlib inflates at ~140 MB/s here; ISA-L's igzip (Debian package
 * `isal`) at ~800 MB/s and pigz at ~270 MB/s, and as child processes they run on another core while
 * the engine applies the tar. The fastest tool installed is used, Node's zlib when there is none
 * (ROOST_GUNZIP=node forces it). A tool that fails ends the stream with an error, never early.
 */

const tools: Array<[string, string[]]> = [['igzip', ['-d', '-c']], ['pigz', ['-d', '-c']]];
let chosen: { path: string; args: string[] } | null | undefined;

export function gunzipTool(env: NodeJS.ProcessEnv = process.env): { path: string; args: string[] } | null {
  if (env.ROOST_GUNZIP === 'node') return null;
  if (chosen !== undefined) return chosen;
  chosen = null;
  for (const [name, args] of tools) {
    const found = findExecutable(name);
    if (found) return (chosen = { path: found, args });
  }
  return chosen;
}

export interface Gunzip {
  output: Readable;
  destroy(): void;
}

/** Decompresses `head` followed by the rest of `source` (absent when `head` was all of it). */
export function gunzip(head: Buffer, source: Readable | undefined, chunkSize: number): Gunzip {
  const tool = gunzipTool();
  if (!tool) {
    const z = zlib.createGunzip({ chunkSize });
    z.write(head);
    if (!source) z.end();
    else source.pipe(z), source.on('error', (err) => z.destroy(err));
    return { output: z, destroy: () => { z.destroy(); source?.destroy(); } };
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
    else if (!output.destroyed) output.destroy(Object.assign(invalid(`layer is not a valid gzip stream: ${stderr.trim().split('\n')[0] || `${tool.path} ${signal ?? `exited ${code}`}`}`), { code: 'Z_DATA_ERROR' }));
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
