import test from 'ava';
import { BuildProgress, progressMode } from '../../src/cli/build-progress.js';
import type { StepEvent } from '../../src/build/step-events.js';

/** A terminal of `columns` width: what is on screen after the writes (cursor up, erase line / below). */
class FakeTerminal {
  readonly columns = 60;
  private readonly lines: string[] = [''];
  private row = 0;
  raw = '';

  write(chunk: string | Uint8Array): boolean {
    const text = chunk.toString();
    this.raw += text;
    for (const token of text.match(/\x1b\[\d*[A-Za-z]|\n|[^\x1b\n]+/g) ?? []) {
      const esc = /^\x1b\[(\d*)([A-Za-z])$/.exec(token);
      if (esc?.[2] === 'A') this.row = Math.max(0, this.row - Number(esc[1] || 1));
      else if (esc?.[2] === 'J') this.lines.splice(this.row, Infinity, '');
      else if (esc?.[2] === 'K') this.lines[this.row] = '';
      else if (esc) throw new Error(`unexpected escape ${JSON.stringify(token)}`);
      else if (token === '\n') {
        this.row++;
        this.lines[this.row] ??= '';
      } else this.lines[this.row] = (this.lines[this.row] ?? '') + token;
    }
    return true;
  }

  screen(): string[] {
    return this.lines.slice(0, this.row);
  }
}

const step = (number: number, state: StepEvent['state'], seconds?: number, text = `RUN step ${number}`): StepEvent => ({ number, total: 3, text, state, seconds });

test('--progress: auto is tty on a terminal and plain elsewhere; tty needs a terminal; other values are one-line errors', (t) => {
  t.is(progressMode(undefined, true), 'tty');
  t.is(progressMode(undefined, false), 'plain');
  t.is(progressMode('auto', false), 'plain');
  t.is(progressMode('plain', true), 'plain');
  t.is(progressMode('tty', true), 'tty');
  t.throws(() => progressMode('tty', false), { message: '--progress=tty needs a terminal on stdout' });
  t.throws(() => progressMode('fancy', true), { message: 'invalid --progress "fancy": use auto, plain or tty' });
});

test('plain: the stream as it comes, and a line per finished step with its time or CACHED', (t) => {
  const term = new FakeTerminal();
  const view = new BuildProgress(term as never, 'plain');
  view.step(step(1, 'running'));
  view.text('Step 1/3 : FROM busybox\n');
  view.step(step(1, 'done', 0.04));
  view.step(step(2, 'running'));
  view.text('Step 2/3 : RUN step 2\n ---> Using cache\n');
  view.step(step(2, 'cached', 0.01));
  view.step(step(3, 'running'));
  view.text('Step 3/3 : RUN step 3\nhello\n');
  view.step(step(3, 'done', 1.26));
  view.text('Successfully built 0123456789ab\n');
  view.end();
  t.is(term.raw, 'Step 1/3 : FROM busybox\n ---> [1/3] DONE 0.0s\nStep 2/3 : RUN step 2\n ---> Using cache\n ---> [2/3] CACHED\n'
    + 'Step 3/3 : RUN step 3\nhello\n ---> [3/3] DONE 1.3s\nSuccessfully built 0123456789ab\n');
});

test('tty: finished steps stay with their times and cache hits; the running step and the status line are redrawn in place', (t) => {
  const term = new FakeTerminal();
  let now = 0;
  const view = new BuildProgress(term as never, 'tty', () => now);
  view.step(step(1, 'running', undefined, 'FROM busybox'));
  view.text('Step 1/3 : FROM busybox\n');
  view.step(step(1, 'done', 0.2, 'FROM busybox'));
  view.step(step(2, 'cached', 0.01));
  view.step(step(3, 'running', undefined, 'RUN sleep 2 && echo a very long command that does not fit in sixty columns'));
  now = 1500;
  view.text('output of the step\n');
  view.step(step(3, 'running', undefined, 'RUN sleep 2 && echo a very long command that does not fit in sixty columns'));
  t.deepEqual(term.screen(), [
    '=> [1/3] FROM busybox 0.2s',
    '=> CACHED [2/3] RUN step 2',
    '=> [3/3] RUN sleep 2 && echo a very long command that do...',
    '[+] Building 1.5s (2/3 steps, 1 cached)',
  ], 'cut to the width; the output of a step is not shown while it runs');
  now = 2500;
  view.step(step(3, 'done', 2.3, 'RUN sleep 2'));
  view.text('Successfully built 0123456789ab\n');
  view.end();
  t.deepEqual(term.screen(), [
    '=> [1/3] FROM busybox 0.2s',
    '=> CACHED [2/3] RUN step 2',
    '=> [3/3] RUN sleep 2 2.3s',
    'Successfully built 0123456789ab',
    '[+] Building 2.5s (3/3 steps, 1 cached)',
  ]);
});

test('tty: a failed build leaves the failing step and its output on screen', (t) => {
  const term = new FakeTerminal();
  const view = new BuildProgress(term as never, 'tty', () => 0);
  view.step(step(1, 'running', undefined, 'RUN exit 3'));
  view.text('Step 1/3 : RUN exit 3\nlast words\n');
  view.fail();
  t.deepEqual(term.screen(), ['=> [1/3] RUN exit 3 0.0s ERROR', 'Step 1/3 : RUN exit 3', 'last words']);
});
