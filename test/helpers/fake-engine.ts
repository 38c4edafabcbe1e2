/**
 * A stand-in engine for the dashboard's component tests: the Docker API routes the dashboard calls,
 * served over a unix socket from fixtures (thousands of containers in an instant), recording the
 * actions it receives. End-to-end tests use the real engine instead.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { ContainerSummary, EngineEvent } from '../../src/tui/types.js';

export interface FakeEngine {
  socket: string;
  containers: ContainerSummary[];
  calls: string[];
  /** Log lines served for any container. */
  logLines: string[];
  /** Delay between the progress lines of a pull. */
  pullStepMs: number;
  emit(event: EngineEvent): void;
  /** Stops answering (the engine went away), and comes back on the same socket. */
  goAway(): Promise<void>;
  comeBack(): Promise<void>;
  close(): Promise<void>;
}

const dayS = 86_400;

export function fixtureContainers(n: number, now = Date.now() / 1000): ContainerSummary[] {
  const states = ['running', 'running', 'exited', 'paused', 'created'];
  return Array.from({ length: n }, (_, i) => {
    const state = states[i % states.length]!;
    return {
      Id: `${i.toString(16).padStart(8, '0')}${'f'.repeat(56)}`,
      Names: [`/svc-${String(i).padStart(4, '0')}`],
      Image: i % 3 === 0 ? 'registry.local:5000/shop/web:1.2' : 'busybox:latest',
      Command: 'sleep infinity',
      Created: Math.floor(now - dayS - i),
      State: state,
      Status: state === 'running' ? 'Up 2 hours' : state === 'exited' ? 'Exited (0) 3 hours ago' : state === 'paused' ? 'Up 2 hours (Paused)' : 'Created',
      Ports: i % 7 === 0 ? [{ PrivatePort: 80, PublicPort: 8000 + (i % 1000), Type: 'tcp', IP: '0.0.0.0' }] : [],
      Labels: i % 2 === 0 ? { 'com.docker.compose.project': `proj${i % 4}` } : {},
    };
  });
}

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

export async function startFakeEngine(opts: { containers?: ContainerSummary[] } = {}): Promise<FakeEngine> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-engine-'));
  const socket = path.join(dir, 'api.sock');
  const eventClients = new Set<http.ServerResponse>();
  const now = Date.now() / 1000;
  const engine: FakeEngine = {
    socket,
    containers: opts.containers ?? fixtureContainers(5000, now),
    calls: [],
    pullStepMs: 50,
    logLines: Array.from({ length: 200 }, (_, i) => `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.000000000Z request ${i}${i % 25 === 0 ? ' ERROR upstream timeout' : ' ok'}\n`),
    emit(event) {
      for (const res of eventClients) res.write(JSON.stringify(event) + '\n');
    },
    async goAway() {
      for (const res of eventClients) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
    async comeBack() {
      await new Promise<void>((resolve) => server.listen(socket, resolve));
    },
    async close() {
      if (server.listening) await engine.goAway();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const json = (res: http.ServerResponse, body: unknown, status = 200) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://engine');
    const p = url.pathname.replace(/^\/v[\d.]+/, '');
    if (req.method === 'POST' || req.method === 'DELETE') engine.calls.push(`${req.method} ${p}${url.search}`);
    let m: RegExpExecArray | null;
    if (p === '/_ping') return void res.end('OK');
    if (p === '/containers/json') return json(res, engine.containers);
    if (p === '/images/json') return json(res, [
      { Id: `sha256:${'1'.repeat(64)}`, RepoTags: ['busybox:latest'], Created: Math.floor(now - 30 * dayS), Size: 2_130_000, Containers: 3000 },
      { Id: `sha256:${'2'.repeat(64)}`, RepoTags: ['registry.local:5000/shop/web:1.2'], Created: Math.floor(now - 2 * dayS), Size: 48_000_000, Containers: 2000 },
    ]);
    if (p === '/volumes') return json(res, { Volumes: [{ Name: 'data', Driver: 'local', Mountpoint: '/home/u/.local/share/roost/volumes/data/_data', Labels: null }], Warnings: [] });
    if (p === '/networks') return json(res, [{ Id: 'b'.repeat(64), Name: 'bridge', Driver: 'bridge', IPAM: { Config: [{ Subnet: '10.88.0.0/16' }] } }]);
    if (p === '/info') return json(res, {
      ServerVersion: '0.1.0', Containers: engine.containers.length, ContainersRunning: 2000, Images: 2, NCPU: 2, MemTotal: 24e9, CgroupVersion: '1',
      Roost: { Runtime: 'crun (preferred runtime)', StorageDriver: 'overlay (native)', Host: [
        { name: 'subordinate ids', ok: true, detail: 'uids 100000+65536' },
        { name: 'cgroups', ok: false, detail: 'not delegated', remedy: 'enable systemd user delegation' },
      ] },
    });
    if (p === '/system/df') return json(res, { LayersSize: 50_000_000, Containers: [], Volumes: [] });
    if (p === '/events') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      eventClients.add(res);
      res.on('close', () => eventClients.delete(res));
      return;
    }
    if (p === '/images/create') {
      const ref = `${url.searchParams.get('fromImage')}:${url.searchParams.get('tag')}`;
      if (ref.startsWith('missing')) return json(res, { message: `pull access denied for ${ref}: manifest unknown` }, 404);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const lines = [
        { status: `Pulling from ${ref}` },
        { id: 'aaaa', status: 'Downloading', progressDetail: { current: 1_000_000, total: 4_000_000 } },
        { id: 'bbbb', status: 'Downloading', progressDetail: { current: 500_000, total: 1_000_000 } },
        { id: 'aaaa', status: 'Downloading', progressDetail: { current: 3_000_000, total: 4_000_000 } },
        { id: 'bbbb', status: 'Pull complete', progressDetail: {} },
        { id: 'aaaa', status: 'Pull complete', progressDetail: {} },
        { status: `Status: Downloaded newer image for ${ref}` },
      ];
      let i = 0;
      const timer = setInterval(() => {
        if (i < lines.length) res.write(JSON.stringify(lines[i++]) + '\n');
        else { clearInterval(timer); res.end(); }
      }, engine.pullStepMs);
      return;
    }
    if ((m = /^\/containers\/([^/]+)\/logs$/.exec(p))) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
      for (const line of engine.logLines) res.write(frame(line.includes('ERROR') ? 2 : 1, line));
      if (url.searchParams.get('follow') !== '1') res.end();
      return;
    }
    if ((m = /^\/containers\/([^/]+)\/stats$/.exec(p))) {
      const i = engine.containers.findIndex((c) => c.Id === m![1]);
      return json(res, { read: new Date().toISOString(), cpu_stats: { cpu_usage: { total_usage: 1e9 * (i + 1) }, system_cpu_usage: 1e12, online_cpus: 2 }, memory_stats: { usage: (i + 1) * 1_000_000, limit: 24e9 }, pids_stats: { current: 1 } });
    }
    if ((m = /^\/containers\/([^/]+)\/json$/.exec(p))) {
      const c = engine.containers.find((x) => x.Id === decodeURIComponent(m![1]!) || x.Names[0] === `/${decodeURIComponent(m![1]!)}`);
      if (!c) return json(res, { message: `No such container: ${m[1]}` }, 404);
      return json(res, { Id: c.Id, Name: c.Names[0], Config: { Env: ['PATH=/usr/bin', 'MODE=test'], Tty: false, OpenStdin: false }, State: { Status: c.State }, HostConfig: { NetworkMode: 'bridge' }, NetworkSettings: { Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8000' }] }, Networks: { bridge: { IPAddress: '10.88.0.5', Gateway: '10.88.0.1' } } } });
    }
    if ((m = /^\/containers\/([^/]+)\/(stop|start|restart|pause|unpause|kill)$/.exec(p))) {
      if (m[1] === engine.containers[0]?.Id && m[2] === 'start') return json(res, { message: 'cannot start: the fake engine refuses' }, 409);
      res.writeHead(204);
      return void res.end();
    }
    if ((m = /^\/containers\/([^/]+)$/.exec(p)) && req.method === 'DELETE') {
      engine.containers = engine.containers.filter((c) => c.Id !== m![1]);
      res.writeHead(204);
      return void res.end();
    }
    json(res, { message: `the fake engine has no route ${req.method} ${p}` }, 404);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return engine;
}
