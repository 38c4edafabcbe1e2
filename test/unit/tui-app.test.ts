// The dashboard's components and controller, driven key by key against a fake engine (test/helpers/
// fake-engine.ts) with 5,000 containers, at the sizes users run it at. Frames are compared without colour.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { createElement } from 'react';
import { render } from 'ink';
import { ApiClient } from '../../src/api/client.js';
import { App } from '../../src/tui/components/app.js';
import { Controller, type TuiHost } from '../../src/tui/controller.js';
import { EngineApi } from '../../src/tui/engine-api.js';
import { initialState } from '../../src/tui/state.js';
import { Store } from '../../src/tui/store.js';
import { startFakeEngine, type FakeEngine } from '../helpers/fake-engine.js';
import { FakeStdin, FakeStdout, frameWhere, settled } from '../helpers/ink-harness.js';
import { repoRoot } from '../helpers/roost-env.js';

interface Mounted {
  engine: FakeEngine;
  out: FakeStdout;
  keys: FakeStdin;
  controller: Controller;
  copied: string[];
  quit: () => boolean;
  frame(): string;
  press(...keys: string[]): Promise<string>;
  unmount(): Promise<void>;
}

const keyCodes: Record<string, string> = { enter: '\r', esc: '\x1b', down: '\x1b[B', up: '\x1b[A', tab: '\t', backspace: '\x7f' };

async function mount(columns: number, rows: number, opts: { readonly?: boolean; mono?: boolean; engine?: FakeEngine } = {}): Promise<Mounted> {
  const engine = opts.engine ?? await startFakeEngine();
  const out = new FakeStdout(columns, rows);
  const keys = new FakeStdin();
  const copied: string[] = [];
  let quitted = false;
  const host: TuiHost = { quit: () => { quitted = true; }, suspend: async (run) => run(), copy: (t) => copied.push(t), io: { stdin: keys as never, stdout: out as never } };
  const store = new Store(initialState({ columns, rows, readonly: opts.readonly, mono: opts.mono }));
  const api = new EngineApi(new ApiClient(engine.socket));
  const controller = new Controller(store, api, host, { statsIntervalMs: 3_600_000, reconnect: async () => new EngineApi(new ApiClient(engine.socket)) });
  const ink = render(createElement(App, { controller }), { stdout: out as never, stdin: keys as never, debug: true, exitOnCtrlC: false, patchConsole: false });
  controller.start();
  const frame = () => stripVTControlCharacters(out.lastFrame);
  await frameWhere(out, (f) => f.includes('svc-'), 10_000);
  await settled(out);
  return {
    engine, out, keys, controller, copied, quit: () => quitted, frame,
    async press(...names) {
      for (const name of names) {
        keys.write(keyCodes[name] ?? name);
        await new Promise((r) => setTimeout(r, 5));
      }
      await settled(out, 120);
      return frame();
    },
    async unmount() {
      controller.stop();
      ink.unmount();
      if (!opts.engine) await engine.close();
    },
  };
}

const goldenDir = path.join(repoRoot, 'test', 'fixtures', 'tui');

for (const [columns, rows] of [[80, 24], [120, 40], [60, 15]] as const) {
  test.serial(`golden frame of 5,000 containers at ${columns}×${rows}: fits the terminal, one line short of its height`, async (t) => {
    const m = await mount(columns, rows);
    try {
      const frame = m.frame();
      const lines = frame.split('\n');
      t.true(lines.length <= rows - 1, `${lines.length} lines`);
      for (const line of lines) t.true([...line].length <= columns, `too wide: ${line}`);
      t.true(frame.includes('● svc-0000') || frame.includes('svc-0000'));
      const file = path.join(goldenDir, `containers-${columns}x${rows}.txt`);
      if (process.env.UPDATE_GOLDEN) fs.writeFileSync(file, frame);
      t.is(frame, fs.readFileSync(file, 'utf8'), `frame differs from ${path.relative(repoRoot, file)} (UPDATE_GOLDEN=1 rewrites it)`);
    } finally {
      await m.unmount();
    }
  });
}

test.serial('filter: a burst of keys, ! to exclude, label= to match labels; Esc clears it', async (t) => {
  const m = await mount(100, 30);
  try {
    let frame = await m.press('/svc-0042');
    t.true(frame.includes('filter: svc-0042'));
    frame = await m.press('enter');
    const rowsShown = frame.split('\n').filter((l) => /^[ ▸]\S svc-/.test(l));
    t.deepEqual(rowsShown.map((l) => /svc-\d+/.exec(l)![0]), ['svc-0042']);
    await m.press('/', ...Array(8).fill('backspace'), 'label=com.docker.compose.project=proj1', 'enter');
    t.is(m.frame().split('\n').filter((l) => /^[ ▸]\S svc-/.test(l)).length, 0, 'only even rows have the label, and none is proj1');
    await m.press('/', ...Array(40).fill('backspace'), 'label=com.docker.compose.project=proj2', 'enter');
    t.true(m.frame().split('\n').filter((l) => /^[ ▸]\S svc-/.test(l)).every((l) => Number(/svc-(\d+)/.exec(l)![1]) % 4 === 2));
    await m.press('/', ...Array(40).fill('backspace'), '!running', 'enter');
    frame = m.frame();
    t.false(/● svc-/.test(frame), 'no running container shown');
    t.true(/■ svc-/.test(frame), 'exited ones are');
    frame = await m.press('esc');
    t.true(frame.includes('svc-0000'));
    t.false(frame.includes('filter:'));
  } finally {
    await m.unmount();
  }
});

test.serial('selection moves with j/k and keys arriving as one burst are all applied', async (t) => {
  const m = await mount(100, 30);
  try {
    const frame = await m.press('jjj');
    t.regex(frame, /^▸. svc-0003 /m, 'the selection marker is on the fourth row');
    t.is(frame.split('\n').filter((l) => l.startsWith('▸')).length, 1);
    await m.press('y');
    t.deepEqual(m.copied, [m.engine.containers[3]!.Id], 'y copies the full ID of the fourth row');
    await m.press('G', 'y');
    t.is(m.copied.at(-1), m.engine.containers.at(-1)!.Id);
  } finally {
    await m.unmount();
  }
});

test.serial('logs: open, search with highlight and n/N, only matching lines, tabs', async (t) => {
  const m = await mount(100, 30);
  try {
    let frame = await m.press('enter');
    frame = await frameWhere(m.out, (f) => f.includes('request 199'));
    t.true(stripVTControlCharacters(frame).includes('following'));
    await m.press('/', 'ERROR', 'enter');
    frame = m.frame();
    t.regex(frame, /\/ERROR 8\/8/, 'search starts at the newest match');
    frame = await m.press('n');
    t.regex(frame, /\/ERROR 1\/8/, 'n wraps to the first');
    frame = await m.press('N');
    t.regex(frame, /\/ERROR 8\/8/);
    frame = await m.press('F');
    const shown = frame.split('\n').filter((l) => l.includes('request'));
    t.is(shown.length, 8);
    t.true(shown.every((l) => l.includes('ERROR')));
    frame = await m.press('tab', 'tab');
    t.true(frame.includes('"Id"'), 'Inspect tab shows the JSON');
    frame = await m.press('tab');
    t.true(frame.includes('MODE=test'), 'Env tab');
    frame = await m.press('tab');
    t.true(frame.includes('80/tcp') && frame.includes('10.88.0.5'), 'Ports tab');
    frame = await m.press('esc');
    t.false(frame.includes('Inspect'));
  } finally {
    await m.unmount();
  }
});

test.serial('actions: the engine gets the call, the command log shows the roost command, failures show the engine\'s error', async (t) => {
  const m = await mount(100, 30);
  try {
    const first = m.engine.containers[0]!;
    let frame = await m.press('s');
    t.true(m.engine.calls.includes(`POST /containers/${first.Id}/stop`));
    t.true(frame.includes('$ roost stop svc-0000'));
    frame = await m.press('u');
    t.true(frame.includes('✖ cannot start: the fake engine refuses'));
    frame = await m.press('K');
    t.true(frame.includes('Signal to send to svc-0000'));
    frame = await m.press('down', 'enter');
    t.true(m.engine.calls.includes(`POST /containers/${first.Id}/kill?signal=SIGKILL`));
    frame = await m.press('d');
    t.true(frame.includes('Remove container svc-0000? (y/n)'));
    await m.press('n');
    t.false(m.engine.calls.some((c) => c.startsWith('DELETE')));
    await m.press('d', 'y');
    t.true(m.engine.calls.includes(`DELETE /containers/${first.Id}?force=1`));
    frame = await frameWhere(m.out, (f) => !f.includes('svc-0000 '));
    t.pass();
  } finally {
    await m.unmount();
  }
});

test.serial('read-only: actions are refused with a toast and never reach the engine', async (t) => {
  const m = await mount(100, 30, { readonly: true });
  try {
    const frame = await m.press('s');
    t.true(frame.includes('read-only dashboard'));
    t.deepEqual(m.engine.calls, []);
  } finally {
    await m.unmount();
  }
});

test.serial('pull runs as a job with per-layer progress and survives switching views', async (t) => {
  const m = await mount(120, 30);
  try {
    m.engine.pullStepMs = 150;
    await m.press('2', 'P', 'alpine:3.19', 'enter');
    let frame = await frameWhere(m.out, (f) => /⇣ pull alpine:3\.19\s+\d\/2 layers/.test(stripVTControlCharacters(f)));
    await m.press('1');
    frame = await frameWhere(m.out, (f) => stripVTControlCharacters(f).includes('pulled alpine:3.19'), 5000);
    t.true(stripVTControlCharacters(frame).includes('svc-'), 'still on the containers view');
    await m.press('2', 'P', 'missing:1', 'enter');
    frame = await frameWhere(m.out, (f) => stripVTControlCharacters(f).includes('manifest unknown'));
    t.regex(stripVTControlCharacters(frame), /✖ pull missing:1: pull access denied/);
  } finally {
    await m.unmount();
  }
});

test.serial('the engine going away shows a banner; the dashboard reconnects on its own', async (t) => {
  const engine = await startFakeEngine();
  const m = await mount(100, 30, { engine });
  try {
    await engine.goAway();
    let frame = await frameWhere(m.out, (f) => stripVTControlCharacters(f).includes('engine unreachable'));
    t.true(stripVTControlCharacters(frame).includes('retrying'));
    await engine.comeBack();
    frame = await frameWhere(m.out, (f) => !stripVTControlCharacters(f).includes('engine unreachable'), 10_000);
    t.true(stripVTControlCharacters(frame).includes('svc-0000'));
  } finally {
    await m.unmount();
    await engine.close();
  }
});

test.serial('NO_COLOR: no colour codes, state still shown by glyph and word; resize reflows', async (t) => {
  const m = await mount(100, 30, { mono: true });
  try {
    const raw = m.out.lastFrame;
    t.false(/\x1b\[3[0-9]m/.test(raw), 'no foreground colours');
    t.true(raw.includes('● svc-0000') && raw.includes('Up 2 hours'));
    t.true(raw.includes('■ svc-0002') && raw.includes('Exited'));
    m.out.resize(60, 15);
    const frame = await frameWhere(m.out, (f) => stripVTControlCharacters(f).split('\n').every((l) => [...l].length <= 60) && stripVTControlCharacters(f).split('\n').length <= 14);
    t.true(stripVTControlCharacters(frame).includes('svc-0000'));
  } finally {
    await m.unmount();
  }
});

test.serial('help lists the keys from the keymap; any key closes it; q quits', async (t) => {
  const m = await mount(100, 40);
  try {
    let frame = await m.press('?');
    t.true(frame.includes('Keys (↑/↓ scroll'));
    t.true(frame.includes('Stop the container'));
    frame = await m.press('x');
    t.false(frame.includes('Keys (↑/↓ scroll'));
    await m.press(':', 'quit', 'enter');
    t.true(m.quit());
  } finally {
    await m.unmount();
  }
});

test.serial('system view: the doctor with its fixes, and the commands run from the dashboard', async (t) => {
  const m = await mount(120, 40);
  try {
    await m.press('s');
    const frame = await m.press('5');
    t.true(frame.includes('✔ subordinate ids: uids 100000+65536'));
    t.true(frame.includes('✖ cgroups: not delegated — fix: enable systemd user delegation'));
    t.true(frame.includes('$ roost stop svc-0000'));
  } finally {
    await m.unmount();
  }
});

test.serial('a flood of log lines: the newest shown, the dropped ones counted, keys still answered', async (t) => {
  const engine = await startFakeEngine();
  engine.logLines = Array.from({ length: 60_000 }, (_, i) => `2026-01-01T00:00:00.000000000Z line ${i}\n`);
  const m = await mount(100, 30, { engine });
  try {
    await m.press('enter');
    let frame = await frameWhere(m.out, (f) => stripVTControlCharacters(f).includes('line 59999'), 20_000);
    t.regex(stripVTControlCharacters(frame), /10000 oldest dropped/);
    frame = await m.press('k', 'k');
    t.regex(frame, /\+2 new/);
    t.false(frame.includes('line 59999'));
  } finally {
    await m.unmount();
    await engine.close();
  }
});
