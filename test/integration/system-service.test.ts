// `roost system service install|uninstall` through the built CLI, in a temp XDG_CONFIG_HOME: the unit file it
// writes, the fallback instructions when no user manager answers, and the systemctl calls it makes when one does
// (a stand-in systemctl that records them, so the user's real manager is never touched).
import test from 'ava';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { roostBin } from '../helpers/roost-env.js';

function tempHome() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-service-'));
  const runtimeDir = path.join(base, 'run');
  fs.mkdirSync(runtimeDir, { mode: 0o700 });
  const configHome = path.join(base, 'config');
  return { base, configHome, unitFile: path.join(configHome, 'systemd', 'user', 'roost.service'), runtimeDir };
}

/** The CLI with no session bus to find: an empty runtime dir and no DBUS_SESSION_BUS_ADDRESS. */
function roost(home: ReturnType<typeof tempHome>, args: string[], extraPath?: string) {
  const env: Record<string, string | undefined> = { ...process.env, XDG_CONFIG_HOME: home.configHome, XDG_RUNTIME_DIR: home.runtimeDir, DBUS_SESSION_BUS_ADDRESS: undefined, XDG_DATA_HOME: undefined, ROOST_STORAGE_DRIVER: undefined, ROOST_RUNTIME: undefined };
  if (extraPath) env.PATH = `${extraPath}:${process.env.PATH}`;
  return execa(process.execPath, ['--', roostBin, ...args], { env, extendEnv: false, reject: false, timeout: 30_000 });
}

/** A systemctl that appends its arguments to calls.log and fails the calls named in FAIL_ON. */
function fakeSystemctl(home: ReturnType<typeof tempHome>, failOn = '') {
  const bin = path.join(home.base, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >> ${home.base}/calls.log\ncase "$*" in *'${failOn || '@never@'}'*) echo "Failed to enable unit: Unit file roost.service does not exist." >&2; echo more >&2; exit 1 ;; esac\nexit 0\n`, { mode: 0o755 });
  return { bin, calls: () => { try { return fs.readFileSync(path.join(home.base, 'calls.log'), 'utf8').trim().split('\n'); } catch { return []; } } };
}

const expectedUnit = (configHome: string) => `# Written by \`roost system service install\`; \`roost system service uninstall\` removes it.
[Unit]
Description=Roost rootless container engine

[Service]
Type=simple
ExecStart=${process.execPath} -- ${roostBin} daemon
Environment=XDG_CONFIG_HOME=${configHome}
# A cgroup subtree of its own, for pause and resource limits.
Delegate=yes
# Containers outlive the daemon: stopping the service ends the daemon only.
KillMode=process
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
`;

test('install writes the user unit under XDG_CONFIG_HOME and, with no user manager to reach, prints the commands to run', async (t) => {
  const home = tempHome();
  t.teardown(() => fs.rmSync(home.base, { recursive: true, force: true }));
  const installed = await roost(home, ['system', 'service', 'install', '--now']);
  t.is(installed.exitCode, 0, installed.stderr);
  t.is(fs.readFileSync(home.unitFile, 'utf8'), expectedUnit(home.configHome));
  t.is(fs.statSync(home.unitFile).mode & 0o777, 0o644);
  if (fs.existsSync('/usr/bin/systemd-analyze')) {
    // systemd's own parser: a misspelt key or value is a warning on stderr.
    const verified = await execa('/usr/bin/systemd-analyze', ['verify', home.unitFile], { reject: false });
    t.is(`${verified.exitCode} ${verified.stderr}`, '0 ', 'systemd-analyze verify finds nothing to say');
  } else t.log('systemd-analyze is not installed: the unit is not checked by systemd\'s parser');
  const [wrote, reason, ...commands] = installed.stdout.split('\n');
  t.is(wrote, `Wrote ${home.unitFile}`);
  t.regex(reason!, /^(systemctl is not installed|systemctl --user found no user manager: .+); run in your login session:$/);
  t.deepEqual(commands, ['  systemctl --user daemon-reload', '  systemctl --user enable --now roost.service']);

  const again = await roost(home, ['system', 'service', 'install']);
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stdout, new RegExp(`^Updated ${home.unitFile}\n`));
  t.regex(again.stdout, /\n {2}systemctl --user enable roost\.service$/, 'without --now, enable only');

  // `enable` done by hand meanwhile: uninstall removes its link too.
  const wants = path.join(path.dirname(home.unitFile), 'default.target.wants');
  fs.mkdirSync(wants);
  fs.symlinkSync(home.unitFile, path.join(wants, 'roost.service'));
  const removed = await roost(home, ['system', 'service', 'uninstall']);
  t.is(removed.exitCode, 0, removed.stderr);
  t.false(fs.existsSync(home.unitFile));
  t.false(fs.existsSync(path.join(wants, 'roost.service')));
  t.regex(removed.stdout, new RegExp(`^Removed ${home.unitFile}\n.*; run in your login session:\n {2}systemctl --user stop roost\\.service\n {2}systemctl --user daemon-reload$`));

  const missing = await roost(home, ['system', 'service', 'uninstall']);
  t.is(missing.exitCode, 125);
  t.is(missing.stderr, `roost: roost.service is not installed: there is no ${home.unitFile}`);
});

test('with a user manager, install reloads it and enables (and starts) the unit; uninstall disables it first', async (t) => {
  const home = tempHome();
  t.teardown(() => fs.rmSync(home.base, { recursive: true, force: true }));
  const systemctl = fakeSystemctl(home);
  const installed = await roost(home, ['system', 'service', 'install', '--now'], systemctl.bin);
  t.is(installed.exitCode, 0, installed.stderr);
  t.is(installed.stdout, `Wrote ${home.unitFile}\nEnabled roost.service: the daemon starts at login, and runs now; \`loginctl enable-linger\` starts it at boot`);
  t.deepEqual(systemctl.calls(), ['--user daemon-reload', '--user enable --now roost.service']);
  t.true(fs.existsSync(home.unitFile));

  const removed = await roost(home, ['system', 'service', 'uninstall'], systemctl.bin);
  t.is(removed.exitCode, 0, removed.stderr);
  t.is(removed.stdout, `Removed ${home.unitFile}\nStopped and disabled roost.service`);
  t.deepEqual(systemctl.calls().slice(2), ['--user daemon-reload', '--user disable --now roost.service', '--user daemon-reload']);
  t.false(fs.existsSync(home.unitFile));
});

test('a systemctl that refuses to enable fails install with its one-line reason; bad arguments are one-line errors', async (t) => {
  const home = tempHome();
  t.teardown(() => fs.rmSync(home.base, { recursive: true, force: true }));
  const systemctl = fakeSystemctl(home, 'enable');
  const failed = await roost(home, ['system', 'service', 'install'], systemctl.bin);
  t.is(failed.exitCode, 125);
  t.is(failed.stderr.split('\n')[0], 'roost: systemctl --user enable roost.service failed: Failed to enable unit: Unit file roost.service does not exist.');
  t.regex(failed.stderr.split('\n')[1]!, /^hint: /);

  for (const [args, message] of [
    [['system', 'service'], 'roost: "roost system service" requires a subcommand: install, uninstall'],
    [['system', 'service', 'install', 'extra'], 'roost: "roost system service install" accepts no arguments'],
    [['system', 'service', 'install', '--bogus'], 'roost: unknown flag: --bogus'],
    // Not a daemon in the foreground that ignores what it was asked.
    [['daemon', 'stop'], 'roost: unknown argument for roost daemon: stop'],
    [['daemon', '--bogus'], 'roost: unknown flag for roost daemon: --bogus'],
  ] as const) {
    const result = await roost(home, [...args]);
    t.is(result.exitCode, 125, args.join(' '));
    t.is(result.stderr.split('\n')[0], message);
  }
});
