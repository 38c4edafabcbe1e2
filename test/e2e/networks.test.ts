import anyTest, { type TestFn } from 'ava';
import { e2eUnavailable, retry, RoostEnv } from '../helpers/roost-env.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: user-defined networks (skipped)', (t) => { t.log(skip); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('networks');
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => { await t.context.roost?.destroy(); });

const server = (page: string) => ['sh', '-c', `mkdir -p /srv && echo ${page} > /srv/index.html && exec httpd -f -p 80 -h /srv`];

e2e('containers on a network find each other by name and alias; a container on another network cannot reach them', async (t) => {
  const { roost } = t.context;
  t.regex((await roost.roost(['network', 'create', 'app'])).stdout, /^[a-f0-9]{64}\n$/);
  // The other network is internal: its failed attempts end inside the machine (no uplink, no DNS query out).
  await roost.roost(['network', 'create', '--internal', 'other']);
  const db = await roost.roost(['run', '-d', '--network', 'app', '--name', 'db', '--network-alias', 'database', 'busybox', ...server('from-db')]);
  t.is(db.exitCode, 0, db.stderr);
  const ip = (await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.app.IPAddress}}', 'db'])).stdout.trim();
  t.regex(ip, /^10\.89\.\d+\.\d+$/);
  const get = (network: string, url: string) => roost.roost(['run', '--rm', '--network', network, 'busybox', 'timeout', '3', 'wget', '-qO-', url]);
  t.is((await retry(() => get('app', 'http://db/'), (r) => r.exitCode === 0)).stdout, 'from-db\n');
  t.is((await get('app', 'http://database/')).stdout, 'from-db\n', 'by its alias');
  t.is((await get('app', `http://${ip}/`)).stdout, 'from-db\n', 'by its address');
  const blocked = await get('other', `http://${ip}/`);
  t.not(blocked.exitCode, 0, 'another network');
  t.is(blocked.stdout, '');
  t.not((await get('other', 'http://db/')).exitCode, 0, 'the name is not known on another network');
  // The network shows its members; a network in use is not removed.
  const inspect = JSON.parse((await roost.roost(['network', 'inspect', 'app'])).stdout)[0];
  t.is(Object.values<{ Name: string; IPv4Address: string }>(inspect.Containers)[0]?.Name, 'db');
  t.is(Object.values<{ IPv4Address: string }>(inspect.Containers)[0]?.IPv4Address, `${ip}/24`);
  const inUse = await roost.roost(['network', 'rm', 'app']);
  t.is(inUse.exitCode, 125);
  t.regex(inUse.stderr, /has active endpoints \(db\)/);
  await roost.roost(['rm', '-f', 'db']);
  t.is((await roost.roost(['network', 'rm', 'app', 'other'])).stdout, 'app\nother\n');
});

e2e('an --internal network joins its containers with no way out; a published port of a network container answers on the host', async (t) => {
  const { roost } = t.context;
  await roost.roost(['network', 'create', '--internal', '--subnet', '10.77.5.0/24', 'backend']);
  await roost.roost(['run', '-d', '--network', 'backend', '--name', 'api', '--ip', '10.77.5.50', 'busybox', ...server('from-api')]);
  const inside = await roost.roost(['run', '--rm', '--network', 'backend', 'busybox', 'sh', '-c', 'ip route; timeout 3 wget -qO- http://api/']);
  t.regex(inside.stdout, /^10\.77\.5\.0\/24 dev eth0/m);
  t.notRegex(inside.stdout, /default/, 'no default route');
  t.regex(inside.stdout, /from-api\n$/);
  t.is((await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.backend.IPAddress}}', 'api'])).stdout, '10.77.5.50\n');
  const refused = await roost.roost(['run', '--rm', '--network', 'backend', '-p', '127.0.0.1::80', 'busybox', 'true']);
  t.is(refused.exitCode, 125);
  await roost.roost(['rm', '-f', 'api']);
  await roost.roost(['network', 'rm', 'backend']);

  await roost.roost(['network', 'create', 'front']);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  await roost.roost(['run', '-d', '--network', 'front', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', ...server('published')]);
  const res = await retry(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => ''), (body) => body === 'published\n');
  t.is(res, 'published\n');
  await roost.roost(['rm', '-f', 'web']);
  await roost.roost(['network', 'rm', 'front']);
});

e2e('bad network requests are one line and change nothing; the docker CLI manages networks through the socket', async (t) => {
  const { roost } = t.context;
  await roost.roost(['network', 'create', '--subnet', '10.66.0.0/16', 'taken']);
  const cases: Array<[string[], RegExp]> = [
    [['network', 'create', 'taken'], /network with name taken already exists/],
    [['network', 'create', '--subnet', '10.66.3.0/24', 'overlapping'], /overlaps with network taken/],
    [['network', 'create', '--subnet', '10.1.2.3/24', 'hostbits'], /host bits are set/],
    [['network', 'create', '--subnet', 'nonsense', 'bad'], /invalid subnet "nonsense"/],
    [['network', 'create', '--subnet', '10.2.0.0/24', '--gateway', '10.3.0.1', 'gw'], /gateway 10\.3\.0\.1 is not in subnet/],
    [['network', 'create', 'bridge'], /already exists/],
    [['network', 'rm', 'none'], /pre-defined network and cannot be removed/],
    [['network', 'rm', 'nosuch'], /network nosuch not found/],
    [['run', '--rm', '--network', 'nosuch', 'busybox', 'true'], /network nosuch not found/],
  ];
  const before = (await roost.roost(['network', 'ls', '-q'])).stdout;
  for (const [args, pattern] of cases) {
    const result = await roost.roost(args);
    t.not(result.exitCode, 0, args.join(' '));
    t.regex(result.stderr, pattern, args.join(' '));
    t.is(result.stderr.trim().split('\n').length, 1, 'one line');
  }
  t.is((await roost.roost(['network', 'ls', '-q'])).stdout, before, 'no network was half-made');
  await roost.roost(['network', 'rm', 'taken']);

  t.is((await roost.docker(['network', 'create', 'dnet'])).exitCode, 0);
  t.regex((await roost.docker(['network', 'ls', '--format', '{{.Name}}'])).stdout, /^dnet$/m);
  await roost.docker(['run', '-d', '--network', 'dnet', '--name', 'peer', 'busybox', ...server('via-docker')]);
  const viaDocker = await retry(() => roost.docker(['run', '--rm', '--network', 'dnet', 'busybox', 'wget', '-qO-', 'http://peer/']), (r) => r.exitCode === 0);
  t.is(viaDocker.stdout, 'via-docker\n');
  await roost.docker(['rm', '-f', 'peer']);
  t.is((await roost.docker(['network', 'rm', 'dnet'])).exitCode, 0);
});

e2e('after kill -9 of the daemon, containers keep their network and new ones still find them', async (t) => {
  const { roost } = t.context;
  await roost.roost(['network', 'create', 'durable']);
  await roost.roost(['run', '-d', '--network', 'durable', '--name', 'keeper', 'busybox', ...server('still-here')]);
  process.kill(roost.daemonPid(), 'SIGKILL');
  const after = await retry(() => roost.roost(['run', '--rm', '--network', 'durable', 'busybox', 'timeout', '3', 'wget', '-qO-', 'http://keeper/']), (r) => r.exitCode === 0, 10_000);
  t.is(after.stdout, 'still-here\n');
  await roost.roost(['rm', '-f', 'keeper']);
  t.is((await roost.roost(['network', 'rm', 'durable'])).exitCode, 0);
});
