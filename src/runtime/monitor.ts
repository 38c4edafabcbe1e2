import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../util/errors.js';

/** The monitor binary built from native/roost-monitor.c. */
export function monitorBinary(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return process.env.ROOST_MONITOR ?? path.resolve(here, '..', '..', 'native', 'build', 'roost-monitor');
}

export interface MonitorFiles {
  socket: string;
  exitFile: string;
  pidFile: string;
  debugLog: string;
}

export interface MonitorLaunch {
  id: string;
  bundle: string;
  runtime: string;
  runtimeRoot: string;
  files: MonitorFiles;
  logFile?: string;
  tty: boolean;
  stdin: boolean;
  execProcessFile?: string;
}

/** Reads the monitor's status lines (`created <pid>`, `started <pid>`, `error <message>`). */
class StatusReader {
  private buffered = '';
  private waiting: Array<(line: string) => void> = [];
  private lines: string[] = [];
  private ended = false;

  constructor(stream: NodeJS.ReadableStream) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        this.push(this.buffered.slice(0, nl));
        this.buffered = this.buffered.slice(nl + 1);
      }
    });
    stream.on('end', () => { this.ended = true; this.push(''); });
    stream.on('error', () => { this.ended = true; this.push(''); });
  }

  private push(line: string) {
    const waiter = this.waiting.shift();
    if (waiter) waiter(line);
    else this.lines.push(line);
  }

  next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve('');
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

function statusToPid(line: string, expected: 'created' | 'started', debugLog: string): number {
  if (line.startsWith(`${expected} `)) return Number(line.slice(expected.length + 1));
  if (line.startsWith('error ')) throw new EngineError('internal', line.slice('error '.length).trim());
  let detail = '';
  try { detail = fs.readFileSync(debugLog, 'utf8').trim().split('\n').slice(-2).join(' '); } catch { /* no log */ }
  throw new EngineError('internal', `container monitor exited unexpectedly${detail ? `: ${detail}` : ''}`);
}

export interface StartedMonitor {
  /** The container's init pid once created (container mode); 0 for an exec until it starts. */
  pid: number;
  /** The monitor's own pid: an exec's process inherits its cgroups. */
  monitorPid: number;
  /** Lets the process run; resolves with its pid once the runtime started it. */
  start(): Promise<number>;
  abort(): void;
}

/**
 * Spawns a detached monitor. Container mode resolves once the runtime created the container; exec mode
 * resolves at once. Either way nothing runs until start(), so the caller can attach first.
 */
export async function launchMonitor(launch: MonitorLaunch): Promise<StartedMonitor> {
  const args = [
    '--id', launch.id, '--bundle', launch.bundle, '--runtime', launch.runtime, '--runtime-root', launch.runtimeRoot,
    '--socket', launch.files.socket, '--exit-file', launch.files.exitFile, '--pid-file', launch.files.pidFile,
  ];
  if (launch.logFile) args.push('--log', launch.logFile);
  if (launch.tty) args.push('--tty');
  if (launch.stdin) args.push('--stdin');
  if (launch.execProcessFile) args.push('--exec', launch.execProcessFile);
  const debugFd = fs.openSync(launch.files.debugLog, 'a', 0o600);
  const child = spawn(monitorBinary(), args, { detached: true, stdio: ['ignore', debugFd, debugFd, 'pipe', 'pipe'] });
  fs.closeSync(debugFd);
  child.unref();
  const spawnError = new Promise<never>((_, reject) => child.once('error', (err) => reject(new EngineError('unavailable', `cannot start the container monitor: ${err.message}`, { hint: 'run `npm run build` to build native/build/roost-monitor' }))));
  spawnError.catch(() => {});
  const statusStream = child.stdio[3] as NodeJS.ReadableStream;
  const startPipe = child.stdio[4] as NodeJS.WritableStream;
  const status = new StatusReader(statusStream);
  (statusStream as unknown as net.Socket).unref?.();
  (startPipe as unknown as net.Socket).unref?.();
  startPipe.on('error', () => {});
  const start = async () => {
    startPipe.write('s');
    startPipe.end();
    return statusToPid(await Promise.race([status.next(), spawnError]), 'started', launch.files.debugLog);
  };
  const abort = () => startPipe.end();
  if (launch.execProcessFile) return { pid: 0, monitorPid: child.pid ?? 0, start, abort };
  const createdPid = statusToPid(await Promise.race([status.next(), spawnError]), 'created', launch.files.debugLog);
  return { pid: createdPid, monitorPid: child.pid ?? 0, start, abort };
}

const frame = { stdin: 0, stdout: 1, stderr: 2, exit: 3, closeStdin: 4, resize: 5 } as const;

/**
 * The daemon's connection to one monitor: output frames in, stdin/resize out.
 * Emits 'output' (stream: 1|2, data), 'exit' (code), 'close'.
 */
export class MonitorLink extends EventEmitter {
  private readonly socket: net.Socket;
  private pending: Buffer = Buffer.alloc(0);

  private constructor(socket: net.Socket) {
    super();
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.emit('close'));
    socket.on('error', () => {});
  }

  static connect(socketPath: string): Promise<MonitorLink> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      socket.once('connect', () => resolve(new MonitorLink(socket)));
      socket.once('error', reject);
    });
  }

  /** Connects to a monitor that was just spawned: its socket may not exist for a few milliseconds. */
  static async connectFresh(socketPath: string, timeoutMs = 5000): Promise<MonitorLink> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await MonitorLink.connect(socketPath);
      } catch (err) {
        if (Date.now() > deadline) throw new EngineError('internal', `the container monitor did not open ${socketPath}: ${(err as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }

  private onData(chunk: Buffer) {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 5) {
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + length) break;
      const type = this.pending[0]!;
      const payload = this.pending.subarray(5, 5 + length);
      this.pending = this.pending.subarray(5 + length);
      if (type === frame.exit) this.emit('exit', Number(payload.toString('ascii')));
      else this.emit('output', type, Buffer.from(payload));
    }
  }

  private send(type: number, payload: Buffer) {
    if (this.socket.destroyed) return;
    const header = Buffer.alloc(5);
    header[0] = type;
    header.writeUInt32BE(payload.length, 1);
    this.socket.write(Buffer.concat([header, payload]));
  }

  writeStdin(data: Buffer) {
    this.send(frame.stdin, data);
  }

  closeStdin() {
    this.send(frame.closeStdin, Buffer.alloc(0));
  }

  resize(rows: number, cols: number) {
    this.send(frame.resize, Buffer.from(`${rows} ${cols}`));
  }

  close() {
    this.socket.destroy();
  }
}
