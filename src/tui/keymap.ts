/**
 * Every key of the dashboard, in one table: the router, the footer and the `?` help are all read from it,
 * so a key cannot work without being shown, nor be shown without working.
 */
import type { TuiState, ViewName } from './state.js';

export type ActionId =
  | 'quit' | 'help' | 'palette' | 'back' | 'copy-id'
  | 'view-containers' | 'view-images' | 'view-volumes' | 'view-networks' | 'view-system'
  | 'up' | 'down' | 'page-up' | 'page-down' | 'top' | 'bottom'
  | 'filter' | 'sort' | 'open' | 'next-tab' | 'prev-tab'
  | 'start' | 'stop' | 'restart' | 'pause' | 'kill' | 'remove' | 'exec' | 'attach' | 'toggle-all' | 'prune' | 'pull'
  | 'search' | 'next-match' | 'prev-match' | 'only-matches' | 'follow' | 'timestamps' | 'wrap' | 'since' | 'save';

/** Where a binding applies: anywhere, on a list, or in the detail pane (`logs`: only on its Logs tab). */
export type Scope = 'global' | 'list' | 'detail' | 'logs';

export interface Binding {
  keys: string[];
  action: ActionId;
  /** Short name for the footer. */
  label: string;
  help: string;
  scope: Scope;
  /** Views it applies to (all when absent). */
  views?: ViewName[];
  /** Changes the engine's state: refused with --readonly. */
  mutates?: boolean;
  /** Shown in the footer (the help shows all). */
  footer?: boolean;
}

export const keymap: Binding[] = [
  { keys: ['1'], action: 'view-containers', label: 'containers', help: 'Containers view', scope: 'global' },
  { keys: ['2'], action: 'view-images', label: 'images', help: 'Images view', scope: 'global' },
  { keys: ['3'], action: 'view-volumes', label: 'volumes', help: 'Volumes view', scope: 'global' },
  { keys: ['4'], action: 'view-networks', label: 'networks', help: 'Networks view', scope: 'global' },
  { keys: ['5'], action: 'view-system', label: 'system', help: 'System view: engine, disk usage, rootless doctor, events', scope: 'global' },
  { keys: ['up', 'k'], action: 'up', label: 'up', help: 'Move up (scroll in the detail pane)', scope: 'global' },
  { keys: ['down', 'j'], action: 'down', label: 'down', help: 'Move down', scope: 'global' },
  { keys: ['pageup', 'C-b'], action: 'page-up', label: 'page up', help: 'Page up', scope: 'global' },
  { keys: ['pagedown', 'C-f', 'space'], action: 'page-down', label: 'page down', help: 'Page down', scope: 'global' },
  { keys: ['g', 'home'], action: 'top', label: 'top', help: 'First row / oldest line', scope: 'global' },
  { keys: ['G', 'end'], action: 'bottom', label: 'bottom', help: 'Last row / newest line', scope: 'global' },
  { keys: ['enter', 'l'], action: 'open', label: 'open', help: 'Open the detail pane of the selected item', scope: 'list', footer: true },
  { keys: ['/'], action: 'filter', label: 'filter', help: 'Filter the list: words, !word to exclude, label=KEY[=VALUE]', scope: 'list', footer: true },
  { keys: ['o'], action: 'sort', label: 'order', help: 'Cycle the sort order (containers: newest, name, compose project, state)', scope: 'list', views: ['containers', 'images'] },
  { keys: ['/'], action: 'search', label: 'search', help: 'Search the pane (n/N: next/previous match)', scope: 'detail', footer: true },
  { keys: ['n'], action: 'next-match', label: 'next', help: 'Next match', scope: 'detail' },
  { keys: ['N'], action: 'prev-match', label: 'prev', help: 'Previous match', scope: 'detail' },
  { keys: ['F'], action: 'only-matches', label: 'only matches', help: 'Show only the lines that match the search', scope: 'detail' },
  { keys: ['tab', 'right'], action: 'next-tab', label: 'tab', help: 'Next detail tab', scope: 'detail', footer: true },
  { keys: ['S-tab', 'left'], action: 'prev-tab', label: 'prev tab', help: 'Previous detail tab', scope: 'detail' },
  { keys: ['f'], action: 'follow', label: 'follow', help: 'Follow new log lines again', scope: 'logs', footer: true },
  { keys: ['t'], action: 'timestamps', label: 'timestamps', help: 'Show or hide timestamps', scope: 'logs' },
  { keys: ['w'], action: 'wrap', label: 'wrap', help: 'Wrap long lines', scope: 'logs' },
  { keys: ['T'], action: 'since', label: 'since', help: 'Cycle how far back the logs start: all, 5m, 1h, 24h', scope: 'logs' },
  { keys: ['W'], action: 'save', label: 'save', help: 'Save the log lines to a file', scope: 'logs' },
  { keys: ['u'], action: 'start', label: 'start', help: 'Start the container', scope: 'global', views: ['containers'], mutates: true, footer: true },
  { keys: ['s'], action: 'stop', label: 'stop', help: 'Stop the container', scope: 'global', views: ['containers'], mutates: true, footer: true },
  { keys: ['r'], action: 'restart', label: 'restart', help: 'Restart the container', scope: 'global', views: ['containers'], mutates: true },
  { keys: ['p'], action: 'pause', label: 'pause', help: 'Pause or unpause the container', scope: 'global', views: ['containers'], mutates: true },
  { keys: ['K'], action: 'kill', label: 'kill', help: 'Send a signal to the container (pick one)', scope: 'global', views: ['containers'], mutates: true },
  { keys: ['e'], action: 'exec', label: 'shell', help: "Open a shell in the container (your shell, bash, then sh); exit it to come back", scope: 'global', views: ['containers'], mutates: true, footer: true },
  { keys: ['a'], action: 'attach', label: 'attach', help: 'Attach to the container (Ctrl-P Ctrl-Q detaches)', scope: 'global', views: ['containers'], mutates: true },
  { keys: ['d'], action: 'remove', label: 'remove', help: 'Remove the selected item (asks first)', scope: 'global', views: ['containers', 'images', 'volumes', 'networks'], mutates: true, footer: true },
  { keys: ['A'], action: 'toggle-all', label: 'all', help: 'Show or hide stopped containers', scope: 'list', views: ['containers'] },
  { keys: ['P'], action: 'pull', label: 'pull', help: 'Pull an image (runs as a background job)', scope: 'global', mutates: true, views: ['images', 'system'], footer: true },
  { keys: ['X'], action: 'prune', label: 'prune', help: 'Remove unused items of this view (asks first)', scope: 'list', views: ['containers', 'images', 'volumes', 'networks'], mutates: true },
  { keys: ['y'], action: 'copy-id', label: 'copy ID', help: 'Copy the ID to the clipboard (OSC 52; works over SSH and in tmux)', scope: 'global' },
  { keys: [':'], action: 'palette', label: 'command', help: 'Command palette: containers, images, volumes, networks, system, pull REF, all, quit', scope: 'global' },
  { keys: ['esc'], action: 'back', label: 'back', help: 'Close the pane, clear the filter', scope: 'global' },
  { keys: ['?'], action: 'help', label: 'help', help: 'This help', scope: 'global', footer: true },
  { keys: ['q', 'C-c'], action: 'quit', label: 'quit', help: 'Quit (the shell screen comes back as it was)', scope: 'global', footer: true },
];

/** Whether a binding applies in the current state. */
export function applies(binding: Binding, state: TuiState): boolean {
  if (binding.views && !binding.views.includes(state.view)) return false;
  switch (binding.scope) {
    case 'global': return true;
    case 'list': return !state.detail;
    case 'detail': return Boolean(state.detail);
    case 'logs': return state.detail?.tab === 'logs';
  }
}

/** The binding a key triggers now: pane and list bindings win over global ones. */
export function resolveKey(key: string, state: TuiState): Binding | undefined {
  const candidates = keymap.filter((b) => b.keys.includes(key) && applies(b, state));
  const rank = (b: Binding) => (b.scope === 'global' ? 1 : 0);
  return candidates.sort((a, b) => rank(a) - rank(b))[0];
}

/** The footer's key hints for the current state. */
export function footerHints(state: TuiState): { key: string; label: string }[] {
  return keymap.filter((b) => b.footer && applies(b, state) && !(state.readonly && b.mutates)).map((b) => ({ key: displayKey(b.keys[0]!), label: b.label }));
}

export function displayKey(key: string): string {
  const names: Record<string, string> = { enter: '⏎', esc: 'Esc', up: '↑', down: '↓', left: '←', right: '→', tab: 'Tab', 'S-tab': 'S-Tab', pageup: 'PgUp', pagedown: 'PgDn', space: 'Space', home: 'Home', end: 'End' };
  if (names[key]) return names[key]!;
  if (key.startsWith('C-')) return `Ctrl-${key.slice(2).toUpperCase()}`;
  return key;
}

/** The help screen's lines, grouped by scope, from the same table. */
export function helpLines(): string[] {
  const groups: [Scope, string][] = [['global', 'Everywhere'], ['list', 'Lists'], ['detail', 'Detail pane'], ['logs', 'Logs tab']];
  const lines: string[] = [];
  for (const [scope, title] of groups) {
    lines.push(title);
    for (const b of keymap.filter((k) => k.scope === scope)) {
      const keys = b.keys.map(displayKey).join(' ');
      lines.push(`  ${keys.padEnd(14)} ${b.help}${b.views ? ` [${b.views.join(', ')}]` : ''}`);
    }
  }
  return lines;
}

export interface InkKey {
  upArrow?: boolean; downArrow?: boolean; leftArrow?: boolean; rightArrow?: boolean;
  pageUp?: boolean; pageDown?: boolean; home?: boolean; end?: boolean;
  return?: boolean; escape?: boolean; tab?: boolean; shift?: boolean; backspace?: boolean; delete?: boolean; ctrl?: boolean; meta?: boolean;
}

/**
 * Ink's (input, key) as key names. A burst of typed characters can arrive as one input: each character
 * becomes a key of its own, so `jjj` moves three rows.
 */
export function keyNames(input: string, key: InkKey): string[] {
  if (key.upArrow) return ['up'];
  if (key.downArrow) return ['down'];
  if (key.leftArrow) return ['left'];
  if (key.rightArrow) return ['right'];
  if (key.pageUp) return ['pageup'];
  if (key.pageDown) return ['pagedown'];
  if (key.home) return ['home'];
  if (key.end) return ['end'];
  if (key.return) return ['enter'];
  if (key.escape) return ['esc'];
  if (key.tab) return [key.shift ? 'S-tab' : 'tab'];
  if (key.backspace || key.delete) return ['backspace'];
  if (key.ctrl && input.length === 1) return [`C-${input.toLowerCase()}`];
  if (key.meta) return [];
  return [...input].map((ch) => (ch === ' ' ? 'space' : ch === '\r' ? 'enter' : ch));
}
