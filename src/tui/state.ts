/**
 * The dashboard's state and the pure functions that change it. No React and no I/O here: the
 * controller feeds engine replies and key presses in, the components only read.
 */
import type { ContainerSummary, DiskUsage, EngineEvent, EngineInfo, ImageSummary, NetworkSummary, VolumeSummary } from './types.js';

export const views = ['containers', 'images', 'volumes', 'networks', 'system'] as const;
export type ViewName = (typeof views)[number];

export const detailTabs = ['logs', 'stats', 'inspect', 'env', 'ports', 'top', 'changes'] as const;
export type DetailTab = (typeof detailTabs)[number];

/** What the line editor at the bottom is collecting. */
export type InputPurpose = 'filter' | 'search' | 'palette' | 'pull' | 'save';

export interface TextInput { purpose: InputPurpose; value: string }

/** A question waiting for y/n; `token` names the command the controller runs on yes. */
export interface Confirm { message: string; token: string }

export interface Choice { title: string; options: string[]; index: number; token: string }

export interface Toast { id: number; kind: 'error' | 'info'; text: string; at: number }

export interface LayerProgress { status: string; current: number; total: number }

export interface Job {
  id: number;
  kind: 'pull';
  title: string;
  state: 'running' | 'done' | 'failed';
  message: string;
  layers: Record<string, LayerProgress>;
  startedAt: number;
  endedAt?: number;
}

export interface ContainerStats {
  /** CPU % of one core per sample (Docker's definition; see docs/user-guide.md). */
  cpu: number[];
  mem: number[];
  memLimit: number;
  pids: number;
}

/** The detail pane's view of its lines. `scroll` counts lines up from the newest when not following. */
export interface PaneState {
  follow: boolean;
  scroll: number;
  search: string;
  /** Index (into the matches) of the current match, or -1. */
  match: number;
  onlyMatches: boolean;
  timestamps: boolean;
  wrap: boolean;
  /** Index into `sincePresets`. */
  since: number;
}

export const sincePresets = ['all', '5m', '1h', '24h'] as const;

export interface TuiState {
  size: { columns: number; rows: number };
  view: ViewName;
  containers: ContainerSummary[];
  images: ImageSummary[];
  volumes: VolumeSummary[];
  networks: NetworkSummary[];
  info?: EngineInfo;
  disk?: DiskUsage;
  events: EngineEvent[];
  loaded: Record<ViewName, boolean>;
  /** The key (ID or name) of the selected row, per view. */
  selected: Partial<Record<ViewName, string>>;
  /** First row shown, per view. */
  offsets: Partial<Record<ViewName, number>>;
  filters: Partial<Record<ViewName, string>>;
  /** Index of the sort order, per view (view-models name them). */
  sortBy: Partial<Record<ViewName, number>>;
  /** Stopped containers shown too (`ps -a`). */
  showAll: boolean;
  detail?: { id: string; tab: DetailTab };
  pane: PaneState;
  /** Bumped when the pane's lines change (they live outside the state). */
  paneVersion: number;
  input?: TextInput;
  confirm?: Confirm;
  choice?: Choice;
  help: { open: boolean; scroll: number };
  connection: { state: 'connecting' | 'up' | 'down'; message?: string };
  toasts: Toast[];
  commandLog: string[];
  jobs: Job[];
  stats: Record<string, ContainerStats>;
  readonly: boolean;
  mono: boolean;
}

export const initialPane: PaneState = { follow: true, scroll: 0, search: '', match: -1, onlyMatches: false, timestamps: false, wrap: false, since: 0 };

export function initialState(opts: { columns: number; rows: number; readonly?: boolean; mono?: boolean; showAll?: boolean }): TuiState {
  return {
    size: { columns: opts.columns, rows: opts.rows },
    view: 'containers',
    containers: [], images: [], volumes: [], networks: [], events: [],
    loaded: { containers: false, images: false, volumes: false, networks: false, system: false },
    selected: {}, offsets: {}, filters: {}, sortBy: {},
    showAll: opts.showAll ?? true,
    pane: initialPane,
    paneVersion: 0,
    help: { open: false, scroll: 0 },
    connection: { state: 'connecting' },
    toasts: [], commandLog: [], jobs: [], stats: {},
    readonly: opts.readonly ?? false,
    mono: opts.mono ?? false,
  };
}

export type Update = (state: TuiState) => TuiState;

export const setSize = (columns: number, rows: number): Update => (s) => ({ ...s, size: { columns, rows } });

export const showView = (view: ViewName): Update => (s) => ({ ...s, view, detail: undefined, input: undefined });

export const setList = <K extends 'containers' | 'images' | 'volumes' | 'networks'>(view: K, rows: TuiState[K]): Update => (s) => ({
  ...s, [view]: rows, loaded: { ...s.loaded, [view]: true },
});

export const setSystem = (info: EngineInfo, disk: DiskUsage | undefined): Update => (s) => ({ ...s, info, disk: disk ?? s.disk, loaded: { ...s.loaded, system: true } });

const maxEvents = 200;
export const addEvent = (event: EngineEvent): Update => (s) => ({ ...s, events: [...s.events.slice(-(maxEvents - 1)), event] });

export const setConnection = (state: TuiState['connection']['state'], message?: string): Update => (s) => ({ ...s, connection: { state, message } });

let toastSeq = 0;
export const toast = (kind: Toast['kind'], text: string, now = Date.now()): Update => (s) => ({
  ...s, toasts: [...s.toasts.slice(-2), { id: ++toastSeq, kind, text, at: now }],
});
export const expireToasts = (now: number, ttlMs = 5000): Update => (s) => {
  const kept = s.toasts.filter((t) => now - t.at < ttlMs);
  return kept.length === s.toasts.length ? s : { ...s, toasts: kept };
};

const maxCommandLog = 50;
export const logCommand = (command: string): Update => (s) => ({ ...s, commandLog: [...s.commandLog.slice(-(maxCommandLog - 1)), command] });

export const select = (view: ViewName, key: string | undefined, offset: number): Update => (s) => ({
  ...s, selected: { ...s.selected, [view]: key }, offsets: { ...s.offsets, [view]: offset },
});

export const setFilter = (view: ViewName, filter: string): Update => (s) => ({ ...s, filters: { ...s.filters, [view]: filter }, offsets: { ...s.offsets, [view]: 0 } });

export const cycleSort = (view: ViewName, count: number): Update => (s) => ({ ...s, sortBy: { ...s.sortBy, [view]: ((s.sortBy[view] ?? 0) + 1) % Math.max(1, count) }, offsets: { ...s.offsets, [view]: 0 } });

export const toggleShowAll: Update = (s) => ({ ...s, showAll: !s.showAll });

export const openDetail = (id: string, tab: DetailTab): Update => (s) => ({ ...s, detail: { id, tab }, pane: { ...initialPane, timestamps: s.pane.timestamps, wrap: s.pane.wrap } });
export const closeDetail: Update = (s) => ({ ...s, detail: undefined });
export const setTab = (tab: DetailTab): Update => (s) => (s.detail ? { ...s, detail: { ...s.detail, tab }, pane: { ...initialPane, timestamps: s.pane.timestamps, wrap: s.pane.wrap } } : s);
export const cycleTab = (tabs: readonly DetailTab[], step: 1 | -1): Update => (s) => {
  if (!s.detail) return s;
  const at = Math.max(0, tabs.indexOf(s.detail.tab));
  return setTab(tabs[(at + step + tabs.length) % tabs.length]!)(s);
};

export const updatePane = (patch: Partial<PaneState>): Update => (s) => ({ ...s, pane: { ...s.pane, ...patch } });
export const bumpPane: Update = (s) => ({ ...s, paneVersion: s.paneVersion + 1 });

export const openInput = (purpose: InputPurpose, value = ''): Update => (s) => ({ ...s, input: { purpose, value } });
export const editInput = (value: string): Update => (s) => (s.input ? { ...s, input: { ...s.input, value } } : s);
export const closeInput: Update = (s) => ({ ...s, input: undefined });

export const askConfirm = (message: string, token: string): Update => (s) => ({ ...s, confirm: { message, token } });
export const closeConfirm: Update = (s) => ({ ...s, confirm: undefined });

export const openChoice = (title: string, options: string[], token: string): Update => (s) => ({ ...s, choice: { title, options, index: 0, token } });
export const moveChoice = (step: number): Update => (s) => (s.choice ? { ...s, choice: { ...s.choice, index: Math.min(s.choice.options.length - 1, Math.max(0, s.choice.index + step)) } } : s);
export const closeChoice: Update = (s) => ({ ...s, choice: undefined });

export const setHelp = (open: boolean, scroll = 0): Update => (s) => ({ ...s, help: { open, scroll: Math.max(0, scroll) } });

export const startJob = (job: Job): Update => (s) => ({ ...s, jobs: [...s.jobs.filter((j) => j.state === 'running').slice(-4), ...s.jobs.filter((j) => j.state !== 'running').slice(-2), job].sort((a, b) => a.id - b.id) });
export const updateJob = (id: number, patch: (job: Job) => Job): Update => (s) => ({ ...s, jobs: s.jobs.map((j) => (j.id === id ? patch(j) : j)) });

const sparkLength = 30;
export const recordStats = (id: string, cpuPct: number | undefined, memBytes: number, memLimit: number, pids: number): Update => (s) => {
  const prev = s.stats[id] ?? { cpu: [], mem: [], memLimit, pids };
  const cpu = cpuPct === undefined ? prev.cpu : [...prev.cpu.slice(-(sparkLength - 1)), cpuPct];
  return { ...s, stats: { ...s.stats, [id]: { cpu, mem: [...prev.mem.slice(-(sparkLength - 1)), memBytes], memLimit, pids } } };
};
export const forgetStats = (keep: Set<string>): Update => (s) => {
  const ids = Object.keys(s.stats);
  if (ids.every((id) => keep.has(id))) return s;
  return { ...s, stats: Object.fromEntries(Object.entries(s.stats).filter(([id]) => keep.has(id))) };
};
