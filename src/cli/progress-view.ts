import { EngineError } from '../util/errors.js';

/** Docker's JSON progress message, as pull and push stream it. */
export interface ProgressLine {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Shows pull/push progress as the docker CLI does: on a terminal one line per layer, redrawn in place
 * with its bar; otherwise each change of status on a line of its own (no bars). An error message in
 * the stream ends it with that error.
 */
export class ProgressView {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, string>();
  private drawn = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout, private readonly tty = Boolean(out.isTTY)) {}

  show(message: ProgressLine): void {
    if (message.error || message.errorDetail) {
      const text = message.errorDetail?.message ?? message.error ?? 'unknown error';
      const [first, ...rest] = text.split('\nhint: ');
      throw new EngineError('unavailable', first!, { hint: rest.join('\nhint: ') || undefined });
    }
    if (!message.status) return;
    const text = message.id ? `${message.id}: ${message.status}${message.progress && this.tty ? ` ${message.progress}` : ''}` : message.status;
    if (!this.tty) {
      if (message.status === 'Downloading' || message.status === 'Pushing' || message.status === 'Extracting') return;
      this.out.write(`${text}\n`);
      return;
    }
    if (!message.id) {
      this.redraw();
      this.out.write(`${text}\n`);
      this.order.length = 0;
      this.lines.clear();
      this.drawn = 0;
      return;
    }
    if (!this.lines.has(message.id)) this.order.push(message.id);
    this.lines.set(message.id, text);
    this.redraw();
  }

  private redraw(): void {
    if (this.drawn) this.out.write(`\x1b[${this.drawn}A`);
    for (const id of this.order) this.out.write(`\x1b[2K${this.lines.get(id)}\n`);
    this.drawn = this.order.length;
  }
}
