/**
 * The whole frame, drawn from the state and the pane's lines. Presentational only: no I/O, no timers.
 * Every line is cut to the terminal's width, and the frame stays one line short of its height.
 */
import { Box, Text } from 'ink';
import { humanSize } from '../../util/human.js';
import { footerHints, helpLines } from '../keymap.js';
import { sincePresets, type Job, type TuiState, type ViewName } from '../state.js';
import { fit, layout, paneWindow, sparkline, table, tableHeading, type PaneSource, type TableModel } from '../view-models.js';
import { colorTheme, monoTheme, sgr, type Theme } from './theme.js';

const viewTitles: Record<ViewName, [string, string]> = {
  containers: ['Containers', 'Cont'], images: ['Images', 'Img'], volumes: ['Volumes', 'Vol'], networks: ['Networks', 'Net'], system: ['System', 'Sys'],
};
const tabTitles: Record<string, string> = { logs: 'Logs', stats: 'Stats', inspect: 'Inspect', env: 'Env', ports: 'Ports', top: 'Top', changes: 'Changes' };

export interface ScreenProps { state: TuiState; pane: PaneSource }

export function Screen({ state, pane }: ScreenProps) {
  const theme = state.mono ? monoTheme : colorTheme;
  const width = state.size.columns;
  const lay = layout(state);
  return (
    <Box flexDirection="column" width={width}>
      <Header state={state} theme={theme} />
      {lay.banner ? <Text color={theme.color('error')} inverse={state.mono} wrap="truncate">{fit(`✖ engine unreachable: ${state.connection.message ?? ''}`, width)}</Text> : null}
      <Body state={state} theme={theme} rows={lay.listRows} />
      {state.detail ? <Pane state={state} theme={theme} source={pane} rows={lay.paneRows} /> : null}
      {state.jobs.filter((j) => j.state === 'running').slice(-lay.jobRows).map((job) => <Text key={job.id} wrap="truncate">{fit(jobLine(job, Date.now()), width)}</Text>)}
      <StatusLine state={state} theme={theme} />
      <Footer state={state} theme={theme} />
    </Box>
  );
}

function Header({ state, theme }: { state: TuiState; theme: Theme }) {
  const narrow = state.size.columns < 90;
  const up = state.connection.state === 'up';
  const running = state.containers.filter((c) => c.State === 'running').length;
  const right = `${up ? '●' : state.connection.state === 'connecting' ? '…' : '✖'} ${running}/${state.containers.length} running${state.readonly ? ' · read-only' : ''}`;
  const tabs = (Object.keys(viewTitles) as ViewName[]).map((v, i) => ({ v, text: ` ${i + 1} ${viewTitles[v][narrow ? 1 : 0]} ` }));
  const used = 6 + tabs.reduce((n, t) => n + t.text.length, 0);
  const room = Math.max(0, state.size.columns - 1 - used);
  return (
    <Text wrap="truncate">
      <Text bold color={theme.accent}>roost </Text>
      {tabs.map((t) => <Text key={t.v} inverse={t.v === state.view} bold={t.v === state.view}>{t.text}</Text>)}
      <Text color={theme.color(up ? 'running' : 'error')}>{fit(right, room, 'right')}</Text>
    </Text>
  );
}

function Body({ state, theme, rows }: { state: TuiState; theme: Theme; rows: number }) {
  const width = state.size.columns - 1;
  if (state.help.open) {
    const lines = helpLines();
    const start = Math.min(state.help.scroll, Math.max(0, lines.length - rows - 1));
    return <Lines lines={[fit('Keys (↑/↓ scroll, any other key closes)', width), ...lines.slice(start, start + rows).map((l) => fit(l, width))]} bold={0} />;
  }
  if (state.choice) {
    const c = state.choice;
    return <Lines lines={[fit(`${c.title} (↑/↓, ⏎ send, Esc cancel)`, width), ...c.options.slice(0, rows).map((o, i) => fit(`${i === c.index ? '▶' : ' '} ${o}`, width))]} bold={0} inverse={c.index + 1} />;
  }
  if (state.view === 'system') return <Lines lines={systemLines(state, width).slice(0, rows + 1)} bold={-1} />;
  return <Table model={table(state, state.view, rows)} theme={theme} width={width} rows={rows} loaded={state.loaded[state.view]} filter={state.filters[state.view]} />;
}

function Lines({ lines, bold, inverse }: { lines: string[]; bold: number; inverse?: number }) {
  return <Text>{lines.map((line, i) => sgr(line || ' ', { bold: i === bold, inverse: i === inverse })).join('\n')}</Text>;
}

function Table({ model, theme, width, rows, loaded, filter }: { model: TableModel; theme: Theme; width: number; rows: number; loaded: boolean; filter?: string }) {
  const heading = ` ${tableHeading(model)}`;
  const empty = !loaded ? 'loading…' : model.total === 0 ? 'nothing here yet' : model.matched === 0 ? `no rows match the filter "${filter ?? ''}"` : '';
  const lines = [sgr(fit(heading, width).trimEnd(), { bold: true })];
  for (let i = 0; i < rows; i++) {
    const row = model.rows[i];
    if (!row) {
      lines.push(i === 0 && empty ? sgr(fit(`  ${empty}`, width), { dim: true }) : ' ');
      continue;
    }
    const selected = i === model.selected;
    // The selected row keeps its padding (the inverse bar spans the width); the others lose it.
    const text = fit(`${selected ? '▸' : ' '}${row.cells.join(' ')}`, width);
    lines.push(sgr(selected ? text : text.trimEnd(), { inverse: selected, color: theme.color(row.tone), dim: !selected && theme.dim(row.tone) }));
  }
  return <Text>{lines.join('\n')}</Text>;
}

function Pane({ state, theme, source, rows }: { state: TuiState; theme: Theme; source: PaneSource; rows: number }) {
  const width = state.size.columns - 1;
  const detail = state.detail!;
  const tabs = state.view === 'containers' ? Object.keys(tabTitles) : ['inspect'];
  const name = state.view === 'containers' ? (state.containers.find((c) => c.Id === detail.id)?.Names[0]?.replace(/^\//, '') ?? detail.id.slice(0, 12)) : detail.id;
  if (detail.tab === 'stats') {
    return (
      <Box flexDirection="column">
        <TabLine tabs={tabs} current={detail.tab} title={name} right="" width={width} />
        <Lines lines={statsLines(state, detail.id, width).slice(0, rows)} bold={-1} />
      </Box>
    );
  }
  const textWidth = width - (state.pane.timestamps ? 31 : 0);
  const model = paneWindow(source, state.pane, rows, textWidth);
  const flags = [
    model.dropped ? `${model.dropped} oldest dropped` : '',
    state.pane.search ? `/${state.pane.search} ${model.matchNumber}/${model.matches}` : '',
    state.pane.onlyMatches && state.pane.search ? 'only matches' : '',
    detail.tab === 'logs' ? (state.pane.follow ? 'following' : model.below ? `+${model.below} new (f: follow)` : 'paused') : '',
    detail.tab === 'logs' && state.pane.since ? `since ${sincePresets[state.pane.since]}` : '',
  ].filter(Boolean).join(' · ');
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const line = model.lines[i];
    if (!line) {
      lines.push(' ');
      continue;
    }
    const prefix = line.time ? `${line.time.slice(0, 30).padEnd(30)} ` : '';
    lines.push(highlighted(prefix, fit(line.text, Math.max(1, textWidth)).trimEnd(), line.highlight, line.current, theme.color(line.tone), state.mono));
  }
  return (
    <Box flexDirection="column">
      <TabLine tabs={tabs} current={detail.tab} title={name} right={flags} width={width} />
      <Text>{lines.join('\n')}</Text>
    </Box>
  );
}

function TabLine({ tabs, current, title, right, width }: { tabs: string[]; current: string; title: string; right: string; width: number }) {
  const left = `─ ${title} `;
  const tabText = tabs.map((t) => ` ${tabTitles[t]} `);
  const used = left.length + tabText.reduce((n, t) => n + t.length, 0);
  return (
    <Text wrap="truncate">
      <Text bold>{fit(left, Math.min(left.length, width))}</Text>
      {tabs.map((t, i) => <Text key={t} inverse={t === current}>{tabText[i]}</Text>)}
      <Text dimColor>{fit(right ? ` ${right}` : '', Math.max(0, width - used), 'right')}</Text>
    </Text>
  );
}

/** A pane line with its search matches marked (inverse; the current one also bold and underlined). */
function highlighted(prefix: string, text: string, ranges: [number, number][], current: boolean, color: string | undefined, mono: boolean): string {
  const plain = (part: string) => sgr(part, { color });
  if (!ranges.length) return plain(`${prefix}${text}`) || ' ';
  let out = plain(`${current ? '▶' : ''}${prefix}`);
  let at = 0;
  for (const [from, to] of ranges) {
    if (from >= text.length) break;
    if (from > at) out += plain(text.slice(at, from));
    out += sgr(text.slice(from, Math.min(to, text.length)), { inverse: true, bold: current, underline: current || mono, color: mono ? undefined : current ? 'yellow' : undefined });
    at = to;
  }
  if (at < text.length) out += plain(text.slice(at));
  return out;
}

function StatusLine({ state, theme }: { state: TuiState; theme: Theme }) {
  const width = state.size.columns - 1;
  const last = state.toasts.at(-1);
  if (last) return <Text color={theme.color(last.kind === 'error' ? 'error' : 'running')} inverse={state.mono && last.kind === 'error'} wrap="truncate">{fit(`${last.kind === 'error' ? '✖' : '✔'} ${last.text}`, width)}</Text>;
  const command = state.commandLog.at(-1);
  const filter = state.filters[state.view];
  const text = [filter ? `filter: ${filter}` : '', command ? `$ ${command}` : ''].filter(Boolean).join('   ');
  return <Text dimColor wrap="truncate">{fit(text || ' ', width)}</Text>;
}

function Footer({ state, theme }: { state: TuiState; theme: Theme }) {
  const width = state.size.columns - 1;
  if (state.input) {
    const prompts = { filter: 'filter: ', search: 'search: ', palette: ':', pull: 'pull image: ', save: 'save logs to: ' };
    const prompt = prompts[state.input.purpose];
    const room = Math.max(1, width - prompt.length - 1);
    const value = [...state.input.value].slice(-room).join('');
    return <Text wrap="truncate"><Text bold color={theme.accent}>{prompt}</Text>{value}<Text inverse> </Text></Text>;
  }
  if (state.confirm) return <Text bold color={theme.color('warn')} inverse={state.mono} wrap="truncate">{fit(state.confirm.message, width)}</Text>;
  const hints = footerHints(state);
  const parts: { key: string; label: string }[] = [];
  let used = 0;
  for (const h of hints) {
    const len = h.key.length + h.label.length + 2;
    if (used + len > width) break;
    parts.push(h);
    used += len;
  }
  return (
    <Text wrap="truncate">
      {parts.map((h) => <Text key={h.key + h.label}><Text bold color={theme.accent}>{h.key}</Text> {h.label} </Text>)}
    </Text>
  );
}

export function jobLine(job: Job, now: number): string {
  const layers = Object.values(job.layers);
  const done = layers.filter((l) => l.total > 0 && l.current >= l.total).length;
  const current = layers.reduce((n, l) => n + l.current, 0);
  const total = layers.reduce((n, l) => n + l.total, 0);
  const seconds = Math.max(0.001, (now - job.startedAt) / 1000);
  const rate = current / seconds;
  const eta = rate > 0 && total > current ? `ETA ${Math.ceil((total - current) / rate)}s` : '';
  const bytes = total ? `${humanSize(current)}/${humanSize(total)}` : '';
  return `⇣ pull ${job.title}  ${layers.length ? `${done}/${layers.length} layers` : job.message}  ${bytes}  ${rate > 0 ? `${humanSize(rate)}/s` : ''}  ${eta}`.replace(/\s+$/, '');
}

export function statsLines(state: TuiState, id: string, width: number): string[] {
  const s = state.stats[id];
  const c = state.containers.find((x) => x.Id === id);
  if (c && c.State !== 'running') return [`${c.Names[0]?.replace(/^\//, '')} is ${c.State}: no live usage`];
  if (!s) return ['sampling…'];
  const spark = Math.max(5, Math.min(30, width - 30));
  const cpu = s.cpu.at(-1);
  const mem = s.mem.at(-1) ?? 0;
  return [
    `CPU  ${sparkline(s.cpu, spark, 100)} ${cpu === undefined ? '…' : `${cpu.toFixed(1)}%`}`,
    `MEM  ${sparkline(s.mem, spark)} ${humanSize(mem)} / ${humanSize(s.memLimit)}`,
    `PIDS ${s.pids}`,
    'CPU % is of one core (100% = one core busy), over the last sample interval.',
  ];
}

export function systemLines(state: TuiState, width: number): string[] {
  const info = state.info;
  const lines: string[] = [];
  const add = (text: string) => lines.push(fit(text, width));
  if (!info) {
    add('loading…');
    return lines;
  }
  add(`Engine    roost ${info.ServerVersion ?? ''} · runtime ${info.Roost?.Runtime ?? info.DefaultRuntime ?? '?'} · cgroup v${info.CgroupVersion ?? '?'}`);
  add(`Storage   ${info.Roost?.StorageDriver ?? info.Driver ?? '?'}`);
  add(`Objects   ${info.ContainersRunning ?? 0}/${info.Containers ?? 0} containers running · ${info.Images ?? 0} images · ${info.NCPU ?? '?'} CPUs · ${humanSize(info.MemTotal ?? 0)} memory`);
  const disk = state.disk;
  if (disk) {
    const images = disk.LayersSize ?? 0;
    const containers = (disk.Containers ?? []).reduce((n, c) => n + (c.SizeRw ?? 0), 0);
    const volumes = (disk.Volumes ?? []).reduce((n, v) => n + (v.UsageData?.Size ?? 0), 0);
    add(`Disk      images ${humanSize(images)} · containers ${humanSize(containers)} · volumes ${humanSize(volumes)}`);
  }
  add('Rootless doctor');
  for (const f of info.Roost?.Host ?? []) add(`  ${f.ok ? '✔' : '✖'} ${f.name}: ${f.detail}${!f.ok && f.remedy ? ` — fix: ${f.remedy}` : ''}`);
  add('Commands run from the dashboard (the same as roost commands)');
  if (!state.commandLog.length) add('  (none yet)');
  for (const command of state.commandLog.slice(-5).reverse()) add(`  $ ${command}`);
  add('Events (the last hour)');
  const events = state.events.slice(-20).reverse();
  if (!events.length) add('  (none)');
  for (const e of events) {
    const time = new Date(e.time * 1000).toISOString().slice(11, 19);
    add(`  ${time} ${e.Type} ${e.Action} ${e.Actor.Attributes.name ?? e.Actor.ID.slice(0, 12)}`);
  }
  return lines;
}

