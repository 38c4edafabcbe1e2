import anyTest, { type TestFn } from 'ava';
import fs from 'node:fs';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';
import { findDelegation } from '../../src/rootless/cgroup-delegation.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: top, stats, pause (skipped)', (t) => { t.log(skip); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('monitor');
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => { await t.context.roost?.destroy(); });

e2e('top lists only the container\'s processes, with ps options', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '-d', '--name', 'procs', 'busybox', 'sh', '-c', 'sleep 301 & sleep 302']);
  await new Promise((r) => setTimeout(r, 400));
  const top = await roost.roost(['top', 'procs', '-o', 'pid,args']);
  const lines = top.stdout.trim().split('\n');
  t.regex(lines[0]!, /^PID\s+COMMAND$/);
  // (busybox sh execs its last command, so the shell itself is gone)
  t.deepEqual(lines.slice(1).map((l) => l.trim().split(/\s+/).slice(1).join(' ')).sort(), ['sleep 301', 'sleep 302']);
  const docker = await roost.docker(['top', 'procs']);
  t.regex(docker.stdout, /sleep 302/);
  await roost.roost(['rm', '-f', 'procs']);
});

e2e('stats reports CPU %, memory, pids and network from /proc; docker stats reads the same stream', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '-d', '--name', 'spin', 'busybox', 'sh', '-c', 'while true; do :; done']);
  await roost.roost(['run', '-d', '--name', 'rest', 'busybox', 'sleep', '300']);
  await new Promise((r) => setTimeout(r, 500));
  const stats = await roost.roost(['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.PIDs}} {{.MemUsage}}']);
  const byName = Object.fromEntries(stats.stdout.trim().split('\n').map((l) => [l.split(' ')[0], l]));
  const cpu = (name: string) => Number(/ ([\d.]+)% /.exec(byName[name]!)![1]);
  t.true(cpu('spin') > 50, `a busy loop uses a CPU: ${byName.spin}`);
  t.true(cpu('rest') < 5, `sleep does not: ${byName.rest}`);
  t.regex(byName.rest!, / 1 [\d.]+[kM]?B \/ /);
  const docker = await roost.docker(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'rest']);
  t.is(docker.stdout, 'rest 1\n', docker.stderr);
  await roost.roost(['rm', '-f', 'spin', 'rest']);
});

// The daemon is started by this test process, so it is in this process's cgroup.
const delegation = findDelegation();

e2e('pause freezes every process of the container (exec refused meanwhile), unpause lets them go on; events tell', async (t) => {
  const { roost } = t.context;
  if (!('dir' in delegation)) {
    t.falsy(process.env.ROOST_REQUIRE_E2E, `the suite must run in a delegated cgroup (scripts/user-session.sh): ${delegation.reason}`);
    const pause = await roost.roost(['run', '-d', '--name', 'still', 'busybox', 'sleep', '300']).then(() => roost.roost(['pause', 'still']));
    t.is(pause.exitCode, 125);
    t.regex(pause.stderr, /^roost: pause needs a cgroup of the container's own, and .* not delegated/);
    t.regex(pause.stderr, /hint: .*systemd/);
    await roost.roost(['rm', '-f', 'still']);
    return;
  }
  const events = roost.spawnRoost(['events', '--filter', 'event=pause', '--filter', 'event=unpause', '--format', '{{.Action}} {{.Actor.Attributes.name}}', '--until', new Date(Date.now() + 8000).toISOString()]);
  await roost.roost(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'while true; do date +%s%N > /tmp/t.new; mv /tmp/t.new /tmp/t; usleep 50000; done']);
  // A process started by exec must freeze too.
  await roost.roost(['exec', '-d', 'ticker', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /tmp/n; usleep 50000; done']);
  await new Promise((r) => setTimeout(r, 300));
  const id = (await roost.roost(['inspect', '-f', '{{.Id}}', 'ticker'])).stdout.trim();
  t.true(fs.existsSync(`${delegation.dir}/roost-${id.slice(0, 12)}`), 'the container has a cgroup of its own');
  t.is((await roost.roost(['pause', 'ticker'])).exitCode, 0);
  t.is((await roost.roost(['inspect', '-f', '{{.State.Status}} {{.State.Paused}} {{.State.Running}}', 'ticker'])).stdout, 'paused true true\n');
  t.regex((await roost.roost(['ps', '--format', '{{.Status}}'])).stdout, /^Up .* \(Paused\)\n$/);
  const read = async (file: string) => (await roost.roost(['cp', `ticker:${file}`, '-'])).stdout;
  const [t1, n1] = [await read('/tmp/t'), await read('/tmp/n')];
  await new Promise((r) => setTimeout(r, 400));
  t.is(await read('/tmp/t'), t1, 'the init\'s loop does not move while paused');
  t.is(await read('/tmp/n'), n1, 'nor does the exec\'d one');
  const exec = await roost.roost(['exec', 'ticker', 'true']);
  t.is(exec.exitCode, 125);
  t.regex(exec.stderr, /is paused, unpause the container before exec/);
  t.regex((await roost.roost(['pause', 'ticker'])).stderr, /is already paused/);
  t.is((await roost.roost(['unpause', 'ticker'])).exitCode, 0);
  await new Promise((r) => setTimeout(r, 300));
  t.not(await read('/tmp/n'), n1, 'running again');
  // A paused container still stops.
  await roost.roost(['pause', 'ticker']);
  t.is((await roost.roost(['stop', '-t', '1', 'ticker'])).exitCode, 0);
  t.regex((await roost.roost(['ps', '-a', '--format', '{{.Status}}'])).stdout, /^Exited/);
  t.regex((await roost.roost(['unpause', 'ticker'])).stderr, /is not paused/);
  t.is((await roost.roost(['pause', 'no-such'])).stderr.split('\n')[0], 'roost: No such container: no-such');
  await roost.roost(['rm', '-f', 'ticker']);
  t.false(fs.existsSync(`${delegation.dir}/roost-${id.slice(0, 12)}`), 'the container\'s cgroup is removed with it');
  events.kill();
  t.deepEqual((await events).stdout.trim().split('\n'), ['pause ticker', 'unpause ticker', 'pause ticker', 'unpause ticker']);
});

e2e('system df counts images, containers and volumes with their sizes; system prune removes what is unused', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '--name', 'writer', '-v', '/anon', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/blob bs=1M count=3 2>/dev/null']);
  const df = await roost.roost(['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Size}}']);
  const lines = df.stdout.trim().split('\n');
  // The busybox image is the host's busybox-static (about 2.1 MB): df counts what `images` shows for it.
  const imageSize = (await roost.roost(['images', '--format', '{{.Size}}'])).stdout.trim();
  t.regex(imageSize, /^2\.\d\dMB$/);
  t.is(lines[0], `Images 1 ${imageSize}`);
  t.regex(lines[1]!, /^Containers 1 3\.1\dMB$/);
  t.regex(lines[2]!, /^Local Volumes 1 /);
  const prune = await roost.roost(['system', 'prune', '-f', '--volumes']);
  t.regex(prune.stdout, /Deleted Containers:\n[0-9a-f]{64}\n/);
  t.regex(prune.stdout, /Deleted Volumes:\n[0-9a-f]{64}\n/);
  t.is((await roost.roost(['ps', '-aq'])).stdout, '');
  t.is((await roost.roost(['images', '-q'])).stdout.trim().length, 12, 'a tagged image is not dangling: kept');
});
