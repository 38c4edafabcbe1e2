/**
 * Pure view-models: what each list shows (filtered, sorted, windowed, in columns that fit the width),
 * the screen's layout, and the detail pane's visible lines. Components render these and nothing else.
 */
import { humanSize, timeAgo } from '../util/human.js';
import { compileFilter, type Filterable } from './filter.js';
import { select, type PaneState, type TuiState, type Update, type ViewName } from './state.js';
import type { ContainerSummary, ImageSummary, NetworkSummary, VolumeSummary } from './types.js';

export type Tone = 'running' | 'paused' | 'stopped' | 'created' | 'warn' | 'error' | 'plain' | 'dim';

export interface Column { title: string; width: number; align?: 'right' }
export interface Row { key: string; cells: string[]; tone: Tone }
export interface TableModel {
  columns: Column[];
  rows: Row[];
  /** Index of the selected row within `rows` (the window), or -1. */
  selected: number;
  offset: number;
  /** Rows after filtering, and before. */
  matched: number;
  total: number;
}

// ---------------------------------------------------------------------------------------------- layout

export interface Layout { listRows: number; paneRows: number; jobRows: number; banner: boolean }

/**
 * Splits the terminal: header, optional banner, table heading, list, optional detail pane (its own tab
 * line plus lines), running jobs, a status line and the footer. One line is left free: Ink clears the
 * whole screen whenever a frame is as tall as the terminal, and that is the flicker users complain of.
 */
export function layout(state: TuiState): Layout {
  const banner = state.connection.state === 'down';
  const jobRows = Math.min(2, state.jobs.filter((j) => j.state === 'running').length);
  const usable = Math.max(4, state.size.rows - 1);
  const fixed = 4 + (banner ? 1 : 0) + jobRows;
  const room = Math.max(2, usable - fixed);
  if (!state.detail) return { listRows: room, paneRows: 0, jobRows, banner };
  const listRows = Math.max(1, Math.min(Math.floor(room / 3), 12));
  return { listRows, paneRows: Math.max(1, room - listRows - 1), jobRows, banner };
}

// --------------------------------------------------------------------------------------------- columns

interface ColumnSpec<T> {
  title: string;
  min: number;
  max: number;
  /** Lower shows first; columns drop from the highest when the width runs out. */
  priority: number;
  align?: 'right';
  value(row: T): string;
}

/**
 * The columns that fit: in priority order, each at the width its content needs; the first one that only
 * fits squeezed to its minimum is the last one taken.
 */
function fitColumns<T>(specs: ColumnSpec<T>[], width: number, natural: (spec: ColumnSpec<T>) => number): ColumnSpec<T>[] {
  const chosen: ColumnSpec<T>[] = [];
  let used = 0;
  for (const spec of [...specs].sort((a, b) => a.priority - b.priority)) {
    const sep = chosen.length ? 1 : 0;
    const want = Math.max(spec.min, Math.min(spec.max, natural(spec)));
    if (used + sep + want <= width) {
      chosen.push(spec);
      used += sep + want;
    } else {
      if (used + sep + spec.min <= width) chosen.push(spec);
      break;
    }
  }
  return specs.filter((s) => chosen.includes(s));
}

/**
 * Column widths: every chosen column gets its minimum, then grows toward the width its content needs
 * (in priority order), and what is left goes to the columns still short of their maximum.
 */
function widthsFor<T>(specs: ColumnSpec<T>[], width: number, natural: (spec: ColumnSpec<T>) => number): number[] {
  const widths = specs.map((s) => s.min);
  let spare = width - widths.reduce((a, b) => a + b, 0) - (specs.length - 1);
  const byPriority = specs.map((s, i) => ({ s, i })).sort((a, b) => a.s.priority - b.s.priority);
  for (const { s, i } of byPriority) {
    if (spare <= 0) break;
    const grow = Math.min(spare, Math.max(0, Math.min(s.max, natural(s)) - widths[i]!));
    widths[i]! += grow;
    spare -= grow;
  }
  for (const { s, i } of byPriority) {
    if (spare <= 0) break;
    const grow = Math.min(spare, s.max - widths[i]!);
    widths[i]! += grow;
    spare -= grow;
  }
  return widths;
}

export function fit(text: string, width: number, align?: 'right'): string {
  const chars = [...text];
  if (chars.length > width) return width <= 1 ? chars.slice(0, width).join('') : `${chars.slice(0, width - 1).join('')}…`;
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

// -------------------------------------------------------------------------------------------- sparkline

const bars = '▁▂▃▄▅▆▇█';
export function sparkline(values: number[], width: number, ceiling?: number): string {
  const shown = values.slice(-width);
  const top = Math.max(ceiling ?? 0, ...shown, 1e-9);
  return shown.map((v) => bars[Math.min(bars.length - 1, Math.max(0, Math.round((v / top) * (bars.length - 1))))]).join('').padStart(width);
}

// --------------------------------------------------------------------------------------------- rows

export function containerName(c: ContainerSummary): string {
  return (c.Names[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
}

export const stateGlyph: Record<string, string> = { running: '●', paused: '‖', restarting: '↻', created: '○', exited: '■', dead: '✖', removing: '…' };

function containerTone(state: string): Tone {
  if (state === 'running') return 'running';
  if (state === 'paused' || state === 'restarting') return 'paused';
  if (state === 'created') return 'created';
  if (state === 'dead') return 'error';
  return 'stopped';
}

const projectLabel = 'com.docker.compose.project';
function projectOf(c: ContainerSummary): string {
  return c.Labels?.[projectLabel] ?? '\uffff';
}

const stateOrder = ['running', 'restarting', 'paused', 'created', 'exited', 'dead'];
function stateRank(state: string): number {
  const i = stateOrder.indexOf(state);
  return i < 0 ? stateOrder.length : i;
}

function portsText(c: ContainerSummary): string {
  return c.Ports.filter((p) => p.PublicPort).map((p) => `${p.PublicPort}→${p.PrivatePort}/${p.Type}`).join(',');
}

interface SortSpec<T> { name: string; compare(a: T, b: T): number }
interface Source<T> { items: T[]; key(item: T): string; filterable(item: T): Filterable; sorts: SortSpec<T>[]; columns: ColumnSpec<T>[]; tone(item: T): Tone }

function containerSource(state: TuiState): Source<ContainerSummary> {
  const items = state.showAll ? state.containers : state.containers.filter((c) => c.State === 'running' || c.State === 'paused' || c.State === 'restarting');
  return {
    items,
    key: (c) => c.Id,
    filterable: (c) => ({ text: `${containerName(c)} ${c.Image} ${c.State} ${c.Status} ${c.Id.slice(0, 12)} ${portsText(c)}`, labels: c.Labels }),
    sorts: [
      { name: 'newest', compare: (a, b) => b.Created - a.Created || containerName(a).localeCompare(containerName(b)) },
      { name: 'name', compare: (a, b) => containerName(a).localeCompare(containerName(b)) },
      // Compose projects together (the label compose sets), then by name; containers of no project last.
      { name: 'project', compare: (a, b) => projectOf(a).localeCompare(projectOf(b)) || containerName(a).localeCompare(containerName(b)) },
      { name: 'state', compare: (a, b) => stateRank(a.State) - stateRank(b.State) || containerName(a).localeCompare(containerName(b)) },
    ],
    tone: (c) => containerTone(c.State),
    columns: [
      { title: 'NAME', min: 10, max: 28, priority: 0, value: (c) => `${stateGlyph[c.State] ?? '?'} ${containerName(c)}` },
      { title: 'STATUS', min: 10, max: 22, priority: 1, value: (c) => c.Status || c.State },
      { title: 'CPU', min: 14, max: 14, priority: 2, value: (c) => cpuCell(state, c) },
      { title: 'MEM', min: 8, max: 8, priority: 3, align: 'right', value: (c) => memCell(state, c) },
      { title: 'IMAGE', min: 10, max: 30, priority: 4, value: (c) => c.Image },
      { title: 'PORTS', min: 12, max: 24, priority: 6, value: portsText },
      { title: 'PROJECT', min: 8, max: 16, priority: 7, value: (c) => c.Labels?.[projectLabel] ?? '' },
      { title: 'ID', min: 12, max: 12, priority: 5, value: (c) => c.Id.slice(0, 12) },
    ],
  };
}

function cpuCell(state: TuiState, c: ContainerSummary): string {
  if (c.State !== 'running') return '';
  const stats = state.stats[c.Id];
  const last = stats?.cpu.at(-1);
  if (!stats || last === undefined) return '…';
  return `${sparkline(stats.cpu, 8, 100)} ${last.toFixed(0).padStart(4)}%`;
}

function memCell(state: TuiState, c: ContainerSummary): string {
  const mem = state.stats[c.Id]?.mem.at(-1);
  return c.State === 'running' && mem !== undefined ? humanSize(mem) : '';
}

interface ImageRow { key: string; tag: string; image: ImageSummary }

function imageSource(state: TuiState): Source<ImageRow> {
  const items = state.images.flatMap((image) => {
    const tags = image.RepoTags?.length ? image.RepoTags : ['<none>:<none>'];
    return tags.map((tag) => ({ key: tag === '<none>:<none>' ? image.Id : tag, tag, image }));
  });
  return {
    items,
    key: (r) => r.key,
    filterable: (r) => ({ text: `${r.tag} ${r.image.Id.replace(/^sha256:/, '').slice(0, 12)}`, labels: r.image.Labels }),
    sorts: [
      { name: 'newest', compare: (a, b) => b.image.Created - a.image.Created || a.tag.localeCompare(b.tag) },
      { name: 'name', compare: (a, b) => a.tag.localeCompare(b.tag) },
      { name: 'size', compare: (a, b) => b.image.Size - a.image.Size || a.tag.localeCompare(b.tag) },
    ],
    tone: (r) => (r.image.Containers > 0 ? 'running' : 'plain'),
    columns: [
      { title: 'IMAGE', min: 16, max: 50, priority: 0, value: (r) => r.tag },
      { title: 'ID', min: 12, max: 12, priority: 1, value: (r) => r.image.Id.replace(/^sha256:/, '').slice(0, 12) },
      { title: 'SIZE', min: 8, max: 8, priority: 2, align: 'right', value: (r) => humanSize(r.image.Size) },
      { title: 'CREATED', min: 14, max: 22, priority: 3, value: (r) => timeAgo(r.image.Created) },
      { title: 'USED BY', min: 7, max: 7, priority: 4, align: 'right', value: (r) => (r.image.Containers > 0 ? String(r.image.Containers) : '') },
    ],
  };
}

function volumeSource(state: TuiState): Source<VolumeSummary> {
  return {
    items: state.volumes,
    key: (v) => v.Name,
    filterable: (v) => ({ text: `${v.Name} ${v.Driver}`, labels: v.Labels }),
    sorts: [{ name: 'name', compare: (a, b) => a.Name.localeCompare(b.Name) }],
    tone: () => 'plain',
    columns: [
      { title: 'VOLUME', min: 16, max: 64, priority: 0, value: (v) => v.Name },
      { title: 'DRIVER', min: 6, max: 8, priority: 1, value: (v) => v.Driver },
      { title: 'MOUNTPOINT', min: 20, max: 80, priority: 2, value: (v) => v.Mountpoint },
    ],
  };
}

function networkSource(state: TuiState): Source<NetworkSummary> {
  return {
    items: state.networks,
    key: (n) => n.Name,
    filterable: (n) => ({ text: `${n.Name} ${n.Driver} ${n.Id.slice(0, 12)}`, labels: n.Labels }),
    sorts: [{ name: 'name', compare: (a, b) => a.Name.localeCompare(b.Name) }],
    tone: () => 'plain',
    columns: [
      { title: 'NETWORK', min: 12, max: 30, priority: 0, value: (n) => n.Name },
      { title: 'DRIVER', min: 7, max: 8, priority: 1, value: (n) => n.Driver },
      { title: 'SUBNET', min: 14, max: 18, priority: 2, value: (n) => n.IPAM?.Config?.[0]?.Subnet ?? '' },
      { title: 'INTERNAL', min: 8, max: 8, priority: 4, value: (n) => (n.Internal ? 'yes' : '') },
      { title: 'ID', min: 12, max: 12, priority: 3, value: (n) => n.Id.slice(0, 12) },
    ],
  };
}

function sourceFor(state: TuiState, view: ViewName): Source<unknown> | undefined {
  switch (view) {
    case 'containers': return containerSource(state) as Source<unknown>;
    case 'images': return imageSource(state) as Source<unknown>;
    case 'volumes': return volumeSource(state) as Source<unknown>;
    case 'networks': return networkSource(state) as Source<unknown>;
    default: return undefined;
  }
}

// Filtering and sorting 5,000 rows costs a few milliseconds; the result is reused until the list, the
// filter or the sort inputs change (the state is immutable, so identity says when).
interface OrderedRows { keys: string[]; items: unknown[]; natural: Map<string, number> }
const orderedCache = new WeakMap<object, Map<string, OrderedRows>>();

function ordered(state: TuiState, view: ViewName): (OrderedRows & { total: number; source: Source<unknown> }) | undefined {
  const source = sourceFor(state, view);
  if (!source) return undefined;
  const list = state[view as 'containers'] as object;
  const sort = source.sorts[(state.sortBy[view] ?? 0) % source.sorts.length]!;
  const cacheKey = `${view}\0${state.filters[view] ?? ''}\0${state.showAll}\0${sort.name}`;
  let perList = orderedCache.get(list);
  if (!perList) orderedCache.set(list, (perList = new Map()));
  let rows = perList.get(cacheKey);
  if (!rows) {
    const keep = compileFilter(state.filters[view] ?? '');
    const items = source.items.filter((item) => keep(source.filterable(item))).sort(sort.compare);
    rows = { keys: items.map((item) => source.key(item)), items, natural: new Map() };
    perList.clear();
    perList.set(cacheKey, rows);
  }
  return { ...rows, total: source.items.length, source };
}

/** The width a column's content needs over all the rows (not just those on screen, so it holds while scrolling). */
function naturalWidth(rows: OrderedRows, spec: ColumnSpec<unknown>): number {
  if (spec.min === spec.max) return spec.min;
  let width = rows.natural.get(spec.title);
  if (width === undefined) {
    width = spec.title.length;
    for (const item of rows.items) {
      width = Math.max(width, [...spec.value(item)].length);
      if (width >= spec.max) break;
    }
    rows.natural.set(spec.title, width);
  }
  return width;
}

/** Index of the selected row among the view's ordered rows (0 when the selection is gone). */
function selectedIndex(keys: string[], key: string | undefined): number {
  if (key === undefined) return 0;
  const i = keys.indexOf(key);
  return i < 0 ? 0 : i;
}

export function table(state: TuiState, view: ViewName, height: number): TableModel {
  const o = ordered(state, view);
  if (!o) return { columns: [], rows: [], selected: -1, offset: 0, matched: 0, total: 0 };
  // One column is the selection gutter, one is left free at the right edge.
  const room = state.size.columns - 2;
  const natural = (spec: ColumnSpec<unknown>) => naturalWidth(o, spec);
  const specs = fitColumns(o.source.columns, room, natural);
  const widths = widthsFor(specs, room, natural);
  const index = o.keys.length ? selectedIndex(o.keys, state.selected[view]) : -1;
  const offset = windowOffset(index, state.offsets[view] ?? 0, height, o.keys.length);
  const rows = o.items.slice(offset, offset + height).map((item, i) => ({
    key: o.keys[offset + i]!,
    cells: specs.map((s, c) => fit(s.value(item), widths[c]!, s.align)),
    tone: o.source.tone(item),
  }));
  return {
    columns: specs.map((s, c) => ({ title: s.title, width: widths[c]!, align: s.align })),
    rows,
    selected: index - offset,
    offset,
    matched: o.keys.length,
    total: o.total,
  };
}

/** A table's column titles, aligned as its cells are. */
export function tableHeading(model: TableModel): string {
  return model.columns.map((c) => (c.align === 'right' ? c.title.padStart(c.width) : c.title.padEnd(c.width))).join(' ');
}

/** The first row to show so that the selection is on screen, moving the window as little as possible. */
export function windowOffset(index: number, offset: number, height: number, count: number): number {
  if (index < 0 || count <= height) return 0;
  let start = Math.min(offset, count - height);
  if (index < start) start = index;
  if (index >= start + height) start = index - height + 1;
  return Math.max(0, start);
}

/** The names of a view's sort orders (the `o` key cycles through them). */
export function sortNames(state: TuiState, view: ViewName): string[] {
  return sourceFor(state, view)?.sorts.map((s) => s.name) ?? [];
}

/** The rows' keys in display order. */
export function orderedKeys(state: TuiState, view: ViewName): string[] {
  return ordered(state, view)?.keys ?? [];
}

export function selectedKey(state: TuiState, view: ViewName = state.view): string | undefined {
  const keys = orderedKeys(state, view);
  return keys.length ? keys[selectedIndex(keys, state.selected[view])] : undefined;
}

/** Moves the selection by `step` rows ('start'/'end' for the ends), keeping it on screen. */
export function moveSelection(step: number | 'start' | 'end'): Update {
  return (state) => {
    const view = state.view;
    const keys = orderedKeys(state, view);
    if (!keys.length) return state;
    const at = selectedIndex(keys, state.selected[view]);
    const to = step === 'start' ? 0 : step === 'end' ? keys.length - 1 : Math.min(keys.length - 1, Math.max(0, at + step));
    const height = layout(state).listRows;
    return select(view, keys[to], windowOffset(to, state.offsets[view] ?? 0, height, keys.length))(state);
  };
}

/** The containers whose rows are on screen (the stats sampler's work list). */
export function visibleRunningContainers(state: TuiState): string[] {
  if (state.view !== 'containers') return state.detail ? [state.detail.id] : [];
  const model = table(state, 'containers', layout(state).listRows);
  const running = new Set(state.containers.filter((c) => c.State === 'running').map((c) => c.Id));
  return model.rows.map((r) => r.key).filter((id) => running.has(id));
}

/** The text of everything stats feed on screen: the list's rows and, on the Stats tab, the pane. */
export function statsOnScreen(state: TuiState): string {
  const rows = state.view === 'containers' ? table(state, 'containers', layout(state).listRows).rows.map((r) => r.cells.join(' ')).join('\n') : '';
  const s = state.detail?.tab === 'stats' ? state.stats[state.detail.id] : undefined;
  const pane = s ? `${sparkline(s.cpu, 30, 100)} ${s.cpu.at(-1)?.toFixed(1)} ${sparkline(s.mem, 30)} ${s.mem.at(-1)} ${s.pids}` : '';
  return `${rows}\n${pane}`;
}

// ----------------------------------------------------------------------------------------------- pane

export interface PaneLine { text: string; tone?: Tone; time?: string }
export interface PaneSource { length: number; at(i: number): PaneLine; version: number; dropped?: number }

export interface PaneModel {
  lines: { text: string; time?: string; tone?: Tone; highlight: [number, number][]; current: boolean }[];
  /** Lines newer than the window while not following ("+N new"). */
  below: number;
  matches: number;
  /** Position of the current match among the matches (1-based), or 0. */
  matchNumber: number;
  dropped: number;
  shown: number;
}

const matchCache = new WeakMap<PaneSource, { version: number; search: string; indexes: number[] }>();

function matchIndexes(source: PaneSource, search: string): number[] {
  if (!search) return [];
  const cached = matchCache.get(source);
  if (cached && cached.version === source.version && cached.search === search) return cached.indexes;
  const needle = search.toLowerCase();
  const indexes: number[] = [];
  for (let i = 0; i < source.length; i++) if (source.at(i).text.toLowerCase().includes(needle)) indexes.push(i);
  matchCache.set(source, { version: source.version, search, indexes });
  return indexes;
}

function highlights(text: string, search: string): [number, number][] {
  if (!search) return [];
  const out: [number, number][] = [];
  const hay = text.toLowerCase();
  const needle = search.toLowerCase();
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + needle.length)) out.push([at, at + needle.length]);
  return out;
}

/**
 * The window of a pane: following shows the newest lines; otherwise `scroll` counts lines up from the
 * end. With a search, the current match is kept in view; `onlyMatches` shows matching lines alone.
 */
export function paneWindow(source: PaneSource, pane: PaneState, height: number, width: number): PaneModel {
  const matches = matchIndexes(source, pane.search);
  const indexes = pane.onlyMatches && pane.search ? matches : undefined;
  const count = indexes ? indexes.length : source.length;
  const lineAt = (i: number) => source.at(indexes ? indexes[i]! : i);
  const currentLine = pane.match >= 0 && pane.match < matches.length ? matches[pane.match]! : -1;
  let end = pane.follow ? count : Math.max(Math.min(height, count), count - pane.scroll);
  if (currentLine >= 0 && !pane.follow) {
    const pos = indexes ? pane.match : currentLine;
    if (pos < end - height || pos >= end) end = Math.min(count, pos + Math.ceil(height / 2));
  }
  const start = Math.max(0, end - height);
  const lines: PaneModel['lines'] = [];
  for (let i = start; i < end; i++) {
    const line = lineAt(i);
    const index = indexes ? indexes[i]! : i;
    const wrapped = pane.wrap ? wrapText(line.text, width) : [line.text];
    for (const text of wrapped) lines.push({ text, time: pane.timestamps ? line.time : undefined, tone: line.tone, highlight: highlights(text, pane.search), current: index === currentLine });
  }
  return {
    lines: lines.slice(-height),
    below: count - end,
    matches: matches.length,
    matchNumber: currentLine >= 0 ? pane.match + 1 : 0,
    dropped: source.dropped ?? 0,
    shown: count,
  };
}

function wrapText(text: string, width: number): string[] {
  if (width <= 0 || text.length <= width) return [text];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += width) out.push(text.slice(i, i + width));
  return out;
}
