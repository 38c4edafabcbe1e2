// The dashboard's benchmarks (issue 10), run with `npm run bench:tui` as the unprivileged user:
//   1. keypress → updated frame with 5,000 containers (p50/p95), the app rendered with the options
//      `roost tui` uses, against the test suite's fake engine, in this process;
//   2. idle CPU with stats on for 20 running containers: the dashboard in tmux over a real engine of
//      its own for 30 s (after 20 s of warm-up), the dashboard's CPU plus what the engine spends beyond its own idle baseline;
//   3. full-screen clears (ESC[2J) in the dashboard's raw output over those 30 s.
// Targets: p95 ≤ 50 ms; < 1% of one core; 0 clears at idle.
import { execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createElement } from 'react';
import { render } from 'ink';
import { ApiClient } from '../src/api/client.js';
import { App } from '../src/tui/components/app.js';
import { Controller } from '../src/tui/controller.js';
import { EngineApi } from '../src/tui/engine-api.js';
import { initialState } from '../src/tui/state.js';
import { Store } from '../src/tui/store.js';
import { startFakeEngine } from '../test/helpers/fake-engine.js';
import { FakeStdin, FakeStdout } from '../test/helpers/ink-harness.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const roostJs = path.join(repo, 'bin', 'roost.js');
const quick = process.argv.includes('--quick');
const idleSeconds = quick ? 10 : 30;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function keypressLatency(): Promise<{ p50: number; p95: number; max: number; presses: number }> {
  const engine = await startFakeEngine();
  const out = new FakeStdout(120, 40);
  const keys = new FakeStdin();
  const store = new Store(initialState({ columns: 120, rows: 40 }));
  const controller = new Controller(store, new EngineApi(new ApiClient(engine.socket)), { quit() {}, async suspend(run) { await run(); }, copy() {}, io: { stdin: keys as never, stdout: out as never } }, { statsIntervalMs: 2000 });
  const ink = render(createElement(App, { controller }), { stdout: out as never, stdin: keys as never, exitOnCtrlC: false, patchConsole: false, maxFps: 30 });
  controller.start();
  for (const until = Date.now() + 20_000; !store.get().loaded.containers; await sleep(20)) {
    if (Date.now() > until) throw new Error(`the dashboard did not load the fake engine's containers: ${store.get().connection.message ?? store.get().connection.state}`);
  }
  await sleep(500);
  const samples: number[] = [];
  const presses = quick ? 60 : 200;
  for (let i = 0; i < presses; i++) {
    const before = out.frames.length;
    const start = process.hrtime.bigint();
    keys.write(i % 40 < 20 ? 'j' : 'k');
    const until = Date.now() + 5000;
    while (out.frames.length === before) {
      if (Date.now() > until) throw new Error('no frame followed a keypress within 5 s');
      await new Promise((r) => setImmediate(r));
    }
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    await sleep(40);
  }
  controller.stop();
  ink.unmount();
  await engine.close();
  return { p50: percentile(samples, 50), p95: percentile(samples, 95), max: Math.max(...samples), presses };
}

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The pid of the process tmux runs in its pane (the dashboard's node). */
function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name), ...descendantsOf(Number(name)));
    } catch { /* gone */ }
  }
  return out;
}

async function idleCost(): Promise<{ dashboardPct: number; engineExtraPct: number; engineBaselinePct: number; clears: number; idleBytes: number; seconds: number; containers: number }> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-tui-bench-'));
  const env = { ...process.env, XDG_RUNTIME_DIR: path.join(base, 'run'), XDG_DATA_HOME: path.join(base, 'data'), XDG_CONFIG_HOME: path.join(base, 'config'), CI: 'false' };
  fs.mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
  const roost = (...args: string[]) => execFileSync(process.execPath, ['--', roostJs, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', `roost-tui-bench-${process.pid}`, ...args], { env, encoding: 'utf8' });
  const archive = path.join(base, 'busybox.tar');
  execFileSync(path.join(repo, 'scripts', 'make-busybox-image.sh'), [archive, 'busybox:latest']);
  const raw = path.join(base, 'raw-output');
  let daemon = 0;
  try {
    roost('load', '-i', archive);
    const containers = 20;
    for (let i = 0; i < containers; i++) roost('run', '-d', '--network', 'none', '--name', `idle${i}`, 'busybox', 'sleep', '3600');
    daemon = Number(fs.readFileSync(path.join(env.XDG_RUNTIME_DIR, 'roost', 'daemon.pid'), 'utf8'));
    const hz = 100;
    await sleep(2000);
    let t0 = cpuTicks(daemon);
    await sleep(idleSeconds * 1000);
    const engineBaseline = (cpuTicks(daemon) - t0) / hz / idleSeconds;

    tmux('new-session', '-d', '-s', 'ui', '-x', '120', '-y', '40', `node -- ${roostJs} tui`);
    tmux('pipe-pane', '-t', 'ui', '-o', `cat > ${raw}`);
    const panePid = Number(tmux('display-message', '-p', '-t', 'ui', '#{pane_pid}').trim());
    // Idle means steady: past start-up and past the first 16 s in which the rows' 8-sample sparklines fill.
    await sleep(20_000);
    const dashboard = [panePid, ...descendantsOf(panePid)];
    const rawBefore = fs.existsSync(raw) ? fs.readFileSync(raw, 'latin1').length : 0;
    t0 = cpuTicks(daemon);
    const d0 = dashboard.reduce((n, pid) => n + cpuTicks(pid), 0);
    await sleep(idleSeconds * 1000);
    const engineWith = (cpuTicks(daemon) - t0) / hz / idleSeconds;
    const dashboardCpu = (dashboard.reduce((n, pid) => n + cpuTicks(pid), 0) - d0) / hz / idleSeconds;
    const idleOutput = fs.readFileSync(raw, 'latin1').slice(rawBefore);
    const clears = idleOutput.split('\x1b[2J').length - 1;
    tmux('send-keys', '-t', 'ui', 'q');
    await sleep(500);
    return { dashboardPct: dashboardCpu * 100, engineExtraPct: Math.max(0, engineWith - engineBaseline) * 100, engineBaselinePct: engineBaseline * 100, clears, idleBytes: idleOutput.length, seconds: idleSeconds, containers };
  } finally {
    try { tmux('kill-server'); } catch { /* not running */ }
    try { roost('rm', '-f', ...Array.from({ length: 20 }, (_, i) => `idle${i}`)); } catch { /* partly made */ }
    const pause = path.join(env.XDG_RUNTIME_DIR, 'roost', 'pause.pid');
    if (fs.existsSync(pause)) {
      const pid = fs.readFileSync(pause, 'utf8').trim();
      try { execSync(`nsenter -t ${pid} -U -m -- rm -rf ${path.join(base, 'data')}`); } catch { /* best effort */ }
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    try { if (daemon) process.kill(daemon, 'SIGKILL'); } catch { /* gone */ }
    fs.rmSync(base, { recursive: true, force: true });
  }
}

if (process.getuid?.() === 0) {
  process.stderr.write('bench/tui.ts: run it as the unprivileged user the engine runs as\n');
  process.exit(2);
}
const latency = await keypressLatency();
const idle = await idleCost();
const total = idle.dashboardPct + idle.engineExtraPct;
const rows = [
  ['keypress → frame, 5,000 containers (p95)', `${latency.p95.toFixed(1)} ms (p50 ${latency.p50.toFixed(1)}, max ${latency.max.toFixed(1)}, ${latency.presses} presses)`, '≤ 50 ms', latency.p95 <= 50],
  [`idle, stats on, ${idle.containers} containers: CPU of one core`, `${total.toFixed(2)}% (dashboard ${idle.dashboardPct.toFixed(2)}% + engine ${idle.engineExtraPct.toFixed(2)}% over its ${idle.engineBaselinePct.toFixed(2)}% baseline; ${idle.seconds} s)`, '< 1%', total < 1],
  [`full-screen clears (ESC[2J) at idle over ${idle.seconds} s`, `${idle.clears} (${idle.idleBytes} bytes written in all)`, '0', idle.clears === 0],
] as const;
process.stdout.write('| Benchmark | Measured | Target | Result |\n|---|---|---|---|\n');
for (const [name, value, target, ok] of rows) process.stdout.write(`| ${name} | ${value} | ${target} | ${ok ? 'PASS' : 'FAIL'} |\n`);
process.exit(0);
