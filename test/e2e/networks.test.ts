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

e2e('--add-host, --dns, --dns-search and --dns-option shape /etc/hosts and /etc/resolv.conf; host-gateway reaches the host loopback', async (t) => {
  const { roost } = t.context;
  const files = await roost.roost(['run', '--rm', '--add-host', 'foo:10.1.2.3', '--add-host', 'six=::1', '--dns', '10.9.9.9', '--dns-search', 'example.test',
    '--dns-option', 'ndots:3', 'busybox', 'sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf']);
  t.is(files.exitCode, 0, files.stderr);
  const [hosts, resolv] = files.stdout.split('---\n') as [string, string];
  t.regex(hosts, /^10\.1\.2\.3\tfoo$/m);
  t.regex(hosts, /^::1\tsix$/m);
  t.is(resolv, 'nameserver 10.9.9.9\nsearch example.test\noptions ndots:3\n');
  // `--dns-search .` drops the host's search domains.
  t.notRegex((await roost.roost(['run', '--rm', '--dns-search', '.', 'busybox', 'cat', '/etc/resolv.conf'])).stdout, /^search/m);

  await roost.roost(['create', '--name', 'shown', '--add-host', 'a:10.0.0.7', '--dns', '10.0.0.53', '--dns-search', 'corp.test', '--dns-option', 'rotate', 'busybox', 'true']);
  const shown = JSON.parse((await roost.roost(['inspect', '-f', '{{json .HostConfig}}', 'shown'])).stdout);
  t.deepEqual([shown.ExtraHosts, shown.Dns, shown.DnsSearch, shown.DnsOptions], [['a:10.0.0.7'], ['10.0.0.53'], ['corp.test'], ['rotate']]);
  await roost.roost(['rm', 'shown']);

  // A server on the host's loopback, reached through host-gateway (on the default network and on a user-defined one).
  const http = await import('node:http');
  const server = http.createServer((_req, res) => res.end('from-host\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  try {
    const viaGateway = await roost.roost(['run', '--rm', '--add-host', 'hostbox:host-gateway', 'busybox', 'timeout', '5', 'wget', '-qO-', `http://hostbox:${port}/`]);
    t.is(viaGateway.stdout, 'from-host\n', viaGateway.stderr);
    // Without host-gateway the host's loopback stays out of reach.
    t.not((await roost.roost(['run', '--rm', 'busybox', 'timeout', '5', 'wget', '-qO-', `http://10.0.2.2:${port}/`])).exitCode, 0);
    await roost.roost(['network', 'create', 'tohost']);
    const onNetwork = await roost.roost(['run', '--rm', '--network', 'tohost', '--add-host', 'hostbox:host-gateway', 'busybox', 'timeout', '5', 'wget', '-qO-', `http://hostbox:${port}/`]);
    t.is(onNetwork.stdout, 'from-host\n', onNetwork.stderr);
    await roost.roost(['network', 'rm', 'tohost']);
  } finally {
    server.close();
  }

  // Through the docker CLI, HostConfig.ExtraHosts and Dns arrive by the API.
  const viaDocker = await roost.docker(['run', '--rm', '--add-host', 'dk:10.4.4.4', '--dns', '10.5.5.5', 'busybox', 'sh', '-c', 'cat /etc/hosts /etc/resolv.conf']);
  t.regex(viaDocker.stdout, /^10\.4\.4\.4\tdk$/m);
  t.regex(viaDocker.stdout, /^nameserver 10\.5\.5\.5$/m);

  await roost.roost(['run', '-d', '--name', 'netowner', 'busybox', 'sleep', '30']);
  const cases: Array<[string[], RegExp]> = [
    [['--add-host', 'nocolon'], /bad format for add-host: "nocolon"/],
    [['--add-host', 'x:999.1.1.1'], /invalid IP address in add-host: "999\.1\.1\.1"/],
    [['--dns', 'resolver.example'], /invalid DNS server "resolver\.example": not an IP address/],
    [['--dns-search', '-bad-'], /invalid DNS search domain "-bad-"/],
    [['--network', 'none', '--add-host', 'h:host-gateway'], /host-gateway: a container on network none has no way to the host/],
    [['--network', 'container:netowner', '--dns', '10.1.1.1'], /conflicting options: dns and the network mode/],
    [['--network', 'container:netowner', '--add-host', 'a:10.1.1.1'], /conflicting options: custom host-to-IP mapping and the network mode/],
  ];
  const before = (await roost.roost(['ps', '-aq'])).stdout;
  for (const [flags, pattern] of cases) {
    const result = await roost.roost(['run', '--rm', ...flags, 'busybox', 'true']);
    t.is(result.exitCode, 125, flags.join(' '));
    t.regex(result.stderr, pattern, flags.join(' '));
    t.is(result.stderr.trim().split('\n').length, 1, 'one line');
  }
  // The engine checks API bodies itself (the docker CLI's own checks are not the only guard).
  const http2 = await import('node:http');
  const apiCreate = (hostConfig: object) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http2.request({ socketPath: roost.socket, path: '/containers/create', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: hostConfig }));
  });
  for (const [hostConfig, pattern] of [[{ ExtraHosts: ['h:not-an-ip'] }, /invalid IP address in add-host/], [{ DnsOptions: ['two words'] }, /invalid DNS option/], [{ Dns: ['1.2.3'] }, /invalid DNS server/]] as const) {
    const answer = await apiCreate(hostConfig);
    t.is(answer.status, 400, answer.body);
    t.regex(JSON.parse(answer.body).message, pattern);
  }
  t.is((await roost.roost(['ps', '-aq'])).stdout, before, 'no container was made');
  await roost.roost(['rm', '-f', 'netowner']);
});
