import anyTest, { type TestFn } from 'ava';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { e2eUnavailable, retry, RoostEnv } from '../helpers/roost-env.js';
import { buildResponse, parseQuery, Rcode, RR } from '../../src/net/dns-message.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv; upstream: { socket: dgram.Socket; asked: string[] } }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: user-defined networks (skipped)', (t) => { t.log(skip); t.pass(); });

/**
 * A fake upstream resolver on the loopback, the only one the engine forwards to in these tests (no query
 * leaves the machine): names under upstream.test are 192.0.2.44, others do not exist. It notes what it is asked.
 */
async function fakeUpstream(): Promise<{ socket: dgram.Socket; asked: string[]; port: number }> {
  const socket = dgram.createSocket('udp4');
  const asked: string[] = [];
  socket.on('message', (packet, from) => {
    const query = parseQuery(packet);
    if (!query) return;
    asked.push(query.name);
    const ours = query.name.endsWith('.upstream.test');
    const answers = ours && query.type === RR.A ? [{ type: RR.A, ttl: 5, data: '192.0.2.44' }] : [];
    socket.send(buildResponse(query, ours ? Rcode.NOERROR : Rcode.NXDOMAIN, answers), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, asked, port: socket.address().port };
}

test.before(async (t) => {
  t.context.roost = new RoostEnv('networks');
  const upstream = await fakeUpstream();
  t.context.upstream = upstream;
  // Set before the daemon starts (it inherits the CLI's environment).
  t.context.roost.env.ROOST_DNS_UPSTREAM = `127.0.0.1:${upstream.port}`;
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => {
  await t.context.roost?.destroy();
  t.context.upstream?.socket.close();
});

const server = (page: string) => ['sh', '-c', `mkdir -p /srv && echo ${page} > /srv/index.html && exec httpd -f -p 80 -h /srv`];

e2e('the default network is one bridge: containers reach each other by address, not the user-defined networks, and keep it across a kill -9 of the daemon', async (t) => {
  const { roost } = t.context;
  const info = await roost.roost(['info']);
  t.regex(info.stdout, /Default network: one bridge \(roost0, 10\.88\.0\.0\/16\)/, 'this host has what the shared bridge needs (nft, slirp4netns)');
  await roost.roost(['run', '-d', '--name', 'web0', 'busybox', ...server('on-bridge')]);
  const ip = (await roost.roost(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web0'])).stdout.trim();
  t.regex(ip, /^10\.88\.\d+\.\d+$/);
  t.is((await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'web0'])).stdout.trim(), ip);
  const fetched = await retry(() => roost.roost(['run', '--rm', 'busybox', 'wget', '-qO-', `http://${ip}/`]), (r) => r.exitCode === 0);
  t.is(fetched.stdout, 'on-bridge\n', 'a container on the default network reaches another by address');
  const inspect = JSON.parse((await roost.roost(['network', 'inspect', 'bridge'])).stdout)[0];
  t.deepEqual(inspect.IPAM.Config, [{ Subnet: '10.88.0.0/16', Gateway: '10.88.0.1' }]);
  t.is(Object.values(inspect.Containers as Record<string, { Name: string; IPv4Address: string }>).find((c) => c.Name === 'web0')?.IPv4Address, `${ip}/16`);

  await roost.roost(['network', 'create', 'apart']);
  await roost.roost(['run', '-d', '--network', 'apart', '--name', 'apart1', 'busybox', ...server('apart')]);
  const apartIp = (await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.apart.IPAddress}}', 'apart1'])).stdout.trim();
  // Both ways the traffic reaches the networks' namespace, where it is dropped.
  // Not as PID 1 (a lone `sh -c` command would be exec'd): PID 1 ignores timeout's signal.
  t.not((await roost.roost(['run', '--rm', 'busybox', 'sh', '-c', `timeout 3 wget -qO- http://${apartIp}/; exit $?`])).exitCode, 0, 'the bridge does not lead to a user-defined network');
  t.not((await roost.roost(['exec', 'apart1', 'sh', '-c', `timeout 3 wget -qO- http://${ip}/; exit $?`])).exitCode, 0, 'nor a user-defined network to the bridge');
  t.is((await roost.roost(['exec', 'apart1', 'sh', '-c', 'ip -4 -o addr | grep -c "10\\.88\\."'])).stdout, '0\n', 'a user-defined network\'s container is not on the bridge');

  process.kill(roost.daemonPid(), 'SIGKILL');
  // As if the daemon had died while it started the bridge's uplink: the uplink runs, its pid file is not
  // written. The next daemon ends it (it holds the namespace's tap0) and starts one of its own.
  const uplinkPidFile = path.join(roost.env.XDG_RUNTIME_DIR!, 'roost', 'bridge-uplink.pid');
  const oldUplink = Number(fs.readFileSync(uplinkPidFile, 'utf8'));
  fs.rmSync(uplinkPidFile);
  await new Promise((r) => setTimeout(r, 300));
  await roost.roost(['run', '-d', '--name', 'web1', 'busybox', ...server('second')]);
  const newUplink = Number(fs.readFileSync(uplinkPidFile, 'utf8'));
  t.not(newUplink, oldUplink);
  t.true(fs.readFileSync(`/proc/${newUplink}/cmdline`, 'utf8').split('\0')[0]!.endsWith('slirp4netns'), 'a new uplink runs for the bridge');
  t.false(fs.existsSync(`/proc/${oldUplink}/cmdline`) && fs.readFileSync(`/proc/${oldUplink}/cmdline`, 'utf8').includes('slirp4netns'), 'the orphan is gone');
  const ip1 = (await roost.roost(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web1'])).stdout.trim();
  t.not(ip1, ip, 'a restarted daemon does not hand out an address in use');
  const again = await retry(() => roost.roost(['exec', 'web1', 'wget', '-qO-', `http://${ip}/`]), (r) => r.exitCode === 0);
  t.is(again.stdout, 'on-bridge\n');
  await roost.roost(['rm', '-f', 'web0', 'web1', 'apart1']);
  await roost.roost(['network', 'rm', 'apart']);
});

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

/** A server on the host's first non-loopback IPv4 address (what host.containers.internal names); none on a host without one. */
async function serverOnHostAddress(body: string): Promise<{ ip: string; port: number; close: () => void } | undefined> {
  const ip = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  if (!ip) return undefined;
  const server = http.createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, ip, resolve));
  return { ip, port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** The slirp4netns processes that serve this test's engine (the uplinks of its namespaces). */
function uplinksOf(roost: RoostEnv): number {
  let count = 0;
  for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args[0]!.endsWith('slirp4netns') && args.some((a) => a.startsWith(`${roost.env.XDG_RUNTIME_DIR}/`))) count++;
    } catch { /* gone meanwhile */ }
  }
  return count;
}

e2e('user-defined networks go out through the one uplink of the networks\' namespace: their gateway is the way out, to the host but not to another network', async (t) => {
  const { roost } = t.context;
  const onHost = await serverOnHostAddress('from-host-address\n');
  if (!onHost) return t.pass('no address of the host but its loopback');
  const hostPort = onHost.port;
  await roost.roost(['network', 'create', 'outa']);
  await roost.roost(['network', 'create', 'outb']);
  await roost.roost(['run', '-d', '--network', 'outb', '--name', 'inb', 'busybox', ...server('in-b')]);
  const bIp = (await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.outb.IPAddress}}', 'inb'])).stdout.trim();
  const gateway = (await roost.roost(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'outa'])).stdout.trim();
  const uplinks = uplinksOf(roost);
  try {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    await roost.roost(['run', '-d', '--network', 'outa', '--name', 'ina', '-p', `127.0.0.1:${port}:80`, 'busybox', ...server('in-a')]);
    const out = await roost.roost(['exec', 'ina', 'sh', '-c', `ip route; timeout 5 wget -qO- http://host.containers.internal:${hostPort}/; exit $?`]);
    t.is(out.exitCode, 0, out.stderr);
    t.regex(out.stdout, new RegExp(`^default via ${gateway.replace(/\./g, '\\.')} dev eth0`, 'm'), 'the default route is the network\'s gateway');
    t.regex(out.stdout, /from-host-address\n$/, 'a service on the host answers');
    t.is(uplinksOf(roost), uplinks, 'no uplink of its own');
    t.is(await retry(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => ''), (body) => body === 'in-a\n'), 'in-a\n', 'its published port answers on the host');
    t.regex((await roost.roost(['port', 'ina'])).stdout, new RegExp(`^80/tcp -> 127\\.0\\.0\\.1:${port}$`, 'm'));
    // The gateway leads out, not to another network's bridge (one that has a way out too).
    t.not((await roost.roost(['exec', 'ina', 'sh', '-c', `timeout 3 wget -qO- http://${bIp}/; exit $?`])).exitCode, 0, 'another network is out of reach');
    t.is((await roost.roost(['exec', 'inb', 'sh', '-c', `timeout 3 wget -qO- http://host.containers.internal:${hostPort}/; exit $?`])).stdout, 'from-host-address\n');
    // A container of an --internal network gets its way out once connected to a network that has one, and keeps it across a restart.
    await roost.roost(['network', 'create', '--internal', 'inner']);
    await roost.roost(['run', '-d', '--network', 'inner', '--name', 'inc', 'busybox', 'sleep', '60']);
    const route = async () => (await roost.roost(['exec', 'inc', 'ip', 'route'])).stdout;
    t.notRegex(await route(), /default/);
    t.is((await roost.roost(['network', 'connect', 'outa', 'inc'])).exitCode, 0);
    t.regex(await route(), new RegExp(`^default via ${gateway.replace(/\./g, '\\.')} dev eth1`, 'm'));
    t.is((await roost.roost(['restart', '-t', '0', 'inc'])).exitCode, 0);
    t.regex(await route(), new RegExp(`^default via ${gateway.replace(/\./g, '\\.')} dev eth1`, 'm'), 'after a restart too');
    t.is(uplinksOf(roost), uplinks, 'still no uplink of its own');
  } finally {
    onHost.close();
    await roost.roost(['rm', '-f', 'ina', 'inb', 'inc']);
    await roost.roost(['network', 'rm', 'outa', 'outb', 'inner']);
  }
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
    [['network', 'create', '--subnet', '10.2.0.0/24', '--ip-range', '10.2.1.0/25', 'range'], /IP range 10\.2\.1\.0\/25 is not in subnet 10\.2\.0\.0\/24/],
    [['network', 'create', '--ip-range', '10.2.1.0/25', 'range'], /an IP range needs a subnet/],
    [['network', 'create', '-o', 'com.docker.network.driver.mtu=12', 'tiny'], /invalid com\.docker\.network\.driver\.mtu "12": an integer from 68 to 65535/],
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

  t.is((await roost.docker(['network', 'create', '-o', 'com.docker.network.driver.mtu=1400', 'dnet'])).exitCode, 0);
  t.regex((await roost.docker(['network', 'ls', '--format', '{{.Name}}'])).stdout, /^dnet$/m);
  t.is((await roost.roost(['network', 'inspect', '-f', '{{index .Options "com.docker.network.driver.mtu"}}', 'dnet'])).stdout, '1400\n');
  t.is((await roost.roost(['run', '--rm', '--network', 'dnet', 'busybox', 'cat', '/sys/class/net/eth0/mtu'])).stdout, '1400\n', 'the driver option sets the MTU');
  await roost.roost(['network', 'create', 'wide']);
  t.is((await roost.roost(['run', '--rm', '--network', 'wide', 'busybox', 'cat', '/sys/class/net/eth0/mtu'])).stdout, '65520\n', 'the default MTU');
  await roost.roost(['network', 'rm', 'wide']);
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
  // The new daemon serves DNS on the network again.
  const lookup = await roost.roost(['run', '--rm', '--network', 'durable', 'busybox', 'nslookup', 'keeper']);
  t.is(lookup.exitCode, 0, lookup.stdout + lookup.stderr);
  t.regex(lookup.stdout, /Name:\s+keeper\nAddress: 10\.89\./);
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
  const server = http.createServer((_req, res) => res.end('from-host\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const viaGateway = await roost.roost(['run', '--rm', '--add-host', 'hostbox:host-gateway', 'busybox', 'timeout', '5', 'wget', '-qO-', `http://hostbox:${port}/`]);
    t.is(viaGateway.stdout, 'from-host\n', viaGateway.stderr);
    // Without host-gateway the host's loopback stays out of reach.
    // Not as PID 1 (a lone `sh -c` command would be exec'd): PID 1 ignores timeout's signal.
    t.not((await roost.roost(['run', '--rm', 'busybox', 'sh', '-c', `timeout 5 wget -qO- http://10.0.2.2:${port}/; exit $?`])).exitCode, 0);
    await roost.roost(['network', 'create', 'tohost']);
    const onNetwork = await roost.roost(['run', '--rm', '--network', 'tohost', '--add-host', 'hostbox:host-gateway', 'busybox', 'timeout', '5', 'wget', '-qO-', `http://hostbox:${port}/`]);
    t.is(onNetwork.stdout, 'from-host\n', onNetwork.stderr);
    await roost.roost(['network', 'rm', 'tohost']);
  } finally {
    server.close();
  }

  // host.containers.internal (and host.docker.internal): the host's own address, where a service of the host listens.
  const onHost = await serverOnHostAddress('from-host-address\n');
  if (onHost) {
    try {
      const named = await roost.roost(['run', '--rm', 'busybox', 'sh', '-c', `grep host.containers.internal /etc/hosts; timeout 5 wget -qO- http://host.docker.internal:${onHost.port}/; exit $?`]);
      t.is(named.stdout, `${onHost.ip}\thost.containers.internal host.docker.internal\nfrom-host-address\n`, named.stderr);
      t.is((await roost.roost(['run', '--rm', '--network', 'none', 'busybox', 'grep', '-c', 'host.containers.internal', '/etc/hosts'])).stdout, '0\n', 'no name where there is no way out');
    } finally {
      onHost.close();
    }
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
  const apiCreate = (hostConfig: object) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ socketPath: roost.socket, path: '/containers/create', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
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

e2e('the embedded DNS server answers names, aliases and addresses on the network, sees containers that come later, and forwards other names', async (t) => {
  const { roost, upstream } = t.context;
  await roost.roost(['network', 'create', 'dnsnet']);
  await roost.roost(['network', 'create', '--internal', 'dnsint']);
  t.is((await roost.roost(['run', '-d', '--network', 'dnsnet', '--name', 'asker', 'busybox', 'sleep', '120'])).exitCode, 0);
  await roost.roost(['run', '-d', '--network', 'dnsnet', '--name', 'first', '--network-alias', 'svc', 'busybox', 'sleep', '120']);
  const inspect = async (name: string, network: string, field: string) => (await roost.roost(['inspect', '-f', `{{.NetworkSettings.Networks.${network}.${field}}}`, name])).stdout.trim();
  const gateway = await inspect('asker', 'dnsnet', 'Gateway');
  t.regex(gateway, /^10\.89\.\d+\.1$/);
  t.is((await roost.roost(['exec', 'asker', 'cat', '/etc/resolv.conf'])).stdout, `nameserver ${gateway}\noptions ndots:0\n`);
  // nslookup asks the nameserver itself (it never reads /etc/hosts).
  const nslookup = (container: string, name: string) => roost.roost(['exec', container, 'nslookup', name]);
  const firstIp = await inspect('first', 'dnsnet', 'IPAddress');
  for (const name of ['first', 'svc', 'FIRST', 'first.']) {
    const answer = await nslookup('asker', name);
    t.is(answer.exitCode, 0, `${name}: ${answer.stdout}${answer.stderr}`);
    t.regex(answer.stdout, new RegExp(`Address: ${firstIp.replace(/\./g, '\\.')}$`, 'm'), name);
  }
  t.regex((await nslookup('asker', firstIp)).stdout, /name = first$/m, 'PTR of a member');
  // Docker's other names for a member: NAME.NETWORK (alias and short ID too), and the short ID alone.
  const shortId = (await roost.roost(['inspect', '-f', '{{.Id}}', 'first'])).stdout.trim().slice(0, 12);
  for (const name of ['first.dnsnet', 'svc.dnsnet', shortId, `${shortId}.dnsnet`]) {
    const answer = await nslookup('asker', name);
    t.is(answer.exitCode, 0, `${name}: ${answer.stdout}${answer.stderr}`);
    t.regex(answer.stdout, new RegExp(`Address: ${firstIp.replace(/\./g, '\\.')}$`, 'm'), name);
  }
  // What a program sees: the resolver (getaddrinfo) finds web.mynet-style names as well.
  const pinged = await roost.roost(['exec', 'asker', 'ping', '-c', '1', '-W', '2', 'first.dnsnet']);
  t.is(pinged.exitCode, 0, pinged.stdout + pinged.stderr);
  t.regex(pinged.stdout, new RegExp(`PING first\\.dnsnet \\(${firstIp.replace(/\./g, '\\.')}\\)`));
  // A network the asker is not on is not ours to answer: the name goes upstream (which does not know it).
  upstream.asked.length = 0;
  t.not((await nslookup('asker', 'first.dnsint')).exitCode, 0);
  t.true(upstream.asked.includes('first.dnsint'), 'forwarded');

  // A container that joins later is known at once, and forgotten when it goes.
  await roost.roost(['run', '-d', '--network', 'dnsnet', '--name', 'later', 'busybox', 'sleep', '120']);
  const laterIp = await inspect('later', 'dnsnet', 'IPAddress');
  t.regex((await nslookup('asker', 'later')).stdout, new RegExp(`Address: ${laterIp.replace(/\./g, '\\.')}$`, 'm'));
  await roost.roost(['rm', '-f', 'later']);
  upstream.asked.length = 0;
  const gone = await nslookup('asker', 'later');
  t.not(gone.exitCode, 0);
  t.regex(gone.stdout + gone.stderr, /NXDOMAIN/, 'asked upstream, which does not know it');
  t.true(upstream.asked.includes('later'));

  // Other names go to the upstream resolver.
  upstream.asked.length = 0;
  const outside = await nslookup('asker', 'www.upstream.test');
  t.is(outside.exitCode, 0, outside.stdout + outside.stderr);
  t.regex(outside.stdout, /Address: 192\.0\.2\.44$/m);
  t.true(upstream.asked.includes('www.upstream.test'));

  // An internal network's server answers its own names, refuses the rest, and never forwards.
  await roost.roost(['run', '-d', '--network', 'dnsint', '--name', 'inside', 'busybox', 'sleep', '120']);
  upstream.asked.length = 0;
  const refused = await nslookup('inside', 'www.upstream.test');
  t.not(refused.exitCode, 0);
  t.regex(refused.stdout + refused.stderr, /REFUSED/);
  t.regex((await nslookup('inside', 'inside')).stdout, /Address: 10\.89\./);
  const elsewhere = await nslookup('inside', 'first');
  t.not(elsewhere.exitCode, 0, 'a container on another network is not known');
  t.deepEqual(upstream.asked, [], 'nothing was forwarded from the internal network');

  // --dns on a user-defined network: the embedded server stays the nameserver and forwards there (here the
  // host's loopback port 53, where nothing listens: the server answers SERVFAIL, on which busybox's nslookup
  // retries until it gives up; the default upstream is never asked).
  await roost.roost(['run', '-d', '--network', 'dnsnet', '--name', 'owndns', '--dns', '127.0.0.1', 'busybox', 'sleep', '120']);
  t.regex((await roost.roost(['exec', 'owndns', 'cat', '/etc/resolv.conf'])).stdout, new RegExp(`^nameserver ${gateway.replace(/\./g, '\\.')}$`, 'm'));
  upstream.asked.length = 0;
  const own = await nslookup('owndns', 'x.upstream.test');
  t.not(own.exitCode, 0);
  t.notRegex(own.stdout, /192\.0\.2\.44/);
  t.deepEqual(upstream.asked, []);
  t.regex((await nslookup('owndns', 'svc')).stdout, new RegExp(`Address: ${firstIp.replace(/\./g, '\\.')}$`, 'm'), 'local names still answer');

  await roost.roost(['rm', '-f', 'asker', 'first', 'inside', 'owndns']);
  await roost.roost(['network', 'rm', 'dnsnet', 'dnsint']);
});

e2e('network connect and disconnect take effect at once on a running container; a connected network stays across restarts', async (t) => {
  const { roost } = t.context;
  await roost.roost(['network', 'create', 'live1']);
  await roost.roost(['run', '-d', '--network', 'live1', '--name', 'target', 'busybox', ...server('live')]);
  await roost.roost(['run', '-d', '--name', 'roamer', 'busybox', 'sleep', '120']);
  const fetchTarget = () => roost.roost(['exec', 'roamer', 'timeout', '3', 'wget', '-qO-', 'http://target/']);
  t.not((await fetchTarget()).exitCode, 0, 'not on the network yet');

  const connected = await roost.roost(['network', 'connect', '--alias', 'roaming', 'live1', 'roamer']);
  t.is(connected.exitCode, 0, connected.stderr);
  t.is((await retry(fetchTarget, (r) => r.exitCode === 0)).stdout, 'live\n');
  const roamerIp = (await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.live1.IPAddress}}', 'roamer'])).stdout.trim();
  t.regex(roamerIp, /^10\.89\.\d+\.\d+$/);
  const byAlias = await roost.roost(['exec', 'target', 'nslookup', 'roaming']);
  t.regex(byAlias.stdout, new RegExp(`Address: ${roamerIp.replace(/\./g, '\\.')}$`, 'm'), byAlias.stdout + byAlias.stderr);
  t.regex((await roost.roost(['exec', 'target', 'cat', '/etc/hosts'])).stdout, new RegExp(`^${roamerIp.replace(/\./g, '\\.')}\\troamer roaming`, 'm'));
  const members = JSON.parse((await roost.roost(['network', 'inspect', 'live1'])).stdout)[0].Containers;
  t.deepEqual(Object.values<{ Name: string }>(members).map((m) => m.Name).sort(), ['roamer', 'target']);
  t.is((await roost.roost(['ps', '--filter', 'network=live1', '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean).sort().join(','), 'roamer,target');

  const cases: Array<[string[], RegExp]> = [
    [['network', 'connect', 'live1', 'roamer'], /endpoint with name roamer already exists in network live1/],
    [['network', 'connect', 'nosuchnet', 'roamer'], /network nosuchnet not found/],
    [['network', 'connect', 'live1', 'nosuchbox'], /No such container: nosuchbox/],
    // The predefined networks: Docker's refusals in Docker's words, and Roost's own where Docker would go on.
    [['network', 'connect', 'bridge', 'roamer'], /^roost: endpoint with name roamer already exists in network bridge$/m],
    [['network', 'connect', 'host', 'roamer'], /^roost: container cannot be disconnected from host network or connected to host network$/m],
    [['network', 'connect', 'none', 'target'], /^roost: container cannot be connected to multiple networks with one of the networks in private \(none\) mode$/m],
    [['network', 'connect', 'bridge', 'target'], /container target cannot be connected to network bridge: Roost puts a container on its bridge network as its namespace is made/],
    [['network', 'disconnect', 'host', 'roamer'], /container roamer is not connected to network host/],
    [['network', 'disconnect', 'bridge', 'roamer'], /container roamer cannot be disconnected from network bridge: /],
    [['network', 'connect', '--ip', '10.1.1.1', 'live1', 'target'], /already exists|not in the subnet/],
  ];
  for (const [args, pattern] of cases) {
    const result = await roost.roost(args);
    t.is(result.exitCode, 125, args.join(' '));
    t.regex(result.stderr, pattern, args.join(' '));
    t.is(result.stderr.trim().split('\n').length, 1, 'one line');
  }
  await roost.roost(['run', '-d', '--network', 'none', '--name', 'loner', 'busybox', 'sleep', '60']);
  const loner = await roost.roost(['network', 'connect', 'live1', 'loner']);
  t.is(loner.exitCode, 125);
  t.regex(loner.stderr, /container cannot be connected to multiple networks with one of the networks in private \(none\) mode/);
  await roost.roost(['run', '-d', '--network', 'host', '--name', 'hoster', 'busybox', 'sleep', '60']);
  const hoster = await roost.roost(['network', 'connect', 'live1', 'hoster']);
  t.is(hoster.exitCode, 125);
  t.regex(hoster.stderr, /container sharing network namespace with another container or host cannot be connected to any other network/);
  const offHost = await roost.roost(['network', 'disconnect', 'host', 'hoster']);
  t.is(offHost.exitCode, 125);
  t.regex(offHost.stderr, /container cannot be disconnected from host network or connected to host network/);
  // Nothing half-made by the refusals: each container is on the networks it was on.
  const networksOf = async (name: string) => Object.keys(JSON.parse((await roost.roost(['inspect', '-f', '{{json .NetworkSettings.Networks}}', name])).stdout)).join(',');
  t.is(await networksOf('loner'), 'none');
  t.is(await networksOf('hoster'), 'host');
  t.is(await networksOf('roamer'), 'bridge,live1');
  t.is(await networksOf('target'), 'live1');
  const dockerHost = await roost.docker(['network', 'connect', 'host', 'roamer']);
  t.not(dockerHost.exitCode, 0);
  t.regex(dockerHost.stderr, /Error response from daemon: container cannot be disconnected from host network or connected to host network/, 'the docker CLI shows the message');
  await roost.roost(['rm', '-f', 'loner', 'hoster']);

  t.is((await roost.roost(['network', 'disconnect', 'live1', 'roamer'])).exitCode, 0);
  const after = await fetchTarget();
  t.not(after.exitCode, 0, 'off the network at once');
  t.notRegex((await roost.roost(['exec', 'roamer', 'ip', '-o', 'addr'])).stdout, /10\.89\./, 'its veth is gone');
  t.notRegex((await roost.roost(['exec', 'target', 'cat', '/etc/hosts'])).stdout, /roamer/, "gone from the peers' /etc/hosts");
  t.is((await roost.roost(['network', 'disconnect', 'live1', 'roamer'])).exitCode, 125, 'not connected any more');

  // The network a container was created on can be left and joined again as well; after a restart the
  // container is on both networks, in the order it joined them.
  await roost.roost(['network', 'create', '--subnet', '10.92.0.0/24', 'live2']);
  t.is((await roost.roost(['network', 'connect', 'live2', 'target'])).exitCode, 0);
  t.is((await roost.roost(['network', 'disconnect', 'live1', 'target'])).exitCode, 0);
  t.is(await networksOf('target'), 'live2');
  const addresses = async () => (await roost.roost(['exec', 'target', 'ip', '-o', '-4', 'addr'])).stdout;
  t.notRegex(await addresses(), /10\.89\./);
  // Its way out went with the network it was created on; it goes out through the one it has left.
  t.regex((await roost.roost(['exec', 'target', 'ip', 'route'])).stdout, /^default via 10\.92\.0\.1 dev eth1/m);
  t.is((await roost.roost(['network', 'connect', 'live1', 'target'])).exitCode, 0);
  t.regex(await addresses(), /10\.89\./);
  t.is((await roost.roost(['restart', '-t', '0', 'target'])).exitCode, 0);
  t.is(await networksOf('target'), 'live2,live1');
  t.regex(await addresses(), /eth0 +inet 10\.92\.0\.\d+\/24[\s\S]*eth1 +inet 10\.89\./);

  // Through the docker CLI; a connected network is joined again when the container restarts.
  const outside = await roost.docker(['network', 'connect', '--ip', '10.89.250.9', 'live1', 'roamer']);
  t.not(outside.exitCode, 0);
  t.regex(outside.stderr, /address 10\.89\.250\.9 is not in the subnet/);
  const subnet = JSON.parse((await roost.roost(['network', 'inspect', 'live1'])).stdout)[0].IPAM.Config[0].Subnet as string;
  const fixed = subnet.replace(/0\/24$/, '77');
  const viaDocker = await roost.docker(['network', 'connect', '--ip', fixed, 'live1', 'roamer']);
  t.is(viaDocker.exitCode, 0, viaDocker.stderr);
  t.is((await roost.roost(['restart', '-t', '0', 'roamer'])).exitCode, 0);
  t.is((await retry(fetchTarget, (r) => r.exitCode === 0)).stdout, 'live\n', 'connected again after the restart');
  t.is((await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.live1.IPAddress}}', 'roamer'])).stdout, `${fixed}\n`);
  t.regex((await roost.roost(['network', 'rm', 'live1'])).stderr, /has active endpoints/);
  t.is((await roost.docker(['network', 'disconnect', 'live1', 'roamer'])).exitCode, 0);
  // A container that is not running yet joins at its start (compose connects its networks before starting).
  await roost.roost(['create', '--name', 'notyet', 'busybox', 'sleep', '60']);
  t.is((await roost.roost(['network', 'connect', '--alias', 'pending', 'live2', 'notyet'])).exitCode, 0);
  t.is((await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.live2.IPAddress}}', 'notyet'])).stdout, '\n', 'no address before it runs');
  await roost.roost(['start', 'notyet']);
  t.regex((await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.live2.IPAddress}}', 'notyet'])).stdout, /^10\.92\.0\.\d+\n$/);
  t.regex((await roost.roost(['exec', 'target', 'nslookup', 'pending'])).stdout, /Address: 10\.92\.0\./);
  await roost.roost(['rm', '-f', 'roamer', 'target', 'notyet']);
  t.is((await roost.roost(['network', 'rm', 'live1', 'live2'])).exitCode, 0);
});

e2e('--ip-range: automatic addresses come from the range, a requested one may be anywhere in the subnet', async (t) => {
  const { roost } = t.context;
  t.is((await roost.roost(['network', 'create', '--subnet', '10.91.0.0/24', '--ip-range', '10.91.0.128/25', 'ranged'])).exitCode, 0);
  t.is((await roost.roost(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).IPRange}}', 'ranged'])).stdout, '10.91.0.128/25\n');
  await roost.roost(['run', '-d', '--network', 'ranged', '--name', 'r1', 'busybox', 'sleep', '60']);
  await roost.roost(['run', '-d', '--network', 'ranged', '--name', 'r2', 'busybox', 'sleep', '60']);
  await roost.roost(['run', '-d', '--network', 'ranged', '--name', 'r3', '--ip', '10.91.0.20', 'busybox', 'sleep', '60']);
  const ip = async (name: string) => (await roost.roost(['inspect', '-f', '{{.NetworkSettings.Networks.ranged.IPAddress}}', name])).stdout.trim();
  t.deepEqual([await ip('r1'), await ip('r2'), await ip('r3')], ['10.91.0.128', '10.91.0.129', '10.91.0.20']);
  await roost.roost(['rm', '-f', 'r1', 'r2', 'r3']);
  await roost.roost(['network', 'rm', 'ranged']);
});

e2e('--ipv6: containers get an IPv6 address on the network, reach each other over it and find each other by AAAA', async (t) => {
  const { roost, upstream } = t.context;
  // Bad requests: one line, nothing made.
  const bad: Array<[string[], RegExp]> = [
    [['network', 'create', '--subnet', 'fd00:7::/64', 'nov6'], /IPv6 subnet fd00:7::\/64 given without --ipv6/],
    [['network', 'create', '--ipv6', '--subnet', 'fd00:7::1/64', 'nov6'], /host bits are set \(did you mean fd00:7::\/64\?\)/],
    [['network', 'create', '--ipv6', '--subnet', 'fd00:7::/130', 'nov6'], /invalid subnet fd00:7::\/130/],
    [['network', 'create', '--ipv6', '--subnet', 'fd00:7::/64', '--subnet', 'fd00:8::/64', 'nov6'], /only one IPv4 and one IPv6 subnet/],
  ];
  for (const [args, pattern] of bad) {
    const result = await roost.roost(args);
    t.is(result.exitCode, 125, args.join(' '));
    t.regex(result.stderr, pattern, args.join(' '));
    t.is(result.stderr.trim().split('\n').length, 1, 'one line');
  }
  t.notRegex((await roost.roost(['network', 'ls', '--format', '{{.Name}}'])).stdout, /nov6/);

  const created = await roost.roost(['network', 'create', '--ipv6', '--subnet', 'fd00:1::/64', 'v6net']);
  t.is(created.exitCode, 0, created.stderr);
  const overlap = await roost.roost(['network', 'create', '--ipv6', '--subnet', 'fd00:1::/96', 'v6clash']);
  t.regex(overlap.stderr, /overlaps with network v6net \(fd00:1::\/64\)/);
  const network = JSON.parse((await roost.roost(['network', 'inspect', 'v6net'])).stdout)[0];
  t.true(network.EnableIPv6);
  t.deepEqual(network.IPAM.Config[1], { Subnet: 'fd00:1::/64', Gateway: 'fd00:1::1' });
  t.regex(network.IPAM.Config[0].Subnet, /^10\.89\.\d+\.0\/24$/, 'an IPv4 subnet as well, chosen by the engine');

  t.is((await roost.roost(['run', '-d', '--network', 'v6net', '--name', 'web6', 'busybox', ...server('over-v6')])).exitCode, 0);
  t.is((await roost.roost(['run', '-d', '--network', 'v6net', '--name', 'client6', 'busybox', 'sleep', '120'])).exitCode, 0);
  const field = async (name: string, f: string) => (await roost.roost(['inspect', '-f', `{{.NetworkSettings.Networks.v6net.${f}}}`, name])).stdout.trim();
  t.is(await field('web6', 'GlobalIPv6Address'), 'fd00:1::2');
  t.is(await field('web6', 'GlobalIPv6PrefixLen'), '64');
  t.is(await field('web6', 'IPv6Gateway'), 'fd00:1::1');
  t.is(await field('client6', 'GlobalIPv6Address'), 'fd00:1::3');
  t.regex((await roost.roost(['exec', 'web6', 'ip', '-o', '-6', 'addr'])).stdout, /inet6 fd00:1::2\/64/);
  const members = JSON.parse((await roost.roost(['network', 'inspect', 'v6net'])).stdout)[0].Containers;
  t.deepEqual(Object.values<{ IPv6Address: string }>(members).map((m) => m.IPv6Address).sort(), ['fd00:1::2/64', 'fd00:1::3/64']);

  // Over IPv6, by address and by name (/etc/hosts and the DNS server both know the IPv6 address).
  const byAddress = await retry(() => roost.roost(['exec', 'client6', 'timeout', '5', 'wget', '-qO-', 'http://[fd00:1::2]/']), (r) => r.exitCode === 0);
  t.is(byAddress.stdout, 'over-v6\n', byAddress.stderr);
  t.regex((await roost.roost(['exec', 'client6', 'cat', '/etc/hosts'])).stdout, /^fd00:1::2\tweb6 /m);
  upstream.asked.length = 0;
  const aaaa = await roost.roost(['exec', 'client6', 'nslookup', '-type=AAAA', 'web6']);
  t.is(aaaa.exitCode, 0, aaaa.stdout + aaaa.stderr);
  t.regex(aaaa.stdout, /Address: fd00:1::2$/m);
  t.regex((await roost.roost(['exec', 'client6', 'nslookup', '-type=AAAA', 'web6.v6net'])).stdout, /Address: fd00:1::2$/m);
  t.regex((await roost.roost(['exec', 'client6', 'nslookup', 'fd00:1::2'])).stdout, /name = web6$/m, 'PTR of an IPv6 address');
  t.deepEqual(upstream.asked, [], 'answered locally');
  const ping6 = await roost.roost(['exec', 'client6', 'ping', '-6', '-c', '1', '-W', '2', 'fd00:1::2']);
  t.is(ping6.exitCode, 0, ping6.stdout + ping6.stderr);

  // --ip6 (run and network connect): a chosen address; bad ones are one line and leave nothing behind.
  t.is((await roost.roost(['run', '-d', '--network', 'v6net', '--ip6', 'fd00:1::99', '--name', 'fixed6', 'busybox', 'sleep', '120'])).exitCode, 0);
  t.is(await field('fixed6', 'GlobalIPv6Address'), 'fd00:1::99');
  t.regex((await roost.roost(['exec', 'fixed6', 'ip', '-o', '-6', 'addr'])).stdout, /inet6 fd00:1::99\/64/);
  await roost.roost(['network', 'create', 'v4only']);
  await roost.roost(['run', '-d', '--name', 'joiner6', 'busybox', 'sleep', '120']);
  const badIp6: Array<[string[], RegExp]> = [
    [['run', '-d', '--network', 'v6net', '--ip6', 'fd00:9::1', '--name', 'bad6', 'busybox', 'true'], /address fd00:9::1 is not in the subnet fd00:1::\/64 of network v6net/],
    [['run', '-d', '--network', 'v6net', '--ip6', 'fd00:1::99', '--name', 'bad6', 'busybox', 'true'], /address fd00:1::99 is already in use on network v6net/],
    [['run', '-d', '--network', 'v6net', '--ip6', '10.1.1.1', '--name', 'bad6', 'busybox', 'true'], /invalid IPv6 address "10\.1\.1\.1"/],
    [['run', '-d', '--network', 'v4only', '--ip6', 'fd00:1::5', '--name', 'bad6', 'busybox', 'true'], /network v4only has no IPv6 subnet \(create it with --ipv6\)/],
    [['network', 'connect', '--ip6', 'fd00:1::2', 'v6net', 'joiner6'], /address fd00:1::2 is already in use on network v6net/],
  ];
  for (const [args, pattern] of badIp6) {
    const result = await roost.roost(args);
    t.is(result.exitCode, 125, args.join(' '));
    t.regex(result.stderr, pattern, args.join(' '));
    t.is(result.stderr.trim().split('\n').length, 1, 'one line');
  }
  t.not((await roost.roost(['inspect', 'bad6'])).exitCode, 0, 'no container was made');
  t.is((await roost.roost(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'joiner6'])).stdout.trim(), 'bridge', 'the refused connect left nothing');
  const joined = await roost.roost(['network', 'connect', '--ip6', 'fd00:1::77', 'v6net', 'joiner6']);
  t.is(joined.exitCode, 0, joined.stderr);
  t.is(await field('joiner6', 'GlobalIPv6Address'), 'fd00:1::77');
  t.regex((await roost.roost(['exec', 'joiner6', 'ip', '-o', '-6', 'addr'])).stdout, /inet6 fd00:1::77\/64/);
  t.is((await roost.roost(['restart', '-t', '0', 'joiner6'])).exitCode, 0);
  t.is(await field('joiner6', 'GlobalIPv6Address'), 'fd00:1::77', 'kept across a restart');

  await roost.roost(['rm', '-f', 'web6', 'client6', 'fixed6', 'joiner6']);
  await roost.roost(['network', 'rm', 'v4only']);
  t.is((await roost.roost(['network', 'rm', 'v6net'])).exitCode, 0);

  // The docker CLI, through the socket.
  const viaDocker = await roost.docker(['network', 'create', '--ipv6', '--subnet', 'fd00:2::/64', 'dv6']);
  t.is(viaDocker.exitCode, 0, viaDocker.stderr);
  t.is((await roost.docker(['network', 'inspect', '-f', '{{.EnableIPv6}}', 'dv6'])).stdout.trim(), 'true');
  t.is((await roost.docker(['run', '-d', '--network', 'dv6', '--name', 'd6', 'busybox', 'sleep', '60'])).exitCode, 0);
  t.is((await roost.docker(['inspect', '-f', '{{.NetworkSettings.Networks.dv6.GlobalIPv6Address}}', 'd6'])).stdout.trim(), 'fd00:2::2');
  await roost.docker(['rm', '-f', 'd6']);
  t.is((await roost.docker(['network', 'rm', 'dv6'])).exitCode, 0);
});
