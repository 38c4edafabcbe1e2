/**
 * The dashboard's behaviour: keys in, engine calls out, state updates back. It keeps lists current from
 * one event stream (reconnecting when the engine goes away), samples stats for the rows on screen, feeds
 * the detail pane and runs actions and jobs. React only renders what it leaves in the store.
 */
import fs from 'node:fs';
import { asEngineError } from '../util/errors.js';
import type { EngineApi, Action } from './engine-api.js';
import type { TerminalIo } from './handover.js';
import { keyNames, resolveKey, type ActionId, type InkKey } from './keymap.js';
import { LogRing } from './log-buffer.js';
import { changeLines, envLines, inspectLines, LogLines, portLines, StaticLines, topLines } from './pane-sources.js';
import {
  addEvent, askConfirm, cycleSort, closeChoice, closeConfirm, closeDetail, closeInput, cycleTab, editInput, expireToasts, forgetStats,
  logCommand, moveChoice, openChoice, openDetail, openInput, recordStats, setConnection, setFilter, setHelp, setList, setSize,
  setSystem, showView, sincePresets, startJob, toast, toggleShowAll, updateJob, updatePane, views, bumpPane,
  type DetailTab, type TuiState, type ViewName,
} from './state.js';
import { Store } from './store.js';
import type { EngineEvent, PullProgress } from './types.js';
import { containerName, layout, sortNames, moveSelection, paneWindow, selectedKey, statsOnScreen, visibleRunningContainers, type PaneSource } from './view-models.js';

/** What the terminal side provides: leaving, handing the terminal to a child, the clipboard. */
export interface TuiHost {
  quit(): void;
  /** Gives the terminal to `run` (the dashboard is not drawn meanwhile) and takes it back. */
  suspend(run: () => Promise<void>): Promise<void>;
  /** The terminal, for handing it to a container (exec, attach) while suspended. */
  io: TerminalIo;
  copy(text: string): void;
}

export interface ControllerOptions {
  statsIntervalMs?: number;
  /** Reconnects to the engine (the CLI starts the daemon again if it is gone). */
  reconnect?: () => Promise<EngineApi>;
}

export const containerTabs: readonly DetailTab[] = ['logs', 'stats', 'inspect', 'env', 'ports', 'top', 'changes'];
const otherTabs: readonly DetailTab[] = ['inspect'];
const signals = ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const refreshDebounceMs = 100;

export class Controller {
  readonly logs = new LogRing();
  private readonly logSource = new LogLines(this.logs);
  private readonly lines = new StaticLines();
  private api: EngineApi;
  private closed = false;
  private feedAbort = new AbortController();
  private paneAbort = new AbortController();
  private paneTimer?: NodeJS.Timeout;
  private bumpTimer?: NodeJS.Timeout;
  private statsTimer?: NodeJS.Timeout;
  /** The sampler's interval now: the base while figures change, doubling up to 4× while none does. */
  private statsDelayMs = 0;
  private statsRound = 0;
  private housekeeping?: NodeJS.Timeout;
  private refreshTimer?: NodeJS.Timeout;
  private pendingRefresh = new Set<ViewName>();
  private previousCpu = new Map<string, { total: number; system: number; cpus: number }>();
  private jobSeq = 0;
  private lastSystemRefresh = 0;

  constructor(readonly store: Store, api: EngineApi, private readonly host: TuiHost, private readonly options: ControllerOptions = {}) {
    this.api = api;
  }

  get state(): TuiState {
    return this.store.get();
  }

  /** The lines the detail pane shows now. */
  paneSource(): PaneSource {
    return this.state.detail?.tab === 'logs' ? this.logSource : this.lines;
  }

  start(): void {
    void this.feed();
    this.scheduleStats(this.statsBaseMs);
    // Events keep the lists current; this only expires toasts and, twice a minute, renews the
    // containers' "Up 5 minutes" texts.
    let ticks = 0;
    this.housekeeping = setInterval(() => {
      this.store.update(expireToasts(Date.now()));
      if (++ticks % 6 === 0 && this.state.connection.state === 'up' && this.state.view === 'containers') this.scheduleRefresh('containers');
    }, 5000);
    this.housekeeping.unref?.();
  }

  stop(): void {
    this.closed = true;
    this.feedAbort.abort();
    this.paneAbort.abort();
    for (const t of [this.statsTimer, this.housekeeping, this.refreshTimer, this.paneTimer, this.bumpTimer]) if (t) clearInterval(t);
  }

  resize(columns: number, rows: number): void {
    this.store.update(setSize(columns, rows));
  }

  // ----------------------------------------------------------------------------------- engine feed

  private async feed(): Promise<void> {
    let delay = 250;
    while (!this.closed) {
      this.feedAbort = new AbortController();
      try {
        if (this.state.connection.state === 'down' && this.options.reconnect) this.api = await this.options.reconnect();
        // The first connection replays the last hour, so the System view's event list starts filled.
        const since = this.state.events.length ? Math.floor(this.state.events.at(-1)!.time) + 1 : Math.floor(Date.now() / 1000) - 3600;
        const events = this.api.events(this.feedAbort.signal, since);
        const first = events.next();
        await this.refreshAll();
        this.store.update(setConnection('up'));
        if (this.state.detail) this.loadPane();
        void this.sampleStats();
        delay = 250;
        for (let item = await first; !item.done; item = await events.next()) this.onEvent(item.value);
        if (this.closed) return;
        throw new Error('the engine closed its event stream');
      } catch (err) {
        if (this.closed) return;
        const message = asEngineError(err).message.split('\n')[0]!;
        this.store.update(setConnection('down', `${message}; retrying in ${(delay / 1000).toFixed(1)}s`));
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  private onEvent(event: EngineEvent): void {
    this.store.update(addEvent(event));
    const view = ({ container: 'containers', image: 'images', volume: 'volumes', network: 'networks' } as Record<string, ViewName>)[event.Type];
    if (view) this.scheduleRefresh(view);
    if (event.Type === 'container' && (event.Action === 'destroy' || event.Action.startsWith('create'))) this.scheduleRefresh('images');
    if (event.Type === 'container' && event.Action === 'start' && this.state.detail?.id === event.Actor.ID && this.state.detail.tab === 'logs') this.loadPane();
    if (this.state.view === 'system' && Date.now() - this.lastSystemRefresh > 2000) this.scheduleRefresh('system');
  }

  /** Coalesces refreshes: a burst of events costs one list request per view. */
  private scheduleRefresh(view: ViewName): void {
    this.pendingRefresh.add(view);
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      const pending = [...this.pendingRefresh];
      this.pendingRefresh.clear();
      void Promise.all(pending.map((v) => this.refresh(v))).catch(() => { /* the feed reports a lost engine */ });
    }, refreshDebounceMs);
  }

  private async refreshAll(): Promise<void> {
    await Promise.all(views.map((v) => this.refresh(v)));
  }

  private async refresh(view: ViewName): Promise<void> {
    switch (view) {
      case 'containers': this.store.update(setList('containers', await this.api.containers())); break;
      case 'images': this.store.update(setList('images', await this.api.images())); break;
      case 'volumes': this.store.update(setList('volumes', await this.api.volumes())); break;
      case 'networks': this.store.update(setList('networks', await this.api.networks())); break;
      case 'system': {
        this.lastSystemRefresh = Date.now();
        const [info, disk] = await Promise.all([this.api.info(), this.state.view === 'system' ? this.api.disk().catch(() => undefined) : Promise.resolve(undefined)]);
        this.store.update(setSystem(info, disk));
      }
    }
  }

  // ------------------------------------------------------------------------------------------ stats

  private get statsBaseMs(): number {
    return this.options.statsIntervalMs ?? 2000;
  }

  private scheduleStats(delayMs: number): void {
    if (this.statsTimer) clearTimeout(this.statsTimer);
    if (this.closed) return;
    this.statsDelayMs = delayMs;
    const round = ++this.statsRound;
    this.statsTimer = setTimeout(() => {
      void this.sampleStats().then((changed) => {
        // A key pressed meanwhile has scheduled the next round already.
        if (round !== this.statsRound) return;
        // Idle rows are asked less and less often (2, 4, 8 s); a change or a key brings the base back.
        this.scheduleStats(changed ? this.statsBaseMs : Math.min(this.statsDelayMs * 2, this.statsBaseMs * 4));
      });
    }, delayMs);
    this.statsTimer.unref?.();
  }

  /**
   * One sampler for what is on screen: the visible running rows, or the container in the pane. Resolves
   * with whether a figure on screen changed.
   */
  async sampleStats(): Promise<boolean> {
    if (this.state.connection.state !== 'up') return false;
    const ids = visibleRunningContainers(this.state);
    this.store.update(forgetStats(new Set(ids)));
    for (const id of [...this.previousCpu.keys()]) if (!ids.includes(id)) this.previousCpu.delete(id);
    const queue = [...ids];
    const samples: { id: string; cpuPct: number | undefined; mem: number; limit: number; pids: number }[] = [];
    const worker = async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        try {
          const s = await this.api.stats(id);
          const previous = this.previousCpu.get(id);
          const total = s.cpu_stats.cpu_usage.total_usage;
          const system = s.cpu_stats.system_cpu_usage;
          const cpus = s.cpu_stats.online_cpus || 1;
          this.previousCpu.set(id, { total, system, cpus });
          const cpuPct = previous && system > previous.system ? Math.max(0, ((total - previous.total) / (system - previous.system)) * cpus * 100) : undefined;
          samples.push({ id, cpuPct, mem: s.memory_stats.usage, limit: s.memory_stats.limit, pids: s.pids_stats?.current ?? 0 });
        } catch { /* stopped meanwhile */ }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    // One update (one frame) per round, however many rows were sampled; none when no figure on screen
    // changes (idle containers), so an idle dashboard does not redraw.
    const updates = samples.map((x) => recordStats(x.id, x.cpuPct, x.mem, x.limit, x.pids));
    const before = statsOnScreen(this.state);
    let after = this.state;
    for (const update of updates) after = update(after);
    if (statsOnScreen(after) === before) {
      this.store.updateQuietly(...updates);
      return false;
    }
    this.store.update(...updates);
    return true;
  }

  // ------------------------------------------------------------------------------------------- pane

  /** (Re)loads the detail pane's content for the selected tab. */
  loadPane(): void {
    this.paneAbort.abort();
    this.paneAbort = new AbortController();
    if (this.paneTimer) clearInterval(this.paneTimer);
    const detail = this.state.detail;
    if (!detail) return;
    const signal = this.paneAbort.signal;
    const kind = this.state.view === 'system' ? 'containers' : this.state.view;
    const fail = (err: unknown) => {
      if (signal.aborted) return;
      this.lines.set([{ text: asEngineError(err).message, tone: 'error' }]);
      this.bump();
    };
    switch (detail.tab) {
      case 'logs': {
        this.logs.clear();
        const since = sinceSeconds(sincePresets[this.state.pane.since]!);
        this.api.logs(detail.id, { follow: true, timestamps: true, since }, signal, (stream, text) => {
          this.logs.write(stream, text, true);
          this.bump();
        }).then(() => { this.logs.flush(); this.bump(); }, (err) => {
          if (signal.aborted) return;
          this.logs.push({ text: asEngineError(err).message, stream: 'stderr' });
          this.bump();
        });
        this.bump();
        return;
      }
      case 'stats':
        void this.sampleStats();
        return;
      case 'top': {
        const load = () => this.api.top(detail.id).then((t) => { if (!signal.aborted) { this.lines.set(topLines(t)); this.bump(); } }, fail);
        void load();
        this.paneTimer = setInterval(() => void load(), 2000);
        this.paneTimer.unref?.();
        return;
      }
      case 'changes':
        void this.api.changes(detail.id).then((c) => { if (!signal.aborted) this.showStatic(changeLines(c)); }, fail);
        return;
      default:
        void this.api.inspect(kind, detail.id).then((inspect) => {
          if (signal.aborted) return;
          this.showStatic(detail.tab === 'env' ? envLines(inspect) : detail.tab === 'ports' ? portLines(inspect) : inspectLines(inspect));
        }, fail);
    }
  }

  private showStatic(lines: { text: string }[]): void {
    this.lines.set(lines);
    // Static text reads from the top.
    this.store.update(updatePane({ follow: false, scroll: lines.length }));
    this.bump();
  }

  /** Redraws the pane at most every 50 ms however fast lines arrive. */
  private bump(): void {
    if (this.bumpTimer) return;
    this.bumpTimer = setTimeout(() => {
      this.bumpTimer = undefined;
      this.store.update(bumpPane);
    }, 50);
  }

  // ------------------------------------------------------------------------------------------- keys

  handleInput(input: string, key: InkKey): void {
    const names = keyNames(input, key);
    // The user is here: figures on screen should be fresh again.
    if (this.statsDelayMs > this.statsBaseMs) this.scheduleStats(this.statsBaseMs);
    // A burst may open the line editor part way through ("/web" typed fast): the rest is its text.
    for (let i = 0; i < names.length; i++) {
      if (this.state.input) return this.editLine(names.slice(i));
      this.handleKey(names[i]!);
    }
  }

  private handleKey(name: string): void {
    const state = this.state;
    if (state.confirm) {
      if (name === 'y' || name === 'Y' || name === 'enter') this.confirmed(state.confirm.token);
      else if (name === 'n' || name === 'N' || name === 'esc' || name === 'q') this.store.update(closeConfirm);
      return;
    }
    if (state.choice) {
      if (name === 'up' || name === 'k') this.store.update(moveChoice(-1));
      else if (name === 'down' || name === 'j') this.store.update(moveChoice(1));
      else if (name === 'enter') this.chosen(state.choice.token, state.choice.options[state.choice.index]!);
      else if (name === 'esc' || name === 'q') this.store.update(closeChoice);
      return;
    }
    if (state.help.open) {
      if (name === 'up' || name === 'k') this.store.update(setHelp(true, state.help.scroll - 1));
      else if (name === 'down' || name === 'j') this.store.update(setHelp(true, state.help.scroll + 1));
      else if (name === 'C-c') this.host.quit();
      else this.store.update(setHelp(false));
      return;
    }
    const binding = resolveKey(name, state);
    if (!binding) return;
    if (binding.mutates && state.readonly) {
      this.store.update(toast('error', `read-only dashboard: ${binding.label} is disabled (started with --readonly)`));
      return;
    }
    this.perform(binding.action);
  }

  /** The line editor (filter, search, palette, pull, save): typed text arrives whole, bursts included. */
  private editLine(names: string[]): void {
    const edit = this.state.input!;
    let value = edit.value;
    for (const name of names) {
      if (name === 'enter') return this.submitLine(edit.purpose, value);
      if (name === 'esc') {
        if (edit.purpose === 'filter') this.store.update(setFilter(this.state.view, ''));
        if (edit.purpose === 'search') this.store.update(updatePane({ search: '', match: -1 }));
        this.store.update(closeInput);
        return;
      }
      if (name === 'C-c') return this.host.quit();
      if (name === 'backspace') value = [...value].slice(0, -1).join('');
      else if (name === 'C-u') value = '';
      else if (name === 'space') value += ' ';
      else if ([...name].length === 1) value += name;
    }
    this.store.update(editInput(value));
    // Filter and search apply as the user types.
    if (edit.purpose === 'filter') this.store.update(setFilter(this.state.view, value));
    if (edit.purpose === 'search') this.store.update(updatePane({ search: value, match: -1 }));
  }

  private submitLine(purpose: string, value: string): void {
    this.store.update(closeInput);
    const text = value.trim();
    switch (purpose) {
      case 'filter': this.store.update(setFilter(this.state.view, text)); break;
      case 'search': this.search(text); break;
      case 'pull': if (text) this.pull(text); break;
      case 'save': if (text) this.saveLogs(text); break;
      case 'palette': this.palette(text); break;
    }
  }

  private search(text: string): void {
    this.store.update(updatePane({ search: text, match: -1 }));
    if (text) this.stepMatch(-1, true);
  }

  private palette(text: string): void {
    const [word = '', ...rest] = text.split(/\s+/);
    const viewAliases: Record<string, ViewName> = { c: 'containers', ps: 'containers', containers: 'containers', container: 'containers', i: 'images', images: 'images', image: 'images', v: 'volumes', volumes: 'volumes', volume: 'volumes', n: 'networks', networks: 'networks', network: 'networks', s: 'system', system: 'system', info: 'system' };
    if (viewAliases[word]) return this.perform(`view-${viewAliases[word]}` as ActionId);
    if (word === 'q' || word === 'quit') return this.host.quit();
    if (word === 'help') return this.perform('help');
    if (word === 'all') return this.perform('toggle-all');
    if (word === 'pull' && rest[0]) {
      if (this.state.readonly) return this.store.update(toast('error', 'read-only dashboard: pull is disabled'));
      return this.pull(rest[0]);
    }
    if (word === 'filter') return this.store.update(setFilter(this.state.view, rest.join(' ')));
    if (word) this.store.update(toast('error', `unknown command: ${word} (try containers, images, volumes, networks, system, pull REF, filter TEXT, all, help, quit)`));
  }

  private selectionKey(): string | undefined {
    return this.state.detail?.id ?? selectedKey(this.state);
  }

  private selectedContainer() {
    const id = this.selectionKey();
    return this.state.containers.find((c) => c.Id === id);
  }

  perform(action: ActionId): void {
    const state = this.state;
    const paneRows = layout(state).paneRows;
    switch (action) {
      case 'quit': return this.host.quit();
      case 'help': return this.store.update(setHelp(true));
      case 'palette': return this.store.update(openInput('palette'));
      case 'back':
        if (state.detail) {
          this.paneAbort.abort();
          if (this.paneTimer) clearInterval(this.paneTimer);
          return this.store.update(closeDetail);
        }
        return this.store.update(setFilter(state.view, ''));
      case 'view-containers': case 'view-images': case 'view-volumes': case 'view-networks': case 'view-system': {
        const view = action.slice('view-'.length) as ViewName;
        this.paneAbort.abort();
        this.store.update(showView(view));
        this.scheduleRefresh(view);
        return;
      }
      case 'up': return state.detail ? this.scroll(1) : this.store.update(moveSelection(-1));
      case 'down': return state.detail ? this.scroll(-1) : this.store.update(moveSelection(1));
      case 'page-up': return state.detail ? this.scroll(paneRows) : this.store.update(moveSelection(-layout(state).listRows));
      case 'page-down': return state.detail ? this.scroll(-paneRows) : this.store.update(moveSelection(layout(state).listRows));
      case 'top': return state.detail ? this.store.update(updatePane({ follow: false, scroll: this.paneSource().length, match: -1 })) : this.store.update(moveSelection('start'));
      case 'bottom': case 'follow': return state.detail ? this.store.update(updatePane({ follow: true, scroll: 0, match: -1 })) : this.store.update(moveSelection('end'));
      case 'filter': return this.store.update(openInput('filter', state.filters[state.view] ?? ''));
      case 'open': {
        const key = selectedKey(state);
        if (!key || state.view === 'system') return;
        this.store.update(openDetail(key, state.view === 'containers' ? 'logs' : 'inspect'));
        return this.loadPane();
      }
      case 'next-tab': case 'prev-tab':
        this.store.update(cycleTab(state.view === 'containers' ? containerTabs : otherTabs, action === 'next-tab' ? 1 : -1));
        return this.loadPane();
      case 'search': return this.store.update(openInput('search', state.pane.search));
      case 'next-match': return this.stepMatch(1);
      case 'prev-match': return this.stepMatch(-1);
      case 'only-matches': return this.store.update(updatePane({ onlyMatches: !state.pane.onlyMatches }));
      case 'timestamps': return this.store.update(updatePane({ timestamps: !state.pane.timestamps }));
      case 'wrap': return this.store.update(updatePane({ wrap: !state.pane.wrap }));
      case 'since':
        this.store.update(updatePane({ since: (state.pane.since + 1) % sincePresets.length }));
        this.store.update(toast('info', `logs since: ${sincePresets[this.state.pane.since]}`));
        return this.loadPane();
      case 'save': {
        const c = this.selectedContainer();
        return this.store.update(openInput('save', `${c ? containerName(c) : 'container'}.log`));
      }
      case 'toggle-all': return this.store.update(toggleShowAll);
      case 'sort': {
        const names = sortNames(state, state.view);
        this.store.update(cycleSort(state.view, names.length));
        return this.store.update(toast('info', `sorted by ${names[this.state.sortBy[state.view] ?? 0]}`));
      }
      case 'copy-id': {
        const key = this.selectionKey();
        if (!key) return;
        const id = state.view === 'images' ? (state.images.find((i) => i.Id === key || i.RepoTags?.includes(key))?.Id ?? key) : state.view === 'networks' ? (state.networks.find((n) => n.Name === key)?.Id ?? key) : key;
        this.host.copy(id);
        return this.store.update(toast('info', `copied ${id.replace(/^sha256:/, '').slice(0, 12)} to the clipboard`));
      }
      case 'pull': return this.store.update(openInput('pull'));
      case 'prune': {
        const what = { containers: 'all stopped containers', images: 'all dangling images', volumes: 'all unused anonymous volumes', networks: 'all unused networks' }[state.view as 'containers'];
        return this.store.update(askConfirm(`Remove ${what}? (y/n)`, `prune:${state.view}`));
      }
      case 'remove': {
        const key = this.selectionKey();
        if (!key) return;
        const label = state.view === 'containers' ? `container ${containerName(this.selectedContainer() ?? { Id: key, Names: [] } as never)}` : `${state.view.slice(0, -1)} ${key}`;
        return this.store.update(askConfirm(`Remove ${label}? (y/n)`, `remove:${state.view}:${key}`));
      }
      default: return this.containerAction(action);
    }
  }

  private containerAction(action: ActionId): void {
    const c = this.selectedContainer();
    if (!c) return;
    const name = containerName(c);
    switch (action) {
      case 'start': return this.run(this.api.start(c.Id, name));
      case 'stop': return this.run(this.api.stop(c.Id, name));
      case 'restart': return this.run(this.api.restart(c.Id, name));
      case 'pause': return this.run(c.State === 'paused' ? this.api.unpause(c.Id, name) : this.api.pause(c.Id, name));
      case 'kill': return this.store.update(openChoice(`Signal to send to ${name}`, signals, `kill:${c.Id}`));
      case 'exec': return void this.shell(c.Id, name);
      case 'attach': return this.attach(c.Id, name);
      default:
    }
  }

  private scroll(lines: number): void {
    const pane = this.state.pane;
    const count = this.paneSource().length;
    const height = layout(this.state).paneRows;
    const max = Math.max(0, count - height);
    const scroll = Math.min(max, Math.max(0, (pane.follow ? 0 : Math.min(pane.scroll, max)) + lines));
    const isLogs = this.state.detail?.tab === 'logs';
    this.store.update(updatePane({ scroll, follow: isLogs && scroll === 0, match: -1 }));
  }

  private stepMatch(step: number, fromEnd = false): void {
    const pane = this.state.pane;
    if (!pane.search) return;
    const model = paneWindow(this.paneSource(), pane, layout(this.state).paneRows, this.state.size.columns);
    if (model.matches === 0) {
      this.store.update(toast('info', `no match for "${pane.search}"`));
      return;
    }
    const current = fromEnd || pane.match < 0 ? (step > 0 ? -1 : model.matches) : pane.match;
    const next = (current + step + model.matches) % model.matches;
    this.store.update(updatePane({ match: next, follow: false }));
  }

  private confirmed(token: string): void {
    this.store.update(closeConfirm);
    const [verb, view, ...rest] = token.split(':');
    const key = rest.join(':');
    if (verb === 'prune') return this.run(this.api.prune(view as 'containers'));
    if (verb !== 'remove') return;
    if (view === 'containers') {
      const c = this.state.containers.find((x) => x.Id === key);
      if (this.state.detail?.id === key) this.perform('back');
      return this.run(this.api.removeContainer(key, c ? containerName(c) : key.slice(0, 12)));
    }
    if (this.state.detail) this.perform('back');
    if (view === 'images') return this.run(this.api.removeImage(key));
    if (view === 'volumes') return this.run(this.api.removeVolume(key));
    if (view === 'networks') return this.run(this.api.removeNetwork(key));
  }

  private chosen(token: string, option: string): void {
    this.store.update(closeChoice);
    const [verb, id] = token.split(':');
    const c = this.state.containers.find((x) => x.Id === id);
    if (verb === 'kill' && c) this.run(this.api.kill(c.Id, containerName(c), option));
  }

  /** Runs an engine action: its command goes to the log, its error (one line) to a toast. */
  private run(action: Action): void {
    this.store.update(logCommand(action.command));
    action.run().then(() => this.scheduleRefresh(this.state.view), (err) => {
      this.store.update(toast('error', asEngineError(err).message.split('\n')[0]!));
    });
  }

  /** Gives the terminal to `run` (a shell, attach); an error comes back as a toast. */
  private async handOver<T>(command: string, run: () => Promise<T>): Promise<T | undefined> {
    this.store.update(logCommand(command));
    let result: T | undefined;
    let failure: unknown;
    await this.host.suspend(async () => {
      try {
        result = await run();
      } catch (err) {
        failure = err;
      }
    });
    if (failure) this.store.update(toast('error', asEngineError(failure).message.split('\n')[0]!));
    this.scheduleRefresh('containers');
    return result;
  }

  private attach(id: string, name: string): void {
    void this.handOver(`roost attach ${name}`, () => this.api.attachInteractive(id, this.host.io));
  }

  /** A shell in the container: the user's shell if the image has it, else bash, else sh. */
  private async shell(id: string, name: string): Promise<void> {
    const c = this.state.containers.find((x) => x.Id === id);
    if (c && c.State !== 'running') {
      this.store.update(toast('error', `container ${name} is not running`));
      return;
    }
    const userShell = (process.env.SHELL ?? '').split('/').pop() || 'bash';
    const probe = 'for s in "$1" bash sh; do if command -v "$s" >/dev/null 2>&1; then exec "$s"; fi; done; exec sh';
    const status = await this.handOver(`roost exec -it ${name} sh`, () => this.api.execInteractive(id, ['sh', '-c', probe, 'sh', userShell], this.host.io));
    // 126/127: the image has no sh to run the probe with; try bash directly.
    if (status === 126 || status === 127) await this.handOver(`roost exec -it ${name} bash`, () => this.api.execInteractive(id, ['bash'], this.host.io));
  }

  // ------------------------------------------------------------------------------------------- jobs

  /** A pull as a background job: per-layer progress in the state, surviving view changes. */
  pull(ref: string): void {
    const id = ++this.jobSeq;
    this.store.update(startJob({ id, kind: 'pull', title: ref, state: 'running', message: 'starting', layers: {}, startedAt: Date.now() }));
    const action = this.api.pull(ref, (p: PullProgress) => {
      this.store.update(updateJob(id, (job) => {
        if (!p.id || !p.progressDetail || p.id === ref || p.id.includes(':')) return { ...job, message: p.status ?? job.message };
        // Extracting counts bytes of the unpacked stream, not of the download: the layer keeps its download figures.
        const figures = p.status === 'Extracting' ? {} : p.progressDetail;
        const layer = { status: p.status ?? '', current: figures.current ?? job.layers[p.id]?.current ?? 0, total: figures.total ?? job.layers[p.id]?.total ?? 0 };
        if (/complete|exists/i.test(layer.status) && layer.total) layer.current = layer.total;
        return { ...job, message: p.status ?? job.message, layers: { ...job.layers, [p.id]: layer } };
      }));
    });
    this.store.update(logCommand(action.command));
    action.run().then(() => {
      this.store.update(updateJob(id, (job) => ({ ...job, state: 'done', message: 'pulled', endedAt: Date.now() })), toast('info', `pulled ${ref}`));
      this.scheduleRefresh('images');
    }, (err) => {
      const message = asEngineError(err).message.split('\n')[0]!;
      this.store.update(updateJob(id, (job) => ({ ...job, state: 'failed', message, endedAt: Date.now() })), toast('error', `pull ${ref}: ${message}`));
    });
  }

  private saveLogs(file: string): void {
    try {
      const out: string[] = [];
      for (let i = 0; i < this.logs.length; i++) {
        const line = this.logs.at(i);
        out.push(this.state.pane.timestamps && line.time ? `${line.time} ${line.text}` : line.text);
      }
      fs.writeFileSync(file, out.join('\n') + (out.length ? '\n' : ''), { flag: 'wx' });
      this.store.update(toast('info', `saved ${out.length} lines to ${file}`));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.store.update(toast('error', code === 'EEXIST' ? `${file} exists; choose another name` : `cannot save to ${file}: ${(err as Error).message}`));
    }
  }
}

function sinceSeconds(preset: string): number | undefined {
  const m = /^(\d+)([mh])$/.exec(preset);
  if (!m) return undefined;
  return Math.floor(Date.now() / 1000) - Number(m[1]) * (m[2] === 'h' ? 3600 : 60);
}
