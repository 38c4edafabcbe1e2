import fsp from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** One record of the k8s-file log the monitor writes: `<RFC3339Nano> <stdout|stderr> <F|P> <text>`. */
export interface LogRecord {
  stream: 1 | 2;
  time: string;
  text: string;
}

export interface LogOptions {
  follow: boolean;
  stdout: boolean;
  stderr: boolean;
  since?: number;
  until?: number;
  timestamps: boolean;
  tail?: number;
}

function parseLine(line: string): LogRecord | undefined {
  const first = line.indexOf(' ');
  const second = line.indexOf(' ', first + 1);
  const third = line.indexOf(' ', second + 1);
  if (first < 0 || second < 0 || third < 0) return undefined;
  const stream = line.slice(first + 1, second) === 'stderr' ? 2 : 1;
  const partial = line.slice(second + 1, third) === 'P';
  return { stream, time: line.slice(0, first), text: line.slice(third + 1) + (partial ? '' : '\n') };
}

function secondsOf(time: string): number {
  return Date.parse(time) / 1000;
}

/** Reads a container's log: the whole history (filtered), then new records while `isRunning()` and `follow`. */
export async function* readLog(file: string, opts: LogOptions, isRunning: () => boolean, signal?: AbortSignal): AsyncGenerator<LogRecord> {
  const wanted = (r: LogRecord) =>
    ((r.stream === 1 && opts.stdout) || (r.stream === 2 && opts.stderr)) &&
    (opts.since === undefined || secondsOf(r.time) >= opts.since) &&
    (opts.until === undefined || secondsOf(r.time) <= opts.until);
  let offset = 0;
  let carry = '';
  const readNew = async (): Promise<LogRecord[]> => {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(file, 'r');
    } catch {
      return [];
    }
    try {
      const { size } = await handle.stat();
      if (size <= offset) return [];
      const buffer = Buffer.alloc(size - offset);
      await handle.read(buffer, 0, buffer.length, offset);
      offset = size;
      const text = carry + buffer.toString('utf8');
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      return lines.map(parseLine).filter((r): r is LogRecord => r !== undefined && wanted(r));
    } finally {
      await handle.close();
    }
  };
  let history = await readNew();
  if (opts.tail !== undefined && opts.tail >= 0) history = opts.tail === 0 ? [] : history.slice(-opts.tail);
  yield* history;
  if (!opts.follow) return;
  while (!signal?.aborted) {
    const running = isRunning();
    const fresh = await readNew();
    yield* fresh;
    if (!running) return;
    await sleep(100);
  }
}
