import { spawn } from 'node:child_process';
import { EngineError } from './errors.js';

/**
 * Runs a host command; a failure becomes an EngineError carrying its stderr, never a stack trace.
 * Plain child_process rather than execa: this runs several times per container start (namespaces,
 * veths, mounts), and execa's per-call objects were garbage the long-lived engine then carried.
 */
export function runCommand(file: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let spawnError: Error | undefined;
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => { spawnError = error; });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => { /* the command exited without reading it: its status says why */ });
      child.stdin!.end(opts.input);
    }
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString().replace(/\r?\n$/, '');
      if (!spawnError && code === 0) return resolve(stdout);
      const stderr = Buffer.concat(err).toString();
      const why = spawnError?.message ?? (signal ? `killed by ${signal}${signal === 'SIGKILL' ? ' (timed out?)' : ''}` : `exit status ${code}`);
      const detail = (stderr || stdout || why).trim().split('\n').slice(-3).join(' ');
      reject(new EngineError('internal', `${file} ${args[0] ?? ''} failed: ${detail}`));
    });
  });
}
