import type { StepEvent } from '../build/step-events.js';
import { invalid } from '../util/errors.js';

export type ProgressMode = 'plain' | 'tty';

/** `--progress=auto|plain|tty`: auto is tty on a terminal, else plain; tty needs a terminal. */
export function progressMode(flag: string | undefined, isTTY: boolean): ProgressMode {
  const value = flag ?? 'auto';
  if (value === 'auto') return isTTY ? 'tty' : 'plain';
  if (value === 'plain') return 'plain';
  if (value === 'tty') {
    if (!isTTY) throw invalid('--progress=tty needs a terminal on stdout', 'use --progress=plain (or auto) when the output is a file or a pipe');
    return 'tty';
  }
  throw invalid(`invalid --progress ${JSON.stringify(value)}: use auto, plain or tty`);
}

const seconds = (s: number) => `${s.toFixed(1)}s`;

interface ShownStep extends StepEvent {
  /** When the client saw it start, for the running time of a step still running. */
  seenAt: number;
  /** Output of the step (RUN's output, the classic ` ---> ` lines), shown on a terminal only if the build fails. */
  log: string;
}

/**
 * Shows a build's output with its steps' times.
 * - plain: the classic stream as it comes, and after each step one line ` ---> [N/M] DONE 1.2s` or
 *   ` ---> [N/M] CACHED`.
 * - tty: finished steps as one line each (`=> [N/M] RUN ... 1.2s`, `=> CACHED [N/M] COPY ...`) and, redrawn in
 *   place, the running step with its time so far and a status line; a step's output is shown only if the build
 *   fails. Text outside the steps (`Successfully built ...`) is shown as it comes.
 */
export class BuildProgress {
  private current: ShownStep | undefined;
  private drawn = 0;
  private done = 0;
  private cached = 0;
  private total = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt: number;

  constructor(private readonly out: NodeJS.WritableStream & { columns?: number }, private readonly mode: ProgressMode, private readonly now: () => number = () => performance.now()) {
    this.startedAt = now();
  }

  text(text: string): void {
    if (this.mode === 'plain') {
      this.out.write(text);
      return;
    }
    if (this.current) {
      this.current.log += text;
      return;
    }
    this.clear();
    this.out.write(text);
    this.draw();
  }

  step(event: StepEvent): void {
    this.total = event.total;
    if (this.mode === 'plain') {
      if (event.state !== 'running') this.out.write(` ---> [${event.number}/${event.total}] ${event.state === 'cached' ? 'CACHED' : `DONE ${seconds(event.seconds ?? 0)}`}\n`);
      return;
    }
    if (event.state === 'running') {
      this.current = { ...event, seenAt: this.now(), log: '' };
      this.timer ??= setInterval(() => this.redraw(), 100);
      this.timer.unref?.();
    } else {
      this.done++;
      if (event.state === 'cached') this.cached++;
      this.current = undefined;
      this.clear();
      this.out.write(`${this.fit(this.stepLine(event))}\n`);
    }
    this.redraw();
  }

  /** The build ended: the final status line stays. */
  end(): void {
    this.stopTimer();
    if (this.mode === 'tty') this.redraw();
  }

  /** The build failed: the running step stays on screen with its output. */
  fail(): void {
    this.stopTimer();
    if (this.mode !== 'tty') return;
    this.clear();
    const failed = this.current;
    this.current = undefined;
    if (failed) {
      this.out.write(`${this.fit(`${this.stepLine(failed)} ERROR`)}\n`);
      this.out.write(failed.log);
    }
  }

  private stepLine(step: StepEvent & { seenAt?: number }): string {
    const where = `[${step.number}/${step.total}]`;
    if (step.state === 'cached') return `=> CACHED ${where} ${step.text}`;
    const time = step.state === 'running' ? this.now() / 1000 - step.seenAt! / 1000 : step.seconds ?? 0;
    return `=> ${where} ${step.text} ${seconds(time)}`;
  }

  private statusLine(): string {
    const counts = `${this.done}/${this.total || '?'} steps${this.cached ? `, ${this.cached} cached` : ''}`;
    return `[+] Building ${seconds((this.now() - this.startedAt) / 1000)} (${counts})`;
  }

  /** One screen line: longer lines would wrap and break the redraw. */
  private fit(line: string): string {
    const width = (this.out.columns || 80) - 1; // a pty of unknown size says 0
    const flat = line.replace(/\s*\n\s*/g, ' ');
    return flat.length > width ? `${flat.slice(0, Math.max(0, width - 3))}...` : flat;
  }

  private clear(): void {
    if (this.drawn) this.out.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    const lines = [...(this.current ? [this.stepLine(this.current)] : []), this.statusLine()];
    for (const line of lines) this.out.write(`\x1b[2K${this.fit(line)}\n`);
    this.drawn = lines.length;
  }

  private redraw(): void {
    this.clear();
    this.draw();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
