/**
 * The log pane's lines, kept outside React: a ring of at most `capacity` lines. A flood of output costs
 * one array slot per line and never a render per line (the dashboard redraws at its own frame rate);
 * when the ring is full the oldest lines leave it and `dropped` counts them, so the pane can say so.
 */
export interface LogLine {
  text: string;
  /** RFC 3339 time the engine stamped the line with, when asked for timestamps. */
  time?: string;
  stream: 'stdout' | 'stderr';
}

export class LogRing {
  private readonly lines: (LogLine | undefined)[];
  private start = 0;
  private count = 0;
  /** Lines that left the ring because it was full. */
  dropped = 0;
  /** Changes whenever a line is added or the ring is cleared (for caches keyed on content). */
  version = 0;
  private readonly partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };

  constructor(readonly capacity = 50_000) {
    this.lines = new Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Line i, 0 being the oldest kept. */
  at(i: number): LogLine {
    return this.lines[(this.start + i) % this.capacity]!;
  }

  push(line: LogLine): void {
    if (this.count < this.capacity) {
      this.lines[(this.start + this.count) % this.capacity] = line;
      this.count++;
    } else {
      this.lines[this.start] = line;
      this.start = (this.start + 1) % this.capacity;
      this.dropped++;
    }
    this.version++;
  }

  /** Adds a chunk of a stream's output, keeping an unfinished last line until its newline arrives. */
  write(stream: 'stdout' | 'stderr', chunk: string, timestamps = false): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split('\n');
    this.partial[stream] = parts.pop()!;
    for (const part of parts) this.push(splitTime(part.replace(/\r$/, ''), stream, timestamps));
  }

  /** Emits what is left of unfinished lines (the stream ended). */
  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.push({ text: this.partial[stream], stream });
      this.partial[stream] = '';
    }
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
    this.dropped = 0;
    this.partial.stdout = '';
    this.partial.stderr = '';
    this.version++;
  }
}

function splitTime(line: string, stream: 'stdout' | 'stderr', timestamps: boolean): LogLine {
  if (!timestamps) return { text: line, stream };
  const space = line.indexOf(' ');
  if (space < 0) return { text: line, stream };
  return { time: line.slice(0, space), text: line.slice(space + 1), stream };
}
