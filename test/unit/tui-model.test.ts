import test from 'ava';
import { compileFilter } from '../../src/tui/filter.js';
import { LogRing } from '../../src/tui/log-buffer.js';
import { footerHints, helpLines, keymap, keyNames, resolveKey } from '../../src/tui/keymap.js';
import { cycleSort, initialState, openDetail, setFilter, setList, toggleShowAll, type TuiState } from '../../src/tui/state.js';
import { layout, moveSelection, paneWindow, selectedKey, table, windowOffset } from '../../src/tui/view-models.js';
import { StaticLines } from '../../src/tui/pane-sources.js';
import type { ContainerSummary } from '../../src/tui/types.js';

function container(i: number, extra: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    Id: `${String(i).padStart(4, '0')}${'a'.repeat(60)}`, Names: [`/c${i}`], Image: 'busybox', Command: 'sleep', Created: 1000 + i,
    State: 'running', Status: 'Up 1 minute', Ports: [], Labels: {}, ...extra,
  };
}

function withContainers(n: number, size = { columns: 80, rows: 24 }): TuiState {
  return setList('containers', Array.from({ length: n }, (_, i) => container(i)))(initialState(size));
}

test('filter: words must all match, ! excludes, label= matches keys and values', (t) => {
  const rows = [
    { text: 'web nginx running', labels: { tier: 'front', 'com.docker.compose.project': 'shop' } },
    { text: 'db postgres running', labels: { tier: 'back' } },
    { text: 'old busybox exited', labels: {} },
  ];
  const names = (expr: string) => rows.filter(compileFilter(expr)).map((r) => r.text.split(' ')[0]);
  t.deepEqual(names(''), ['web', 'db', 'old']);
  t.deepEqual(names('RUNNING'), ['web', 'db']);
  t.deepEqual(names('running !web'), ['db']);
  t.deepEqual(names('label=tier'), ['web', 'db']);
  t.deepEqual(names('label=tier=back'), ['db']);
  t.deepEqual(names('!label=tier'), ['old']);
  t.deepEqual(names('label=com.docker.compose.project=shop'), ['web']);
  t.deepEqual(names('!'), ['web', 'db', 'old'], 'a lone ! is no term');
});

test('log ring: keeps the newest lines, counts the dropped ones, joins split lines', (t) => {
  const ring = new LogRing(3);
  ring.write('stdout', 'a\nb\npart');
  t.is(ring.length, 2);
  ring.write('stdout', 'ial\nc\nd\n');
  t.deepEqual([0, 1, 2].map((i) => ring.at(i).text), ['partial', 'c', 'd']);
  t.is(ring.dropped, 2);
  ring.write('stderr', '2024-01-01T00:00:00Z oops\n', true);
  t.deepEqual(ring.at(2), { text: 'oops', time: '2024-01-01T00:00:00Z', stream: 'stderr' });
  ring.write('stdout', 'tail without newline');
  ring.flush();
  t.is(ring.at(2).text, 'tail without newline');
});

test('log ring: 100,000 lines through a 10,000-line ring keep the newest 10,000', (t) => {
  const ring = new LogRing(10_000);
  const chunk = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n') + '\n';
  for (let i = 0; i < 100; i++) ring.write('stdout', chunk);
  t.is(ring.length, 10_000);
  t.is(ring.dropped, 90_000);
  t.is(ring.at(9_999).text, 'line 999');
});

test('key names: bursts of characters split into keys; special keys by name', (t) => {
  t.deepEqual(keyNames('jjj', {}), ['j', 'j', 'j']);
  t.deepEqual(keyNames('', { upArrow: true }), ['up']);
  t.deepEqual(keyNames('', { tab: true, shift: true }), ['S-tab']);
  t.deepEqual(keyNames('c', { ctrl: true }), ['C-c']);
  t.deepEqual(keyNames(' ', {}), ['space']);
});

test('keymap: the pane wins over the list for the same key; views limit actions', (t) => {
  const list = withContainers(3);
  t.is(resolveKey('/', list)?.action, 'filter');
  t.is(resolveKey('s', list)?.action, 'stop');
  const detail = openDetail(list.containers[0]!.Id, 'logs')(list);
  t.is(resolveKey('/', detail)?.action, 'search');
  t.is(resolveKey('f', detail)?.action, 'follow');
  t.is(resolveKey('f', openDetail('x', 'inspect')(list)), undefined, 'follow is for the Logs tab only');
  const images = { ...list, view: 'images' as const };
  t.is(resolveKey('s', images), undefined, 'stop is a container action');
  t.is(resolveKey('P', images)?.action, 'pull');
});

test('keymap: no key is bound twice in one scope and view; footer and help come from the table', (t) => {
  const seen = new Map<string, string>();
  for (const b of keymap) {
    for (const view of b.views ?? ['*']) {
      for (const key of b.keys) {
        const slot = `${b.scope}/${view}/${key}`;
        t.false(seen.has(slot), `${slot} bound to ${seen.get(slot)} and ${b.action}`);
        seen.set(slot, b.action);
      }
    }
  }
  const state = withContainers(1);
  t.true(footerHints(state).some((h) => h.label === 'stop'));
  t.false(footerHints({ ...state, readonly: true }).some((h) => h.label === 'stop'), 'read-only hides actions that change things');
  const help = helpLines().join('\n');
  for (const b of keymap) t.true(help.includes(b.help), `help lists ${b.action}`);
});

test('table: sorted newest first, windowed around the selection, columns fit the width', (t) => {
  let state = withContainers(100, { columns: 60, rows: 15 });
  const height = layout(state).listRows;
  let model = table(state, 'containers', height);
  t.is(model.rows.length, height);
  t.is(model.rows[0]!.key, state.containers[99]!.Id);
  for (const row of model.rows) t.true(row.cells.join(' ').length <= 59);
  state = moveSelection(height + 3)(state);
  model = table(state, 'containers', height);
  t.is(model.rows[model.selected]!.key, selectedKey(state));
  t.is(model.offset, 4);
  state = moveSelection('end')(state);
  t.is(selectedKey(state), state.containers[0]!.Id);
  t.is(table(state, 'containers', height).selected, height - 1);
  const wide = table({ ...state, size: { columns: 160, rows: 40 } }, 'containers', 10);
  t.true(wide.columns.length > table(state, 'containers', height).columns.length, 'wider terminals show more columns');
});

test('table: filter and show-all change what is listed; the selection survives when it still matches', (t) => {
  let state = setList('containers', [container(1), container(2, { State: 'exited', Status: 'Exited (0)' }), container(3, { Labels: { tier: 'front' } })])(initialState({ columns: 80, rows: 24 }));
  t.is(table(state, 'containers', 10).matched, 3);
  state = toggleShowAll(state);
  t.is(table(state, 'containers', 10).matched, 2, 'stopped containers hidden');
  state = setFilter('containers', 'label=tier')(toggleShowAll(state));
  const model = table(state, 'containers', 10);
  t.deepEqual(model.rows.map((r) => r.key), [state.containers[2]!.Id]);
  t.is(model.total, 3);
});

test('window offset moves as little as possible', (t) => {
  t.is(windowOffset(0, 0, 10, 100), 0);
  t.is(windowOffset(12, 0, 10, 100), 3);
  t.is(windowOffset(5, 3, 10, 100), 3);
  t.is(windowOffset(2, 3, 10, 100), 2);
  t.is(windowOffset(99, 0, 10, 100), 90);
});

test('layout: the frame is one line shorter than the terminal; the pane takes the most', (t) => {
  for (const [columns, rows] of [[60, 15], [80, 24], [120, 40]] as const) {
    const state = withContainers(5, { columns, rows });
    const plain = layout(state);
    t.is(plain.listRows + 4, rows - 1);
    const withPane = layout(openDetail('x', 'logs')(state));
    t.is(withPane.listRows + withPane.paneRows + 1 + 4, rows - 1);
    t.true(withPane.paneRows > withPane.listRows);
  }
});

test('pane window: follows the end, scrolls back, shows only matches, marks the current match', (t) => {
  const source = new StaticLines(Array.from({ length: 50 }, (_, i) => ({ text: `line ${i}${i % 10 === 0 ? ' ERROR' : ''}` })));
  const pane = { follow: true, scroll: 0, search: '', match: -1, onlyMatches: false, timestamps: false, wrap: false, since: 0 };
  let model = paneWindow(source, pane, 5, 80);
  t.deepEqual(model.lines.map((l) => l.text), ['line 45', 'line 46', 'line 47', 'line 48', 'line 49']);
  model = paneWindow(source, { ...pane, follow: false, scroll: 10 }, 5, 80);
  t.is(model.lines.at(-1)!.text, 'line 39');
  t.is(model.below, 10);
  model = paneWindow(source, { ...pane, search: 'error', match: 1, follow: false }, 5, 80);
  t.is(model.matches, 5);
  t.is(model.matchNumber, 2);
  const current = model.lines.find((l) => l.current)!;
  t.is(current.text, 'line 10 ERROR');
  t.deepEqual(current.highlight, [[8, 13]]);
  model = paneWindow(source, { ...pane, search: 'error', onlyMatches: true }, 5, 80);
  t.deepEqual(model.lines.map((l) => l.text), ['line 0 ERROR', 'line 10 ERROR', 'line 20 ERROR', 'line 30 ERROR', 'line 40 ERROR']);
  model = paneWindow(new StaticLines([{ text: 'x'.repeat(25) }]), { ...pane, wrap: true }, 5, 10);
  t.is(model.lines.length, 3);
});

test('sort orders: o cycles newest, name, compose project (grouped, no project last), state', (t) => {
  let state = setList('containers', [
    container(1, { Names: ['/b'], Labels: { 'com.docker.compose.project': 'shop' } }),
    container(2, { Names: ['/a'], State: 'exited' }),
    container(3, { Names: ['/c'], Labels: { 'com.docker.compose.project': 'blog' } }),
  ])(initialState({ columns: 80, rows: 24 }));
  const names = () => table(state, 'containers', 10).rows.map((r) => r.cells[0]!.trim().slice(2));
  t.deepEqual(names(), ['c', 'a', 'b']);
  state = cycleSort('containers', 4)(state);
  t.deepEqual(names(), ['a', 'b', 'c']);
  state = cycleSort('containers', 4)(state);
  t.deepEqual(names(), ['c', 'b', 'a'], 'blog, shop, then no project');
  state = cycleSort('containers', 4)(state);
  t.deepEqual(names(), ['b', 'c', 'a'], 'running first');
  state = cycleSort('containers', 4)(state);
  t.deepEqual(names(), ['c', 'a', 'b'], 'back to newest');
});
