import anyTest, { type TestFn } from 'ava';
import { e2eUnavailable, retry, RoostEnv } from '../helpers/roost-env.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: restart policies (skipped)', (t) => { t.log(skip); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('restart');
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => { await t.context.roost?.destroy(); });

const state = (roost: RoostEnv, name: string) => roost.roost(['inspect', '-f', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}', name]).then((r) => r.stdout.trim());

e2e('on-failure:N restarts a failing container N times with back-off, then leaves it exited', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo try; exit 3']);
  const final = await retry(() => state(roost, 'flaky'), (s) => s === 'exited 2 3', 8000);
  t.is(final, 'exited 2 3');
  t.is((await roost.roost(['logs', 'flaky'])).stdout, 'try\ntry\ntry\n', 'the first run and two restarts');
  await new Promise((r) => setTimeout(r, 1000));
  t.is(await state(roost, 'flaky'), 'exited 2 3', 'no third restart');
  await roost.roost(['rm', 'flaky']);
});

e2e('always restarts after any exit, stop ends that, and the engine starts it again when it starts', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '-d', '--name', 'svc', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3; exit 0']);
  await retry(() => state(roost, 'svc'), (s) => Number(s.split(' ')[1]) >= 2, 8000);
  t.true(Number((await state(roost, 'svc')).split(' ')[1]) >= 2, 'restarted after clean exits');
  t.is((await roost.roost(['stop', '-t', '1', 'svc'])).exitCode, 0);
  await new Promise((r) => setTimeout(r, 1200));
  t.regex(await state(roost, 'svc'), /^exited /, 'stop keeps it stopped');
  await roost.roost(['run', '-d', '--name', 'keeper', '--restart', 'unless-stopped', 'busybox', 'sleep', '300']);
  await roost.roost(['run', '-d', '--name', 'stopped-keeper', '--restart', 'unless-stopped', 'busybox', 'sleep', '300']);
  await roost.roost(['stop', '-t', '0', 'stopped-keeper']);
  // A new engine (the old one killed; running containers run on under their monitors).
  process.kill(roost.daemonPid(), 'SIGKILL');
  const afterStart = await retry(() => roost.roost(['ps', '--format', '{{.Names}}']), (r) => r.stdout.includes('svc'));
  const names = afterStart.stdout.trim().split('\n').sort();
  t.true(names.includes('svc'), 'always: started with the engine although it was stopped by hand');
  t.false(names.includes('stopped-keeper'), 'unless-stopped: stopped by hand stays stopped');
  t.true(names.includes('keeper'), 'unless-stopped and never stopped: still running');
  await roost.roost(['rm', '-f', 'svc', 'keeper', 'stopped-keeper']);
});

e2e('--restart with --rm, and a bad policy, are refused', async (t) => {
  const { roost } = t.context;
  const both = await roost.roost(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
  t.is(both.exitCode, 125);
  t.regex(both.stderr, /cannot specify both --restart and --rm/);
  const bad = await roost.roost(['run', '--restart', 'sometimes', 'busybox', 'true']);
  t.is(bad.exitCode, 125);
  t.regex(bad.stderr, /invalid restart policy "sometimes"/);
  const count = await roost.roost(['run', '--restart', 'always:3', 'busybox', 'true']);
  t.is(count.exitCode, 125);
});
