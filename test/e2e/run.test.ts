import anyTest, { type TestFn } from 'ava';
import { e2eUnavailable, freePort, retry, RoostEnv } from '../helpers/roost-env.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: run (skipped)', (t) => { t.log(skip); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('run');
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => {
  await t.context.roost?.destroy();
});

e2e('run --rm prints the command output and exits 0', async (t) => {
  const result = await t.context.roost.roost(['run', '--rm', 'busybox', 'sh', '-c', 'echo $((6*7))']);
  t.is(result.stdout, '42\n', result.stderr);
  t.is(result.exitCode, 0);
});

e2e('run passes the container exit status through', async (t) => {
  const result = await t.context.roost.roost(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']);
  t.is(result.exitCode, 3);
});

e2e('a missing command exits 127 and a non-executable one 126, with one line of error', async (t) => {
  const missing = await t.context.roost.roost(['run', '--rm', 'busybox', 'no-such-command']);
  t.is(missing.exitCode, 127);
  t.regex(missing.stderr, /no-such-command/);
  t.is(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  const notExecutable = await t.context.roost.roost(['run', '--rm', 'busybox', '/etc/passwd']);
  t.is(notExecutable.exitCode, 126, notExecutable.stderr);
  const ps = await t.context.roost.roost(['ps', '-aq']);
  t.is(ps.stdout, '', 'failed --rm containers are removed');
  const kept = await t.context.roost.roost(['run', '--name', 'never-ran', 'busybox', 'no-such-command']);
  t.is(kept.exitCode, 127);
  const state = await t.context.roost.roost(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}', 'never-ran']);
  t.regex(state.stdout, /^created 127 .*no-such-command/);
  await t.context.roost.roost(['rm', 'never-ran']);
});

e2e('stdout and stderr stay apart, and stdin reaches the container with -i', async (t) => {
  const result = await t.context.roost.roost(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
  t.is(result.stdout, 'out\n');
  t.is(result.stderr, 'err\n');
  const piped = await t.context.roost.roost(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], { input: 'from stdin\n' });
  t.is(piped.stdout, 'from stdin\ndone\n', piped.stderr);
});

e2e('image defaults and -e, -w, -u, --entrypoint, -h apply as Docker applies them', async (t) => {
  const result = await t.context.roost.roost(['run', '--rm', '-e', 'GREETING=hi', '-w', '/tmp', '-u', '33:33', '-h', 'box1', 'busybox', 'sh', '-c', 'echo $GREETING $(pwd) $(id -u):$(id -g) $(hostname) $PATH']);
  t.is(result.stdout, 'hi /tmp 33:33 box1 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n', result.stderr);
  const entry = await t.context.roost.roost(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'via', 'entrypoint']);
  t.is(entry.stdout, 'via entrypoint\n');
  const named = await t.context.roost.roost(['run', '--rm', '-u', 'www-data', 'busybox', 'id', '-un']);
  t.is(named.stdout, 'www-data\n', named.stderr);
});

e2e('--env-file reads KEY=VALUE lines and a bad one is one clear error with exit 125', async (t) => {
  const fs = await import('node:fs');
  const good = `${t.context.roost.base}/good.env`;
  fs.writeFileSync(good, '# comment\nA=1\nB=two words\n');
  const result = await t.context.roost.roost(['run', '--rm', '--env-file', good, 'busybox', 'sh', '-c', 'echo "$A|$B"']);
  t.is(result.stdout, '1|two words\n', result.stderr);
  const bad = `${t.context.roost.base}/bad.env`;
  fs.writeFileSync(bad, 'GOOD=1\nBAD KEY=2\n');
  const failed = await t.context.roost.roost(['run', '--rm', '--env-file', bad, 'busybox', 'true']);
  t.is(failed.exitCode, 125);
  t.regex(failed.stderr, /^roost: invalid env file .*line 2/);
  const missing = await t.context.roost.roost(['run', '--rm', '--env-file', '/nonexistent.env', 'busybox', 'true']);
  t.is(missing.exitCode, 125);
});

e2e('a detached httpd with -p 127.0.0.1:PORT:80 answers on the host; ps, logs, exec, stop, rm work on it', async (t) => {
  const { roost } = t.context;
  const port = await freePort();
  const run = await roost.roost(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sh', '-c', 'echo started; exec httpd -f -v -p 80 -h /var/www']);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, /^[0-9a-f]{64}\n$/);
  const body = await retry(async () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => ''), (b) => b.includes('hello'));
  t.is(body, '<h1>hello from roost</h1>\n');
  const ps = await roost.roost(['ps', '--format', '{{.Names}} {{.Status}} {{.Ports}}']);
  t.regex(ps.stdout, new RegExp(`^web Up .* 127\\.0\\.0\\.1:${port}->80/tcp\\n$`));
  t.is((await roost.roost(['port', 'web'])).stdout, `80/tcp -> 127.0.0.1:${port}\n`);
  t.is((await roost.roost(['port', 'web', '80'])).stdout, `127.0.0.1:${port}\n`);
  const unpublished = await roost.roost(['port', 'web', '81/tcp']);
  t.is(unpublished.exitCode, 125);
  t.is(unpublished.stderr, "roost: no public port '81/tcp' published for web\n");
  // An IPv6 host address in brackets, as Docker prints it.
  const port6 = await freePort();
  t.is((await roost.roost(['run', '-d', '--name', 'web6', '-p', `[::1]:${port6}:80`, 'busybox', 'sleep', '30'])).exitCode, 0);
  t.is((await roost.roost(['ps', '--filter', 'name=web6', '--format', '{{.Ports}}'])).stdout, `[::1]:${port6}->80/tcp\n`);
  t.is((await roost.roost(['port', 'web6'])).stdout, `80/tcp -> [::1]:${port6}\n`);
  await roost.roost(['rm', '-f', 'web6']);
  const logs = await retry(() => roost.roost(['logs', 'web']), (r) => r.stdout.includes('started'));
  t.regex(logs.stdout, /started/);
  const exec = await roost.roost(['exec', 'web', 'sh', '-c', 'echo in $(hostname); exit 5']);
  t.is(exec.exitCode, 5);
  t.regex(exec.stdout, /^in [0-9a-f]{12}\n$/);
  const inspect = await roost.roost(['inspect', '--format', '{{.State.Status}} {{.State.Running}}', 'web']);
  t.is(inspect.stdout, 'running true\n');
  const rmRunning = await roost.roost(['rm', 'web']);
  t.is(rmRunning.exitCode, 125, 'a running container is not removed without -f');
  t.regex(rmRunning.stderr, /container is running/);
  const stop = await roost.roost(['stop', '-t', '1', 'web']);
  t.is(stop.exitCode, 0, stop.stderr);
  const stopped = await roost.roost(['inspect', '--format', '{{.State.Status}}', 'web']);
  t.is(stopped.stdout, 'exited\n');
  t.is((await roost.roost(['rm', 'web'])).exitCode, 0);
  t.is((await roost.roost(['ps', '-aq'])).stdout, '');
});

e2e('-p PORT:80 (every address) answers on the IPv4 and the IPv6 loopback and is listed for both, as Docker binds both', async (t) => {
  const { roost } = t.context;
  const port = await freePort();
  t.is((await roost.roost(['run', '-d', '--name', 'dual', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/var/www'])).exitCode, 0);
  const get = (host: string) => retry(() => fetch(`http://${host}:${port}/`).then((r) => r.text()).catch(() => ''), (b) => b.length > 0);
  t.is(await get('127.0.0.1'), '<h1>hello from roost</h1>\n');
  const fs = await import('node:fs');
  // A host without IPv6 has no ::1: the port is then IPv4 only.
  if (fs.existsSync('/proc/net/if_inet6') && fs.readFileSync('/proc/net/if_inet6', 'utf8').includes('00000000000000000000000000000001')) {
    t.is(await get('[::1]'), '<h1>hello from roost</h1>\n');
    // Listed once per family, as Docker lists such a port.
    t.is((await roost.roost(['port', 'dual'])).stdout, `80/tcp -> 0.0.0.0:${port}\n80/tcp -> [::]:${port}\n`);
    t.is((await roost.roost(['ps', '--filter', 'name=dual', '--format', '{{.Ports}}'])).stdout, `0.0.0.0:${port}->80/tcp, [::]:${port}->80/tcp\n`);
    t.deepEqual(JSON.parse((await roost.roost(['inspect', '-f', '{{json .NetworkSettings.Ports}}', 'dual'])).stdout), { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(port) }, { HostIp: '::', HostPort: String(port) }] });
  }
  await roost.roost(['rm', '-f', 'dual']);
});

e2e('logs -f follows a running container until it exits, and --tail limits the history', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '-d', '--name', 'counter', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done']);
  const follow = await roost.roost(['logs', '-f', 'counter'], { timeout: 20_000 });
  t.is(follow.stdout, 'line1\nline2\nline3\nline4\nline5\n');
  const tail = await roost.roost(['logs', '--tail', '2', 'counter']);
  t.is(tail.stdout, 'line4\nline5\n');
  const wait = await roost.roost(['wait', 'counter']);
  t.is(wait.stdout, '0\n');
  await roost.roost(['rm', 'counter']);
});

e2e('create, start, kill, restart, rename and container prune', async (t) => {
  const { roost } = t.context;
  const created = await roost.roost(['create', '--name', 'sleeper', 'busybox', 'sleep', '300']);
  t.is(created.exitCode, 0, created.stderr);
  t.is((await roost.roost(['inspect', '-f', '{{.State.Status}}', 'sleeper'])).stdout, 'created\n');
  t.is((await roost.roost(['start', 'sleeper'])).exitCode, 0);
  t.is((await roost.roost(['rename', 'sleeper', 'dozer'])).exitCode, 0);
  t.is((await roost.roost(['kill', 'dozer'])).exitCode, 0);
  const exited = await retry(() => roost.roost(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'dozer']), (r) => r.stdout.startsWith('exited'));
  t.is(exited.stdout, 'exited 137\n');
  t.is((await roost.roost(['restart', '-t', '1', 'dozer'])).exitCode, 0);
  t.is((await roost.roost(['inspect', '-f', '{{.State.Running}}', 'dozer'])).stdout, 'true\n');
  await roost.roost(['kill', 'dozer']);
  await roost.roost(['wait', 'dozer']);
  const prune = await roost.roost(['container', 'prune', '-f']);
  t.regex(prune.stdout, /Deleted Containers:/);
  t.is((await roost.roost(['ps', '-aq'])).stdout, '');
});

e2e('a name in use, an unknown image, a bad port spec and an unknown flag each give one line and exit 125', async (t) => {
  const { roost } = t.context;
  await roost.roost(['create', '--name', 'taken', 'busybox', 'true']);
  const cases: Array<[string[], RegExp]> = [
    [['create', '--name', 'taken', 'busybox', 'true'], /name "\/taken" is already in use/],
    // --pull never: a missing image is not looked up on Docker Hub (tests make no DNS queries that leave the machine).
    [['run', '--rm', '--pull', 'never', 'no-such-image'], /No such image: no-such-image/],
    [['run', '--rm', '-p', '99999:80', 'busybox', 'true'], /invalid host port/],
    [['run', '--rm', '-p', 'abc', 'busybox', 'true'], /invalid container port/],
    [['run', '--bogus', 'busybox'], /unknown flag: --bogus/],
    [['frobnicate'], /not a roost command/],
    [['stop', 'no-such-container'], /No such container: no-such-container/],
  ];
  for (const [args, pattern] of cases) {
    const result = await roost.roost(args);
    t.is(result.exitCode, 125, `${args.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, pattern, args.join(' '));
    t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
    t.is(result.stderr.trim().split('\n').filter((l) => !l.startsWith('hint:')).length, 1, `${args.join(' ')}: one line`);
  }
  await roost.roost(['rm', 'taken']);
});

e2e('--network none has only loopback, the default network has an uplink interface, host shares the host network', async (t) => {
  const { roost } = t.context;
  const none = await roost.roost(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net']);
  t.is(none.stdout, 'lo\n', none.stderr);
  const dflt = await roost.roost(['run', '--rm', 'busybox', 'sh', '-c', 'ls /sys/class/net | grep -v "^lo$" | wc -l']);
  t.is(dflt.stdout.trim(), '1', dflt.stderr);
  const host = await roost.roost(['run', '--rm', '--network', 'host', 'busybox', 'hostname']);
  t.is(host.exitCode, 0, host.stderr);
});

e2e('--init runs the command under an init as pid 1, and --stop-signal is what stop sends', async (t) => {
  const { roost } = t.context;
  const init = await roost.roost(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "']);
  t.regex(init.stdout, /^\/sbin\/docker-init -- sh -c /, init.stderr);
  await roost.roost(['run', '-d', '--name', 'trapper', '--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "echo got-usr1; exit 9" USR1; while true; do sleep 0.1; done']);
  await new Promise((r) => setTimeout(r, 300));
  t.is((await roost.roost(['stop', '-t', '5', 'trapper'])).exitCode, 0);
  const state = await roost.roost(['inspect', '-f', '{{.State.ExitCode}}', 'trapper']);
  t.is(state.stdout, '9\n');
  t.is((await roost.roost(['logs', 'trapper'])).stdout, 'got-usr1\n');
  await roost.roost(['rm', 'trapper']);
});

e2e('signals sent to an attached roost run reach the container', async (t) => {
  const { roost } = t.context;
  const child = roost.spawnRoost(['run', '--rm', 'busybox', 'sh', '-c', 'trap "echo got-term; exit 4" TERM; echo ready; while true; do sleep 0.1; done']);
  await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); }));
  child.kill('SIGTERM');
  const result = await child;
  t.regex(String(result.stdout), /got-term/);
  t.is(result.exitCode, 4);
});

e2e('events reports the lifecycle with Docker\'s action names', async (t) => {
  const { roost } = t.context;
  const since = String(Math.floor(Date.now() / 1000) - 1);
  await roost.roost(['run', '--rm', '--name', 'evented', 'busybox', 'true']);
  const until = (Date.now() / 1000 + 0.5).toFixed(3);
  const events = await roost.roost(['events', '--since', since, '--until', until, '--filter', 'container=evented', '--format', '{{.Type}} {{.Action}}']);
  t.is(events.stdout, 'container create\ncontainer start\ncontainer die\ncontainer destroy\n', events.stderr);
});

e2e('ps -l, -n, --filter and --format; logs -t, --since, --until; exec -d, -e, -w, -u', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '-d', '--name', 'first', '-l', 'tier=db', 'busybox', 'sh', '-c', 'echo early; sleep 300']);
  await new Promise((r) => setTimeout(r, 1100));
  const between = String(Date.now() / 1000);
  await roost.roost(['run', '-d', '--name', 'second', '-l', 'tier=web', 'busybox', 'sh', '-c', 'echo late; sleep 300']);
  await roost.roost(['run', '--name', 'third', 'busybox', 'sh', '-c', 'exit 2']);
  t.is((await roost.roost(['ps', '-l', '--format', '{{.Names}}'])).stdout, 'third\n');
  t.is((await roost.roost(['ps', '-n', '2', '--format', '{{.Names}}'])).stdout, 'third\nsecond\n');
  t.is((await roost.roost(['ps', '--filter', 'label=tier=db', '--format', '{{.Names}}'])).stdout, 'first\n');
  t.is((await roost.roost(['ps', '-a', '--filter', 'exited=2', '--format', '{{.Names}} {{.State}}'])).stdout, 'third exited\n');
  t.is((await roost.roost(['ps', '-a', '--filter', 'status=running', '-q'])).stdout.trim().split('\n').length, 2);
  t.regex((await roost.roost(['ps', '--format', 'json'])).stdout.split('\n')[0]!, /^\{"ID":"[0-9a-f]{12}".*"Names":"second"/);
  const stamped = await roost.roost(['logs', '-t', 'first']);
  t.regex(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z early\n$/);
  t.is((await roost.roost(['logs', '--since', between, 'first'])).stdout, '');
  t.is((await roost.roost(['logs', '--until', between, 'second'])).stdout, '');
  t.is((await roost.roost(['logs', '--since', '10m', 'second'])).stdout, 'late\n');
  t.is((await roost.roost(['exec', '-e', 'WHO=exec', '-w', '/tmp', '-u', '33', 'first', 'sh', '-c', 'echo $WHO $(pwd) $(id -u)'])).stdout, 'exec /tmp 33\n');
  t.is((await roost.roost(['exec', '-d', 'first', 'sh', '-c', 'echo detached > /tmp/marker'])).exitCode, 0);
  const marker = await retry(() => roost.roost(['exec', 'first', 'cat', '/tmp/marker']), (r) => r.stdout === 'detached\n');
  t.is(marker.stdout, 'detached\n');
  await roost.roost(['rm', '-f', 'first', 'second', 'third']);
});

e2e('rmi -f of an image in use only untags it; image prune removes what no container uses', async (t) => {
  const { roost } = t.context;
  await roost.roost(['tag', 'busybox', 'spare:1']);
  await roost.roost(['create', '--name', 'holder', 'spare:1', 'true']);
  const forced = await roost.roost(['rmi', '-f', 'spare:1']);
  t.is(forced.stdout, 'Untagged: spare:1\n', forced.stderr);
  t.is((await roost.roost(['start', '-a', 'holder'])).exitCode, 0, 'the container still has its image');
  await roost.roost(['rm', 'holder']);
  await roost.roost(['tag', 'busybox', 'spare:2']);
  await roost.roost(['rmi', 'busybox']);
  t.is((await roost.roost(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout, 'spare:2\n');
  const dangling = await roost.roost(['image', 'prune', '-f']);
  t.is(dangling.stdout, 'Deleted Images:\n', 'a tagged image is not dangling');
  const all = await roost.roost(['image', 'prune', '-a', '-f']);
  t.regex(all.stdout, /untagged: spare:2/);
  t.is((await roost.roost(['images', '-q'])).stdout, '');
  await roost.loadBusybox(t as never);
});
