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
 * with its bar (Downloading, then Extracting); otherwise each change of a layer's status on a line of its
 * own (no bars, so a phase that reports progress shows once). An error message in the stream ends it with
 * that error.
 */
export class ProgressView {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, string>();
  /** Plain output: the status last printed for each layer. */
  private readonly printed = new Map<string, string>();
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
      if (message.id) {
        if (this.printed.get(message.id) === message.status) return;
        this.printed.set(message.id, message.status);
      } else this.printed.clear();
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
