// The dashboard in a real terminal (tmux) over a real engine: the keyboard-only walk a user takes, from
// filtering to quitting back to an intact shell. Ink renders only the last frame when CI=true, so the
// dashboard runs with CI=false.
import test from 'ava';
import { execa } from 'execa';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { e2eUnavailable, RoostEnv, roostBin } from '../helpers/roost-env.js';
import { registryAvailable, startRegistry } from '../helpers/registry.js';

const skip = e2eUnavailable() ?? (fs.existsSync('/usr/bin/tmux') ? undefined : 'tmux is not installed (scripts/prepare-host.sh --test installs it)');
const e2e = skip ? test.skip : test.serial;
if (skip && process.env.ROOST_REQUIRE_E2E) test('tui end-to-end tests can run here', (t) => t.fail(skip));

class Tmux {
  readonly socketName = `roost-tui-${process.pid}`;
  constructor(private readonly env: Record<string, string>) {}
  run(...args: string[]) {
    return execa('tmux', ['-L', this.socketName, ...args], { reject: false, env: { ...process.env, ...this.env } });
  }
  async start(columns: number, rows: number, command: string): Promise<void> {
    const result = await this.run('new-session', '-d', '-s', 'ui', '-x', String(columns), '-y', String(rows), command);
    if (result.exitCode !== 0) throw new Error(`tmux: ${result.stderr}`);
  }
  async keys(...keys: string[]): Promise<void> {
    for (const key of keys) {
      await this.run('send-keys', '-t', 'ui', key);
      await new Promise((r) => setTimeout(r, 60));
    }
  }
  /** Types text literally (-l), as a burst. */
  async type(text: string): Promise<void> {
    await this.run('send-keys', '-t', 'ui', '-l', text);
  }
  async screen(): Promise<string> {
    return (await this.run('capture-pane', '-p', '-t', 'ui')).stdout;
  }
  async display(format: string): Promise<string> {
    return (await this.run('display-message', '-p', '-t', 'ui', format)).stdout.trim();
  }
  /** Waits until the screen satisfies `check`; fails with the screen when it never does. */
  async waitFor(check: (screen: string) => boolean, what: string, ms = 15_000): Promise<string> {
    const until = Date.now() + ms;
    let screen = '';
    while (Date.now() < until) {
      screen = await this.screen();
      if (check(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; the screen was:\n${screen}`);
  }
  /** Ends the server and waits until it is gone: a new session on the same socket could reach it while it exits. */
  async kill(): Promise<void> {
    await this.run('kill-server');
    // Gone once its socket (left behind as a file) refuses connections.
    const socket = path.join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid!()}`, this.socketName);
    const answers = () => new Promise<boolean>((resolve) => {
      const probe = net.connect(socket, () => { probe.destroy(); resolve(true); });
      probe.on('error', () => resolve(false));
    });
    for (let i = 0; i < 50 && await answers(); i++) await new Promise((r) => setTimeout(r, 100));
    fs.rmSync(socket, { force: true });
  }
}

const rows = (screen: string) => screen.split('\n').filter((l) => /^[ ▸]\S (web|idle|quiet)\b/.test(l));

e2e('keyboard only: filter, logs and search, a shell and back, stop and remove, pull with progress, resize, quit to an intact shell', async (t) => {
  const roost = new RoostEnv('tui');
  const tmux = new Tmux(roost.env);
  const registry = registryAvailable() ? await startRegistry(path.join(roost.base, 'registry')) : undefined;
  try {
    await roost.loadBusybox(t);
    const loop = 'i=0; while true; do i=$((i+1)); echo "tick $i"; [ $i = 3 ] && echo "needle found"; sleep 0.2; done';
    for (const [name, cmd] of [['web', loop], ['idle', 'sleep 1000'], ['quiet', 'sleep 1000']] as const) {
      const run = await roost.roost(['run', '-d', '--name', name, 'busybox', 'sh', '-c', cmd]);
      t.is(run.exitCode, 0, run.stderr);
    }
    if (registry) {
      t.is((await roost.roost(['tag', 'busybox', `${registry.host}/tools/box:1`])).exitCode, 0);
      const push = await roost.roost(['push', `${registry.host}/tools/box:1`]);
      t.is(push.exitCode, 0, push.stderr);
      t.is((await roost.roost(['rmi', `${registry.host}/tools/box:1`])).exitCode, 0);
    }

    await tmux.start(100, 30, `env CI=false node -- ${roostBin} tui; echo "dashboard exited $?"; sleep 600`);
    await tmux.waitFor((s) => rows(s).length === 3, 'three containers listed');

    // Filter by name.
    await tmux.keys('/');
    await tmux.type('web');
    await tmux.keys('Enter');
    let screen = await tmux.waitFor((s) => rows(s).length === 1, 'the filter to leave one row');
    t.regex(rows(screen)[0]!, /^[ ▸]● web/);

    // Logs, following, then search.
    await tmux.keys('Enter');
    screen = await tmux.waitFor((s) => /tick \d+/.test(s) && s.includes('following'), 'the log to follow');
    await tmux.keys('/');
    await tmux.type('needle');
    await tmux.keys('Enter');
    screen = await tmux.waitFor((s) => s.includes('/needle 1/1'), 'the search to find its one match');
    t.true(screen.includes('needle found'));

    // A shell in the container, and back to the same place.
    await tmux.keys('Escape', 'e');
    await tmux.waitFor((s) => /^\/ #\s*$/m.test(s), "a shell prompt");
    await tmux.type('echo "in-$((6*7))"');
    await tmux.keys('Enter');
    await tmux.waitFor((s) => s.includes('in-42'), 'the shell to answer');
    await tmux.type('exit');
    await tmux.keys('Enter');
    screen = await tmux.waitFor((s) => rows(s).length === 1 && s.includes('filter: web'), 'the dashboard back, filter kept');

    // Live CPU/memory: the row gets a usage figure.
    await tmux.waitFor((s) => /^[ ▸]● web .*\d+%/m.test(s), 'a CPU figure in the row');

    // Stop, then remove with confirmation.
    await tmux.keys('s');
    await tmux.waitFor((s) => /^[ ▸]■ web/m.test(s), 'web to stop', 30_000);
    await tmux.keys('d');
    await tmux.waitFor((s) => s.includes('Remove container web? (y/n)'), 'the confirmation');
    await tmux.keys('y');
    await tmux.waitFor((s) => rows(s).length === 0, 'web to go');
    const ps = await roost.roost(['ps', '-a', '--format', '{{.Names}}']);
    t.deepEqual(ps.stdout.trim().split('\n').sort(), ['idle', 'quiet']);

    // Pull with live progress, as a background job.
    if (registry) {
      await tmux.keys('Escape', '2', 'P');
      await tmux.type(`${registry.host}/tools/box:1`);
      await tmux.keys('Enter');
      await tmux.waitFor((s) => s.includes(`pulled ${registry.host}/tools/box:1`), 'the pull to finish', 30_000);
      screen = await tmux.waitFor((s) => s.includes(`${registry.host}/tools/box:1`) && !s.includes('⇣ pull'), 'the image in the list');
      t.is((await roost.roost(['image', 'inspect', `${registry.host}/tools/box:1`])).exitCode, 0);
    } else {
      t.log('docker-registry missing: pull step not run');
    }

    // Resize reflows to the new width.
    await tmux.run('resize-window', '-t', 'ui', '-x', '60', '-y', '15');
    await tmux.keys('1');
    screen = await tmux.waitFor((s) => rows(s).length === 2, 'the list at 60×15');
    t.true(screen.split('\n').every((l) => [...l].length <= 60));

    // Quit: the shell's screen is back, cursor shown, alternate screen off.
    await tmux.keys('q');
    screen = await tmux.waitFor((s) => s.includes('dashboard exited 0'), 'the dashboard to exit');
    t.is(await tmux.display('#{alternate_on}'), '0');
    t.is(await tmux.display('#{cursor_flag}'), '1');
  } finally {
    await tmux.kill();
    await registry?.stop();
    await roost.destroy();
  }
});

e2e('without a terminal, roost tui prints a snapshot table and exits 0; --json gives the lists', async (t) => {
  const roost = new RoostEnv('tuisnap');
  try {
    await roost.loadBusybox(t);
    t.is((await roost.roost(['create', '--name', 'snap', 'busybox', 'true'])).exitCode, 0);
    const table = await roost.roost(['tui']);
    t.is(table.exitCode, 0, table.stderr);
    t.regex(table.stdout, /^CONTAINERS \(1\)\nNAME\s+STATUS/m);
    t.regex(table.stdout, /○ snap\s+Created/);
    t.regex(table.stdout, /busybox:latest/);
    const json = await roost.roost(['tui', '--json']);
    const parsed = JSON.parse(json.stdout) as { containers: { Names: string[] }[]; images: unknown[] };
    t.deepEqual(parsed.containers.map((c) => c.Names[0]), ['/snap']);
    t.is(parsed.images.length, 1);
    const bad = await roost.roost(['tui', '--bogus']);
    t.not(bad.exitCode, 0);
    t.regex(bad.stderr, /^roost: unknown flag: --bogus/);
  } finally {
    await roost.destroy();
  }
});

e2e('SIGTERM and Ctrl-C also give the shell its screen back (alternate screen off, cursor shown)', async (t) => {
  const roost = new RoostEnv('tuisig');
  const tmux = new Tmux(roost.env);
  try {
    await tmux.start(80, 24, `env CI=false node -- ${roostBin} tui; echo "dashboard exited $?"; sleep 600`);
    await tmux.waitFor((s) => s.includes('nothing here yet'), 'the empty list');
    t.is(await tmux.display('#{alternate_on}'), '1', 'the dashboard runs in the alternate screen');
    const panePid = Number(await tmux.display('#{pane_pid}'));
    const children = await execa('pgrep', ['-P', String(panePid), '-f', 'roost.js'], { reject: false });
    const dashboard = Number(children.stdout.trim().split('\n')[0]);
    t.true(dashboard > 0, `the dashboard process under ${panePid}`);
    process.kill(dashboard, 'SIGTERM');
    await tmux.waitFor((s) => s.includes('dashboard exited 143'), 'the dashboard to end on SIGTERM');
    t.is(await tmux.display('#{alternate_on}'), '0');
    t.is(await tmux.display('#{cursor_flag}'), '1');
    await tmux.kill();
    await tmux.start(80, 24, `env CI=false node -- ${roostBin} tui; echo "dashboard exited $?"; sleep 600`);
    await tmux.waitFor((s) => s.includes('nothing here yet'), 'the empty list again');
    await tmux.keys('C-c');
    await tmux.waitFor((s) => s.includes('dashboard exited 0'), 'the dashboard to end on Ctrl-C');
    t.is(await tmux.display('#{alternate_on}'), '0');
  } finally {
    await tmux.kill();
    await roost.destroy();
  }
});
