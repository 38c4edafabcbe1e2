import anyTest, { type TestFn } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { e2eUnavailable, freePort, retry, RoostEnv } from '../helpers/roost-env.js';

// The default network through each userspace uplink: published ports answer on the host.
const skip = e2eUnavailable();
const uplinks = ['pasta', 'slirp4netns'] as const;
const test = anyTest as TestFn<Record<string, RoostEnv>>;

for (const uplink of uplinks) {
  const e2e = skip ? test.skip : test.serial;
  test.before(async (t) => {
    const env = new RoostEnv(`up-${uplink}`);
    env.env.ROOST_UPLINK = uplink;
    t.context[uplink] = env;
    if (!skip) await env.loadBusybox(t as never);
  });
  test.after.always(async (t) => { await t.context[uplink]?.destroy(); });

  e2e(`${uplink}: a published port answers on the host, and the container has an uplink with a default route`, async (t) => {
    const roost = t.context[uplink]!;
    const port = await freePort();
    const run = await roost.roost(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/var/www']);
    t.is(run.exitCode, 0, run.stderr);
    const body = await retry(async () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => ''), (b) => b.length > 0);
    t.is(body, '<h1>hello from roost</h1>\n');
    const route = await roost.roost(['exec', 'web', 'sh', '-c', 'ip route | grep -c "^default"']);
    t.is(route.stdout, '1\n', route.stderr);
    t.is((await roost.roost(['rm', '-f', 'web'])).exitCode, 0);
    const gone = await fetch(`http://127.0.0.1:${port}/`).then(() => 'answered', () => 'refused');
    t.is(gone, 'refused', 'the port is released when the container goes');
  });

  e2e(`${uplink}: 8 MiB through a published port arrive whole both ways, an end of file is passed on, and the port outlives a kill -9 of the daemon`, async (t) => {
    const roost = t.context[uplink]!;
    const port = await freePort();
    // sha256sum answers only once it has read to the end: the client's half close must reach it.
    const run = await roost.roost(['run', '-d', '--name', 'hasher', '-p', `127.0.0.1:${port}:80`, 'busybox', 'nc', '-ll', '-p', '80', '-e', 'sha256sum']);
    t.is(run.exitCode, 0, run.stderr);
    const data = randomBytes(8 << 20);
    const expected = `${createHash('sha256').update(data).digest('hex')}  -\n`;
    const send = () => new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let reply = '';
      socket.on('connect', () => socket.end(data));
      socket.on('data', (chunk) => { reply += chunk; });
      socket.on('close', () => resolve(reply));
      socket.on('error', () => {});
    });
    t.is(await retry(send, (reply) => reply.length > 0), expected);
    process.kill(roost.daemonPid(), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    t.is(await send(), expected, 'the port answers while no daemon runs');
    const busy = await roost.roost(['run', '-d', '--name', 'second', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '60']);
    t.is(busy.exitCode, 125);
    t.regex(busy.stderr, new RegExp(`^roost: .*127\\.0\\.0\\.1.*${port}.*(in use|already)`));
    t.regex(busy.stderr, /in use by container hasher \([0-9a-f]{12}\)/, 'says which of its containers has the port');
    t.is(busy.stderr.trim().split('\n').filter((line) => !line.startsWith('hint:')).length, 1, busy.stderr);
    t.is((await roost.roost(['rm', '-f', 'hasher', 'second'])).exitCode, 0);
    t.is(await send(), '', 'the port is released when the container goes');
  });
}

// UDP: busybox has no UDP server here, so a static echo server (test/fixtures/udp-echo.c) is copied in.
const udpEcho = async (t: { fail(message: string): void }, dir: string): Promise<string> => {
  const { execa } = await import('execa');
  const binary = path.join(dir, 'udp-echo');
  const gcc = await execa('gcc', ['-static', '-O1', '-o', binary, path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'udp-echo.c')], { reject: false });
  if (gcc.exitCode !== 0) t.fail(`gcc -static udp-echo.c: ${gcc.stderr} (scripts/prepare-host.sh installs gcc and libc6-dev)`);
  return binary;
};

const askUdp = (port: number, text: string) => new Promise<string>((resolve) => {
  const socket = dgram.createSocket('udp4');
  const timer = setTimeout(() => { socket.close(); resolve(''); }, 1000);
  socket.on('message', (reply) => { clearTimeout(timer); socket.close(); resolve(reply.toString()); });
  socket.send(text, port, '127.0.0.1');
});

const udpRoundTrip = async (t: import('ava').ExecutionContext<unknown>, roost: RoostEnv) => {
  const binary = await udpEcho(t, roost.base);
  const port = await freePort();
  t.is((await roost.roost(['run', '-d', '--name', 'udp', '-p', `127.0.0.1:${port}:9/udp`, 'busybox', 'sleep', '300'])).exitCode, 0);
  t.is((await roost.roost(['cp', binary, 'udp:/bin/udp-echo'])).exitCode, 0);
  t.is((await roost.roost(['exec', '-d', 'udp', '/bin/udp-echo', '9'])).exitCode, 0);
  t.is(await retry(() => askUdp(port, 'ping'), (reply) => reply.length > 0), 'echo: ping');
  t.is((await roost.roost(['port', 'udp'])).stdout, `9/udp -> 127.0.0.1:${port}\n`);
  await roost.roost(['rm', '-f', 'udp']);
};

for (const uplink of uplinks) {
  (skip ? test.skip : test.serial)(`${uplink}: a published UDP port (-p 127.0.0.1:PORT:9/udp) answers on the host`, (t) => udpRoundTrip(t, t.context[uplink]!));
}

(skip ? test.skip : test.serial)('a published UDP port answers on the host on the default network\'s bridge', async (t) => {
  const roost = new RoostEnv('up-udp');
  try {
    await roost.loadBusybox(t as never);
    await udpRoundTrip(t, roost);
  } finally {
    await roost.destroy();
  }
});
if (skip) test('end-to-end: uplinks (skipped)', (t) => { t.log(skip); t.pass(); });
