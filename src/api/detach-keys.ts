import { invalid } from '../util/errors.js';

/** Docker's `--detach-keys` syntax: comma-separated `ctrl-<key>` or single characters; default ctrl-p,ctrl-q. */
export function parseDetachKeys(spec: string | undefined): Buffer {
  const text = spec === undefined || spec === '' ? 'ctrl-p,ctrl-q' : spec;
  const bytes: number[] = [];
  for (const key of text.split(',')) {
    const ctrl = /^ctrl-([a-z@[\\\]^_])$/.exec(key);
    if (ctrl) bytes.push(ctrl[1]!.charCodeAt(0) & 0x1f);
    else if (key.length === 1) bytes.push(key.charCodeAt(0));
    else throw invalid(`invalid detach keys (${key}): use ctrl-<value> or a single character`);
  }
  return Buffer.from(bytes);
}

/**
 * Watches a stdin stream for the detach sequence. Bytes that might begin it are held back until it is
 * clear they do not, so nothing of the sequence reaches the container and nothing else is lost.
 */
export class DetachKeyScanner {
  private held: number[] = [];

  constructor(private readonly sequence: Buffer) {}

  /** Returns the bytes to forward, and whether the sequence was completed (forward them, then detach). */
  push(chunk: Buffer): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.sequence[this.held.length]) {
        this.held.push(byte);
        if (this.held.length === this.sequence.length) {
          this.held = [];
          return { forward: Buffer.from(out), detach: true };
        }
        continue;
      }
      out.push(...this.held);
      this.held = [];
      if (byte === this.sequence[0]) this.held.push(byte);
      else out.push(byte);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
