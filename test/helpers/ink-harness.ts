/**
 * Drives an Ink app without a terminal: a fake stdout of a chosen size that keeps every frame, and a fake
 * stdin that delivers one write as one input (as a terminal delivers a key, or a burst).
 */
import { EventEmitter } from 'node:events';

export class FakeStdout extends EventEmitter {
  readonly frames: string[] = [];
  isTTY = true;
  constructor(public columns: number, public rows: number) {
    super();
  }
  write = (data: string): boolean => {
    this.frames.push(data);
    return true;
  };
  get lastFrame(): string {
    return this.frames.at(-1) ?? '';
  }
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

export class FakeStdin extends EventEmitter {
  isTTY = true;
  private pending: string[] = [];
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
  read = (): string | null => this.pending.shift() ?? null;
  write(data: string): void {
    this.pending.push(data);
    this.emit('readable');
  }
}

/** Resolves once `check` holds for the last frame (polling), or rejects with that frame after `ms`. */
export async function frameWhere(out: FakeStdout, check: (frame: string) => boolean, ms = 5000): Promise<string> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check(out.lastFrame)) return out.lastFrame;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no frame matched within ${ms} ms; last frame:\n${out.lastFrame}`);
}

/** Waits until no new frame has arrived for `quietMs`. */
export async function settled(out: FakeStdout, quietMs = 150, ms = 5000): Promise<string> {
  const until = Date.now() + ms;
  let count = out.frames.length;
  let since = Date.now();
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
    if (out.frames.length !== count) {
      count = out.frames.length;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return out.lastFrame;
  }
  return out.lastFrame;
}
