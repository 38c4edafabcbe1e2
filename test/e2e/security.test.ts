import anyTest, { type TestFn } from 'ava';
import fs from 'node:fs';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';
import { usableLimitControllers } from '../../src/rootless/cgroup-delegation.js';

const skip = e2eUnavailable();

/** The limit controllers a daemon started by this test process can use (it inherits the cgroups). */
const limitsDelegated = (): string[] => usableLimitControllers().filter((c) => ['memory', 'pids', 'cpu'].includes(c));
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: security options (skipped)', (t) => { t.log(skip); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('security');
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => { await t.context.roost?.destroy(); });

const capEff = async (roost: RoostEnv, flags: string[]) =>
  BigInt(`0x${(await roost.roost(['run', '--rm', ...flags, 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status'])).stdout.trim().split(/\s+/)[1]}`);

e2e('capabilities: Docker\'s default set, --cap-drop ALL with --cap-add, --privileged', async (t) => {
  const { roost } = t.context;
  t.is(await capEff(roost, []), 0xa80425fbn, 'Docker\'s 14 default capabilities');
  t.is(await capEff(roost, ['--cap-drop', 'ALL', '--cap-add', 'NET_BIND_SERVICE']), 1n << 10n);
  t.is(await capEff(roost, ['--cap-drop', 'chown']), 0xa80425fbn & ~1n);
  t.true((await capEff(roost, ['--privileged'])) > 0xa80425fbn, 'privileged has more than the default');
  const bad = await roost.roost(['run', '--rm', '--cap-add', 'BOGUS', 'busybox', 'true']);
  t.is(bad.exitCode, 125);
  t.regex(bad.stderr, /unknown capability: "BOGUS"/);
});

e2e('seccomp: the default profile filters (Seccomp 2, unshare refused), unconfined and --privileged lift it, a profile file applies', async (t) => {
  const { roost } = t.context;
  const done = await roost.roost(['run', '--rm', '--cap-drop', 'ALL', '--read-only', '--security-opt', 'no-new-privileges', 'busybox', 'sh', '-c',
    'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; touch /x 2>/dev/null || echo write-refused']);
  t.is(done.stdout, 'CapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nwrite-refused\n', done.stderr);
  const unshare = 'unshare -U true && echo unshare-ok';
  const filtered = await roost.roost(['run', '--rm', 'busybox', 'sh', '-c', unshare]);
  t.regex(filtered.stderr, /Operation not permitted/, 'a new user namespace is refused by the default profile');
  t.is(filtered.stdout, '');
  t.is((await roost.roost(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'sh', '-c', `${unshare}; grep Seccomp: /proc/self/status`])).stdout, 'unshare-ok\nSeccomp:\t0\n');
  t.is((await roost.roost(['run', '--rm', '--cap-add', 'SYS_ADMIN', 'busybox', 'sh', '-c', unshare])).stdout, 'unshare-ok\n', 'CAP_SYS_ADMIN opens the namespace calls');
  t.is((await roost.roost(['run', '--rm', '--privileged', 'busybox', 'grep', 'Seccomp:', '/proc/self/status'])).stdout, 'Seccomp:\t0\n');
  // exec'd processes get the container's filter too.
  await roost.roost(['run', '-d', '--name', 'filtered', 'busybox', 'sleep', '300']);
  t.is((await roost.roost(['exec', 'filtered', 'grep', 'Seccomp:', '/proc/self/status'])).stdout, 'Seccomp:\t2\n');
  await roost.roost(['rm', '-f', 'filtered']);

  const dir = fs.mkdtempSync(`${roost.base}/seccomp-`);
  fs.writeFileSync(`${dir}/no-mkdir.json`, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }));
  const custom = await roost.roost(['run', '--rm', '--security-opt', `seccomp=${dir}/no-mkdir.json`, 'busybox', 'sh', '-c', 'mkdir /made || echo refused; touch /touched && echo touched']);
  t.is(custom.stdout, 'refused\ntouched\n');
  t.regex(custom.stderr, /Permission denied/, 'the profile\'s errno (EACCES)');
  fs.writeFileSync(`${dir}/bad-action.json`, JSON.stringify({ defaultAction: 'SCMP_ACT_NOPE' }));
  fs.writeFileSync(`${dir}/not-json.json`, '{"defaultAction": ');
  const cases: Array<[string, RegExp]> = [
    [`seccomp=${dir}/bad-action.json`, /unknown defaultAction "SCMP_ACT_NOPE"/],
    [`seccomp=${dir}/not-json.json`, /is not valid JSON/],
    [`seccomp=${dir}/missing.json`, /opening seccomp profile .* failed: no such file/],
  ];
  for (const [option, pattern] of cases) {
    const before = (await roost.roost(['ps', '-aq'])).stdout;
    const result = await roost.roost(['run', '--rm', '--security-opt', option, 'busybox', 'true']);
    t.is(result.exitCode, 125, option);
    t.regex(result.stderr, pattern, option);
    t.is(result.stderr.trim().split('\n').length, 1, 'one line');
    t.is((await roost.roost(['ps', '-aq'])).stdout, before, 'no container half-created');
  }
});

e2e('--read-only (with --tmpfs), no-new-privileges, --group-add, --ulimit, --shm-size, --sysctl, --device', async (t) => {
  const { roost } = t.context;
  const ro = await roost.roost(['run', '--rm', '--read-only', '--tmpfs', '/tmp', 'busybox', 'sh', '-c', 'touch /x 2>/dev/null || echo refused; touch /tmp/x && echo tmp-ok']);
  t.is(ro.stdout, 'refused\ntmp-ok\n', ro.stderr);
  t.is((await roost.roost(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'sh', '-c', 'grep NoNewPrivs /proc/self/status'])).stdout, 'NoNewPrivs:\t1\n');
  t.regex((await roost.roost(['run', '--rm', '--group-add', 'www-data', '--group-add', '1234', 'busybox', 'id', '-G'])).stdout, /\b33\b.*\b1234\b/);
  t.is((await roost.roost(['run', '--rm', '--ulimit', 'nofile=100:200', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn'])).stdout, '100\n200\n');
  t.regex((await roost.roost(['run', '--rm', '--shm-size', '128m', 'busybox', 'sh', '-c', 'df -k /dev/shm | tail -1'])).stdout, /^shm\s+131072\s/);
  t.is((await roost.roost(['run', '--rm', '--sysctl', 'net.ipv4.ip_unprivileged_port_start=80', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'])).stdout, '80\n');
  if (fs.existsSync('/dev/fuse')) {
    const device = await roost.roost(['run', '--rm', '--device', '/dev/fuse', 'busybox', 'ls', '/dev/fuse']);
    t.is(device.stdout, '/dev/fuse\n', device.stderr);
  }
  const cases: Array<[string[], RegExp]> = [
    [['--sysctl', 'kernel.hostname=x'], /not namespaced/],
    [['--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1'], /shares the host network/],
    [['--ulimit', 'nofile=10:5'], /soft limit must be less than or equal to hard limit/],
    [['--ulimit', 'bogus=1'], /invalid ulimit type: bogus/],
    [['--security-opt', 'frobnicate'], /invalid --security-opt/],
    [['--device', '/dev/nope'], /no such file or directory/],
  ];
  for (const [flags, pattern] of cases) {
    const result = await roost.roost(['run', '--rm', ...flags, 'busybox', 'true']);
    t.is(result.exitCode, 125, `${flags.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, pattern, flags.join(' '));
  }
});

const limitsHere = limitsDelegated();

e2e('resource limits: a memory hog is OOM-killed, a fork bomb stops at --pids-limit, --cpus throttles, update changes a running container', async (t) => {
  const { roost } = t.context;
  if (limitsHere.length < 3) {
    t.falsy(process.env.ROOST_REQUIRE_E2E, `the suite must run with memory, pids and cpu delegated (scripts/user-session.sh); here: ${limitsHere.join(', ') || 'none'}`);
    const result = await roost.roost(['run', '--rm', '-m', '64m', '--cpus', '0.5', '--pids-limit', '100', 'busybox', 'echo', 'ran']);
    t.is(result.stdout, 'ran\n');
    t.regex(result.stderr, /^WARNING: resource limits \(.*\) are not applied: .*; to have them, /);
    t.is(result.stderr.split('\n').filter(Boolean).length, 1, 'one warning');
    return;
  }
  const since = new Date(Date.now() - 1000).toISOString();
  const hog = await roost.roost(['run', '--name', 'hog', '-m', '32m', '--memory-swap', '32m', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
  t.is(hog.exitCode, 137, hog.stderr);
  t.is((await roost.roost(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'hog'])).stdout, 'true 137\n');
  const oom = await roost.roost(['events', '--since', since, '--until', new Date(Date.now() + 500).toISOString(), '--filter', 'event=oom', '--format', '{{.Actor.Attributes.name}}']);
  t.is(oom.stdout, 'hog\n');
  // Only builtins count the processes: a fork would fail at the limit too.
  const count = 'n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n';
  const bomb = await roost.roost(['run', '--rm', '--pids-limit', '10', 'busybox', 'sh', '-c', `for i in $(seq 40); do sleep 3 & done; ${count}`]);
  t.regex(bomb.stderr, /can't fork/);
  t.true(Number(bomb.stdout) <= 10, `at most 10 processes, saw ${bomb.stdout}`);
  await roost.roost(['run', '-d', '--name', 'grow', '--pids-limit', '5', 'busybox', 'sleep', '300']);
  const spawn = ['exec', 'grow', 'sh', '-c', `for i in $(seq 12); do sleep 2 & done 2>/dev/null; ${count}`];
  t.true(Number((await roost.roost(spawn)).stdout) <= 5, 'an exec is held to the container\'s limit');
  t.is((await roost.roost(['update', '--pids-limit', '50', 'grow'])).stderr, '', 'no warning where limits apply');
  t.true(Number((await roost.roost(spawn)).stdout) > 12, 'the raised limit applies at once');
  // CPU time (own and waited-for children, in ticks) of a 2 s busy loop held to a quarter of a CPU.
  const busy = await roost.roost(['run', '--rm', '--cpus', '0.25', 'busybox', 'sh', '-c',
    'end=$(( $(date +%s) + 2 )); while [ $(date +%s) -lt $end ]; do :; done; read -r s < /proc/self/stat; set -- $s; echo $(( ${14} + ${15} + ${16} + ${17} ))']);
  t.true(Number(busy.stdout) > 0 && Number(busy.stdout) < 100, `under 1 s of CPU in 2 s at --cpus 0.25, used ${busy.stdout.trim()} ticks`);
  await roost.roost(['rm', '-f', 'hog', 'grow']);
});

e2e('--network, --pid and --ipc container:NAME join another container\'s namespaces; --pid host and --uts host the engine\'s', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '-d', '--name', 'base', '--ipc', 'shareable', 'busybox', 'sh', '-c', 'echo in-shm > /dev/shm/x; exec httpd -f -p 8080 -h /var/www']);
  await roost.roost(['run', '-d', '--name', 'private', 'busybox', 'sleep', '300']);
  await new Promise((r) => setTimeout(r, 400));
  t.is((await roost.roost(['run', '--rm', '--network', 'container:base', 'busybox', 'wget', '-qO-', 'http://127.0.0.1:8080/'])).stdout, '<h1>hello from roost</h1>\n');
  t.regex((await roost.roost(['run', '--rm', '--pid', 'container:base', 'busybox', 'ps', '-o', 'pid,args'])).stdout, /\n\s*1 httpd -f -p 8080/);
  t.is((await roost.roost(['run', '--rm', '--ipc', 'container:base', 'busybox', 'cat', '/dev/shm/x'])).stdout, 'in-shm\n');
  const notShareable = await roost.roost(['run', '--rm', '--ipc', 'container:private', 'busybox', 'true']);
  t.is(notShareable.exitCode, 125);
  t.regex(notShareable.stderr, /not started with --ipc shareable/);
  const hostPids = Number((await roost.roost(['run', '--rm', '--pid', 'host', 'busybox', 'sh', '-c', 'ps -o pid | wc -l'])).stdout.trim());
  t.true(hostPids > 5, `--pid host sees the engine's processes (${hostPids})`);
  t.is((await roost.roost(['run', '--rm', '--uts', 'host', 'busybox', 'hostname'])).stdout, `${(await import('node:os')).hostname()}\n`);
  const bad = await roost.roost(['run', '--rm', '--pid', 'sideways', 'busybox', 'true']);
  t.is(bad.exitCode, 125);
  t.regex(bad.stderr, /invalid --pid mode "sideways"/);
  await roost.roost(['rm', '-f', 'base', 'private']);
});
