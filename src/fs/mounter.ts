import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../util/errors.js';
import { runCommand } from '../util/exec.js';

/**
 * mount(2) and umount2(2) for the engine. Node cannot make these calls, and a fork and exec of util-linux's
 * mount or umount from the engine cost 3-5 ms each, on the way to every container's create and removal. So
 * one long-lived roost-mounter (native/roost-mounter.c), started on first use in the engine's namespaces,
 * makes them for the price of a pipe round trip; without it built, mount(8) and umount(8) run per call.
 */

/** mount(8)'s options that are MS_* flags; every other option goes to the file system as data. */
const mountFlags: Record<string, number> = {
  ro: 0x1, rw: 0, nosuid: 0x2, nodev: 0x4, noexec: 0x8, sync: 0x10, dirsync: 0x80,
  noatime: 0x400, nodiratime: 0x800, relatime: 0x200000, strictatime: 0x1000000,
};
const MNT_DETACH = 0x2;

/** The helper built from native/roost-mounter.c. */
export function mounterBinary(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return process.env.ROOST_MOUNTER ?? path.resolve(here, '..', '..', 'native', 'build', 'roost-mounter');
}

type Pending = { resolve: () => void; reject: (err: Error) => void; what: string };

class Mounter {
  private child: ChildProcessByStdio<Writable, Readable, null> | undefined;
  private readonly pending: Pending[] = [];
  private buffered = '';

  constructor(private readonly binary: string) {}

  call(fields: string[], what: string): Promise<void> {
    const child = this.child ?? this.start();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ resolve, reject, what });
      // Referenced while an answer is due, so a caller with nothing else pending still gets it.
      (child.stdout as Socket).ref();
      child.stdin.write(`${fields.join('\0')}\n`);
    });
  }

  private start(): ChildProcessByStdio<Writable, Readable, null> {
    const child = spawn(this.binary, [], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.child = child;
    child.unref();
    child.stdin.on('error', () => { /* it died: 'close' rejects what is pending */ });
    (child.stdin as Socket).unref();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline;
      while ((newline = this.buffered.indexOf('\n')) >= 0) {
        const answer = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        const request = this.pending.shift();
        if (!request) continue;
        if (answer === '0') request.resolve();
        else request.reject(new EngineError('internal', `${request.what} failed: ${answer.replace(/^\d+ /, '')}`));
      }
      if (this.pending.length === 0) (child.stdout as Socket).unref();
    });
    child.on('error', () => { /* reported through 'close' */ });
    child.on('close', () => {
      if (this.child === child) this.child = undefined;
      this.buffered = '';
      for (const request of this.pending.splice(0)) request.reject(new EngineError('internal', `${request.what} failed: roost-mounter exited`));
    });
    return child;
  }
}

let mounter: Mounter | null | undefined;

function helper(): Mounter | null {
  if (mounter === undefined) {
    const binary = mounterBinary();
    mounter = fs.existsSync(binary) ? new Mounter(binary) : null;
  }
  return mounter;
}

/** Whether `dir` is a mount point in this mount namespace (mountinfo's fifth field). Synchronous: it is
 * asked on every create, start and removal, and mountinfo is a few kB. */
export function isMountPoint(dir: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[4] === dir);
}

/** `mount -t FSTYPE -o OPTIONS SOURCE TARGET`. */
export async function mount(fstype: string, source: string, target: string, options: string): Promise<void> {
  const fields = [fstype, source, target, options];
  const m = helper();
  // A field the line protocol cannot carry goes the slow way (none of the engine's paths has one).
  if (!m || fields.some((f) => /[\0\n]/.test(f))) {
    await runCommand('mount', ['-t', fstype, '-o', options, source, target]);
    return;
  }
  let flags = 0;
  const data: string[] = [];
  for (const option of options.split(',')) {
    if (option in mountFlags) flags |= mountFlags[option]!;
    else if (option) data.push(option);
  }
  await m.call(['mount', fstype, source, target, String(flags), data.join(',')], `mount ${fstype} on ${target}`);
}

/** `umount [-l] TARGET`. */
export async function unmount(target: string, opts: { lazy?: boolean } = {}): Promise<void> {
  const m = helper();
  if (!m || /[\0\n]/.test(target)) {
    await runCommand('umount', [...(opts.lazy ? ['-l'] : []), target]);
    return;
  }
  await m.call(['umount', target, String(opts.lazy ? MNT_DETACH : 0)], `umount ${target}`);
}
