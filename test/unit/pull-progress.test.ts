import { Writable } from 'node:stream';
import test from 'ava';
import { LayerProgress, type ProgressMessage } from '../../src/engine/pull-progress.js';
import { ProgressView } from '../../src/cli/progress-view.js';

function recorder(): { messages: ProgressMessage[]; clock: { now: number }; layer: (size: number, unpacked?: number) => LayerProgress } {
  const messages: ProgressMessage[] = [];
  const clock = { now: 0 };
  return { messages, clock, layer: (size, unpacked) => new LayerProgress('abc', (m) => messages.push(m), size, unpacked, () => clock.now) };
}

test('a layer goes through Docker\'s phases in order, unpacking figures held back until the download is complete', (t) => {
  const { messages, clock, layer } = recorder();
  const view = layer(1000);
  view.pullingFsLayer();
  view.downloading(400);
  view.extracting(2000); // unpacking runs with the download: not shown yet
  clock.now += 150;
  view.downloading(1000);
  view.downloaded();
  view.extracting(5000);
  view.verified(true);
  clock.now += 150;
  view.extracting(9000);
  view.complete(true);
  t.deepEqual(messages.map((m) => [m.status, m.progressDetail]), [
    ['Pulling fs layer', {}],
    ['Downloading', { current: 400, total: 1000 }],
    ['Downloading', { current: 1000, total: 1000 }],
    ['Verifying Checksum', {}],
    ['Download complete', {}],
    ['Extracting', { current: 5000 }], // a compressed layer's unpacked size is not known before its end
    ['Extracting', { current: 9000 }],
    ['Extracting', { current: 9000 }],
    ['Pull complete', {}],
  ]);
  t.true(messages.every((m) => m.id === 'abc'));
  t.is(messages[5]!.progress, '5.0kB');
});

test('progress is throttled per layer, the last figure of a phase always goes; an uncompressed layer has an unpacked total', (t) => {
  const { messages, clock, layer } = recorder();
  const view = layer(3000, 3000);
  for (const n of [100, 200, 300]) view.downloading(n);
  view.downloading(3000);
  view.verified(true);
  for (const n of [1000, 2000]) view.extracting(n);
  clock.now += 150;
  view.extracting(2500);
  view.complete(true);
  t.deepEqual(messages.map((m) => `${m.status} ${m.progressDetail?.current ?? ''}/${m.progressDetail?.total ?? ''}`), [
    'Downloading 100/3000', 'Downloading 3000/3000', 'Download complete /', 'Extracting 0/3000', 'Extracting 2500/3000', 'Extracting 2500/3000', 'Pull complete /',
  ]);
  t.regex(messages[4]!.progress!, /^\[=+>\s+\] 2\.5kB\/3\.0kB$/);
});

test('a layer whose snapshot exists is only downloaded: no Extracting', (t) => {
  const { messages, layer } = recorder();
  const view = layer(10);
  view.downloading(10);
  view.downloaded();
  view.verified(false);
  view.complete(false);
  t.deepEqual(messages.map((m) => m.status), ['Downloading', 'Verifying Checksum', 'Download complete', 'Pull complete']);
});

function capture(tty: boolean): { view: ProgressView; text: () => string } {
  let text = '';
  const out = new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } }) as unknown as NodeJS.WriteStream;
  return { view: new ProgressView(out, tty), text: () => text };
}

const pullMessages: ProgressMessage[] = [
  { status: 'Pulling from tools/fat', id: '1' },
  { status: 'Pulling fs layer', id: 'abc', progressDetail: {} },
  { status: 'Downloading', id: 'abc', progressDetail: { current: 5, total: 10 }, progress: '[=====>    ] 5B/10B' },
  { status: 'Downloading', id: 'abc', progressDetail: { current: 10, total: 10 }, progress: '[=========>] 10B/10B' },
  { status: 'Verifying Checksum', id: 'abc', progressDetail: {} },
  { status: 'Download complete', id: 'abc', progressDetail: {} },
  { status: 'Extracting', id: 'abc', progressDetail: { current: 512 }, progress: '512B' },
  { status: 'Extracting', id: 'abc', progressDetail: { current: 2048 }, progress: '2.0kB' },
  { status: 'Pull complete', id: 'abc', progressDetail: {} },
  { status: 'Digest: sha256:00' },
];

test('plain output: each phase of a layer once, Extracting included, no bars', (t) => {
  const { view, text } = capture(false);
  for (const m of pullMessages) view.show(m);
  t.is(text(), [
    '1: Pulling from tools/fat', 'abc: Pulling fs layer', 'abc: Downloading', 'abc: Verifying Checksum', 'abc: Download complete',
    'abc: Extracting', 'abc: Pull complete', 'Digest: sha256:00', '',
  ].join('\n'));
});

test('terminal output: the layer\'s line is redrawn through Extracting with its figure', (t) => {
  const { view, text } = capture(true);
  const seen: string[] = [];
  for (const m of pullMessages.slice(0, -2)) {
    view.show(m);
    seen.push(text());
  }
  t.true(seen.at(-1)!.endsWith('\x1b[2Kabc: Extracting 2.0kB\n'), JSON.stringify(seen.at(-1)));
  view.show(pullMessages.at(-2)!);
  t.true(text().endsWith('\x1b[2Kabc: Pull complete\n'));
});
