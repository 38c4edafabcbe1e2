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

const health = (roost: RoostEnv, name: string) => roost.roost(['inspect', '-f', '{{.State.Health.Status}} {{.State.Health.FailingStreak}}', name]).then((r) => r.stdout.trim());

e2e('health checks: starting, unhealthy after the retries, healthy when the check passes; ps, inspect and events show it', async (t) => {
  const { roost } = t.context;
  const events = roost.spawnRoost(['events', '--filter', 'event=health_status', '--format', '{{.Action}}', '--until', new Date(Date.now() + 12_000).toISOString()]);
  await roost.roost(['run', '-d', '--name', 'web', '--health-cmd', 'cat /tmp/ready', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sleep', '300']);
  t.regex((await roost.roost(['ps', '--format', '{{.Status}}', '--filter', 'name=web'])).stdout, /^Up .* \(health: starting\)\n$/);
  // Unhealthy once two checks in a row failed; more may have failed by the time inspect answers.
  t.regex(await retry(() => health(roost, 'web'), (s) => s.startsWith('unhealthy'), 5000), /^unhealthy ([2-9]|\d\d+)$/);
  t.regex((await roost.roost(['inspect', '-f', '{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}', 'web'])).stdout, /^1 cat: can't open '\/tmp\/ready'/);
  await roost.roost(['exec', 'web', 'sh', '-c', 'echo ok > /tmp/ready']);
  t.is(await retry(() => health(roost, 'web'), (s) => s.startsWith('healthy'), 5000), 'healthy 0');
  t.is((await roost.roost(['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}'])).stdout.replace(/Up .* \(/, 'Up (').trim(), 'web Up (healthy)');
  // Probes run through an agent in the container: not in top or diff, and started again if it dies.
  t.notRegex((await roost.roost(['top', 'web'])).stdout, /roost-probe/);
  t.is((await roost.roost(['diff', 'web'])).stdout, 'C /tmp\nA /tmp/ready\n');
  await roost.roost(['exec', 'web', 'sh', '-c', 'pkill -f roost-probe; rm /tmp/ready']);
  t.regex(await retry(() => health(roost, 'web'), (s) => s.startsWith('unhealthy'), 5000), /^unhealthy/, 'probes go on after the agent was killed');
  await roost.roost(['exec', 'web', 'sh', '-c', 'echo ok > /tmp/ready']);
  // A check that outlives its timeout counts as failed.
  await roost.roost(['run', '-d', '--name', 'slow', '--health-cmd', 'sleep 5', '--health-interval', '200ms', '--health-timeout', '300ms', '--health-retries', '1', 'busybox', 'sleep', '300']);
  t.is(await retry(() => health(roost, 'slow'), (s) => s.startsWith('unhealthy'), 6000), 'unhealthy 1');
  t.regex((await roost.roost(['inspect', '-f', '{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}', 'slow'])).stdout, /^-1 Health check exceeded timeout/);
  await roost.roost(['rm', '-f', 'web', 'slow']);
  events.kill();
  const actions = (await events).stdout.trim().split('\n');
  t.deepEqual(actions.slice(0, 4), ['health_status: unhealthy', 'health_status: healthy', 'health_status: unhealthy', 'health_status: healthy'], 'a follower sees each change once');
});

e2e('an image HEALTHCHECK is inherited and --no-healthcheck turns it off; failures in the start period do not count', async (t) => {
  const { roost } = t.context;
  await roost.roost(['create', '--name', 'base', 'busybox', 'true']);
  const commit = await roost.roost(['commit', '--change', 'HEALTHCHECK --interval=200ms --start-period=1s --retries=1 CMD ["test", "-e", "/ready"]', 'base', 'checked:1']);
  t.is(commit.exitCode, 0, commit.stderr);
  await roost.roost(['run', '-d', '--name', 'inherits', 'checked:1', 'sleep', '300']);
  await new Promise((r) => setTimeout(r, 700));
  t.is(await health(roost, 'inherits'), 'starting 0', 'failures within the start period do not count');
  t.is(await retry(() => health(roost, 'inherits'), (s) => s.startsWith('unhealthy'), 5000), 'unhealthy 1');
  await roost.roost(['run', '-d', '--name', 'unchecked', '--no-healthcheck', 'checked:1', 'sleep', '300']);
  t.is((await roost.roost(['inspect', '-f', '{{.State.Health}}', 'unchecked'])).stdout.trim(), '<no value>');
  const bad = await roost.roost(['commit', '--change', 'HEALTHCHECK --interval=fast CMD true', 'base', 'checked:2']);
  t.is(bad.exitCode, 125);
  t.regex(bad.stderr, /invalid duration "fast"/);
  await roost.roost(['rm', '-f', 'inherits', 'unchecked', 'base']);
});

e2e('--health-on-failure stops, kills or restarts a container that turns unhealthy; bad values are refused', async (t) => {
  const { roost } = t.context;
  const sick = (name: string, action: string) => roost.roost(['run', '-d', '--name', name, '--health-cmd', 'false', '--health-interval', '200ms', '--health-retries', '1', '--health-on-failure', action, '--stop-timeout', '1', 'busybox', 'sleep', '300']);
  await sick('sick-stop', 'stop');
  await sick('sick-kill', 'kill');
  await sick('sick-restart', 'restart');
  const started = (await roost.roost(['inspect', '-f', '{{.State.StartedAt}}', 'sick-restart'])).stdout;
  const status = (name: string) => roost.roost(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]).then((r) => r.stdout.trim());
  t.regex(await retry(() => status('sick-stop'), (s) => s.startsWith('exited'), 8000), /^exited (137|143)$/);
  t.is(await retry(() => status('sick-kill'), (s) => s.startsWith('exited'), 8000), 'exited 137');
  t.not(await retry(() => roost.roost(['inspect', '-f', '{{.State.StartedAt}}', 'sick-restart']).then((r) => r.stdout), (s) => s !== started, 8000), started, 'restarted');
  t.is(await status('sick-restart'), 'running 0');
  const bad = await roost.roost(['run', '--rm', '--health-cmd', 'true', '--health-on-failure', 'explode', 'busybox', 'true']);
  t.is(bad.exitCode, 125);
  t.regex(bad.stderr, /^roost: invalid --health-on-failure "explode": expected none, kill, restart or stop\n/);
  const unchecked = await roost.roost(['create', '--name', 'unchecked-action', '--health-on-failure', 'kill', 'busybox', 'true']);
  t.is(unchecked.exitCode, 125);
  t.regex(unchecked.stderr, /needs a health check/);
  t.is((await roost.roost(['ps', '-a', '--filter', 'name=unchecked-action', '-q'])).stdout, '', 'nothing half-created');
  await roost.roost(['rm', '-f', 'sick-stop', 'sick-kill', 'sick-restart']);
});

e2e('update changes the restart policy of a running container; bad limits are refused and change nothing', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '-d', '--name', 'upd', 'busybox', 'sh', '-c', 'sleep 0.5; exit 4']);
  const updated = await roost.roost(['update', '--restart', 'on-failure:1', 'upd']);
  t.is(updated.exitCode, 0, updated.stderr);
  t.is(updated.stdout, 'upd\n');
  t.is(await retry(() => state(roost, 'upd'), (s) => s === 'exited 1 4', 8000), 'exited 1 4', 'restarted once under the new policy');
  const limited = await roost.roost(['update', '-m', '64m', 'upd']);
  t.is(limited.exitCode, 0);
  // Applied where memory is delegated (security.test.ts checks that it is), else one warning.
  t.regex(limited.stderr, /^(|WARNING: resource limits \(Memory\) are not applied: .*\n)$/);
  t.is((await roost.roost(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}', 'upd'])).stdout, '67108864 on-failure\n');
  const cases: Array<[string[], RegExp]> = [
    [['-m', '1k'], /Minimum memory limit allowed is 6MB/],
    [['--blkio-weight', '5'], /Range of blkio weight is from 10 to 1000/],
    [['--cpuset-cpus', '0-999'], /Requested CPUs are not available/],
    [['--restart', 'sometimes'], /invalid restart policy "sometimes"/],
    [[], /you must provide one or more flags/],
  ];
  for (const [flags, pattern] of cases) {
    const result = await roost.roost(['update', ...flags, 'upd']);
    t.not(result.exitCode, 0, flags.join(' '));
    t.regex(result.stderr, pattern, flags.join(' '));
  }
  t.is((await roost.roost(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.BlkioWeight}}', 'upd'])).stdout, '67108864 <no value>\n', 'nothing changed by the refused updates');
  await roost.roost(['run', '-d', '--rm', '--name', 'auto', 'busybox', 'sleep', '30']);
  const auto = await roost.roost(['update', '--restart', 'always', 'auto']);
  t.regex(auto.stderr, /AutoRemove is enabled/);
  await roost.roost(['rm', '-f', 'upd', 'auto']);
});
