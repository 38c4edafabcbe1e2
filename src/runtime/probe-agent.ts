import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The engine's side of native/roost-probe: one long-lived process per health-checked container, started
 * once through the runtime's exec (so it has the container's namespaces, user, capabilities, seccomp
 * filter and environment), that runs each probe as a fork and exec inside the container. A runtime exec
 * per probe cost the engine a few milliseconds of CPU each time; this costs it a pipe write and read.
 * The protocol is described in roost-probe.c.
 */

/** Where the probe binary is bound into a health-checked container (on /dev's tmpfs: no trace in its layer). */
export const probeMountPath = '/dev/.roost-probe';

/** The static probe binary built from native/roost-probe.c, if it was built. */
export function probeBinary(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const file = process.env.ROOST_PROBE ?? path.resolve(here, '..', '..', 'native', 'build', 'roost-probe');
  return fs.existsSync(file) ? file : undefined;
}

/** A probe's outcome: its exit code (-1 when it timed out) and its output. */
export interface ProbeResult {
  exitCode: number;
  output: string;
}

interface Pending {
  resolve(result: ProbeResult): void;
  reject(err: Error): void;
}

export class ProbeAgent {
  private buffered: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private dead: Error | undefined;

  private constructor(private readonly child: ChildProcess, pidFile: string) {
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    this.started = new Promise<number>((resolve, reject) => {
      let exited = false;
      const failed = (why: string) => reject(new Error(`the runtime could not start the health-check agent: ${stderr.trim() || why}`));
      child.on('error', (err) => { exited = true; failed(err.message); });
      child.on('exit', (code) => { exited = true; failed(`exit ${code}`); });
      // The runtime writes the pid file once the agent runs.
      const poll = (left: number) => {
        if (exited) return;
        let pid = 0;
        try { pid = Number(fs.readFileSync(pidFile, 'utf8').trim()); } catch { /* not yet */ }
        if (pid > 0) resolve(pid);
        else if (left <= 0) failed('no pid file');
        else setTimeout(() => poll(left - 1), 5).unref();
      };
      poll(1000);
    });
    this.started.catch((err: Error) => { this.dead ??= err; });
    child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error) => {
      this.dead ??= err;
      this.pending?.reject(this.dead);
      this.pending = undefined;
    };
    child.stdout!.on('close', () => fail(new Error('the health-check agent exited')));
    child.stdin!.on('error', (err) => fail(err));
    child.on('error', (err) => fail(err));
  }

  /** The agent's pid once the runtime started it; rejects when the runtime could not. */
  readonly started: Promise<number>;

  /**
   * Starts the agent with the runtime's exec of `processFile` (a process spec whose args are the probe
   * binary). The runtime hands the agent our pipes and waits for it, asleep (Node closes a child's stdin
   * when the child exits, so a detached exec would lose the agent its requests).
   */
  static start(runtime: string, runtimeRoot: string, containerId: string, processFile: string, pidFile: string): ProbeAgent {
    const child = spawn(runtime, ['--root', runtimeRoot, 'exec', '--process', processFile, '--pid-file', pidFile, containerId], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.unref();
    return new ProbeAgent(child, pidFile);
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** Runs one probe; probes of one container run one after another. */
  run(command: string[], timeoutMs: number): Promise<ProbeResult> {
    const next = this.queue.then(() => this.runNow(command, timeoutMs));
    this.queue = next.catch(() => {});
    return next;
  }

  private runNow(command: string[], timeoutMs: number): Promise<ProbeResult> {
    if (this.dead) return Promise.reject(this.dead);
    const payload = Buffer.from(`${Math.max(1, Math.round(timeoutMs))}\0${command.map((arg) => `${arg}\0`).join('')}`);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(payload.length);
    return new Promise<ProbeResult>((resolve, reject) => {
      // The agent enforces the timeout; this one only guards against an agent that stopped answering.
      const guard = setTimeout(() => {
        this.stop();
        reject(new Error('the health-check agent stopped answering'));
      }, timeoutMs + 5000);
      guard.unref();
      this.pending = {
        resolve: (result) => { clearTimeout(guard); resolve(result); },
        reject: (err) => { clearTimeout(guard); reject(err); },
      };
      this.child.stdin!.write(Buffer.concat([header, payload]));
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= 4) {
      const length = this.buffered.readUInt32BE(0);
      if (this.buffered.length < 4 + length) return;
      const body = this.buffered.subarray(4, 4 + length);
      this.buffered = this.buffered.subarray(4 + length);
      const nul = body.indexOf(0);
      const exitCode = Number(body.subarray(0, nul < 0 ? body.length : nul).toString('ascii'));
      const output = nul < 0 ? '' : body.subarray(nul + 1).toString('utf8');
      const pending = this.pending;
      this.pending = undefined;
      pending?.resolve({ exitCode, output });
    }
  }

  /** Closes its stdin: the agent exits (a probe in flight is left to its timeout). */
  stop(): void {
    this.dead ??= new Error('the health-check agent was stopped');
    this.child.stdin!.end();
    this.child.stdout!.destroy();
  }
}
