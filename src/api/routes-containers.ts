import { readLog } from '../engine/container-logs.js';
import type { ContainerConfig, HostConfig } from '../engine/container-types.js';
import { conflict, invalid } from '../util/errors.js';
import { containerTop, sampleUsage, statsJson, type UsageSample } from '../engine/container-procs.js';
import { containerInspect, containerSummary } from './container-views.js';
import { commonHeaders, muxFrame, readJsonBody, sendJson } from './http-util.js';
import type { RouteContext, Router } from './router.js';
import { HijackedStream } from './stream-session.js';
import { DetachKeyScanner, parseDetachKeys } from './detach-keys.js';
import { roostVersion } from '../util/version.js';
import type { ContainerRecord } from '../engine/container-types.js';

function matchesFilters(ctx: RouteContext, record: ContainerRecord, filters: Record<string, string[]>): boolean {
  for (const [key, values] of Object.entries(filters)) {
    const ok = values.some((value) => {
      switch (key) {
        case 'id': return record.Id.startsWith(value);
        case 'name': return new RegExp(value).test(record.Name.slice(1));
        case 'status': return record.State.Status === value;
        case 'health': return (record.State.Health?.Status ?? 'none') === value;
        case 'exited': return !record.State.Running && record.State.Status === 'exited' && record.State.ExitCode === Number(value);
        case 'label': {
          const [k, v] = value.split('=', 2) as [string, string | undefined];
          const labels = record.Config.Labels ?? {};
          return k in labels && (v === undefined || labels[k] === v);
        }
        case 'ancestor': {
          try { return ctx.engine.images.resolve(value).id === record.Image; } catch { return false; }
        }
        case 'network': return (record.HostConfig.NetworkMode === 'default' ? 'bridge' : record.HostConfig.NetworkMode) === value || ctx.engine.containers.networkNames(record).includes(value);
        case 'volume': return (record.Mounts ?? []).some((m) => m.Name === value || m.Source === value || m.Destination === value);
        default: throw invalid(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

function parseTime(text: string | undefined): number | undefined {
  if (text === undefined || text === '' || text === '0') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw invalid(`invalid time: ${text}`);
  return ms / 1000;
}

export function containerRoutes(router: Router): void {
  router.add('GET', '/containers/json', async (ctx) => {
    const all = ctx.query.bool('all');
    const limit = ctx.query.int('limit');
    const filters = ctx.query.filters();
    let records = ctx.engine.containers.list()
      .filter((r) => all || r.State.Running || Object.keys(filters).some((k) => k === 'status' || k === 'exited'))
      .filter((r) => matchesFilters(ctx, r, filters))
      .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
    if (limit !== undefined && limit > 0) records = records.slice(0, limit);
    sendJson(ctx.res!, 200, records.map((r) => containerSummary(ctx.engine.containers, r)));
  });

  router.add('POST', '/containers/create', async (ctx) => {
    type EndpointConfig = { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null };
    const body = await readJsonBody<ContainerConfig & { HostConfig?: HostConfig; NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointConfig> | null } }>(ctx.req);
    const { HostConfig: hostConfig, NetworkingConfig: networking, ...config } = body;
    // The endpoint settings of the network the container is created on (the docker CLI sends --network-alias and --ip there).
    const endpoint = networking?.EndpointsConfig?.[hostConfig?.NetworkMode ?? ''] ?? undefined;
    const record = await ctx.engine.containers.create({
      name: ctx.query.string('name'), config, hostConfig: hostConfig ?? {},
      aliases: endpoint?.Aliases?.filter(Boolean) ?? undefined, ip: endpoint?.IPAMConfig?.IPv4Address || undefined,
      ip6: endpoint?.IPAMConfig?.IPv6Address || undefined,
    });
    const warning = ctx.engine.containers.limitsWarning((hostConfig ?? {}) as Record<string, unknown>);
    sendJson(ctx.res!, 201, { Id: record.Id, Warnings: warning ? [warning] : [] });
  });

  router.add('GET', '/containers/{id}/json', async (ctx) => {
    sendJson(ctx.res!, 200, containerInspect(ctx.engine.containers, ctx.engine.containers.get(ctx.params.id!)));
  });

  router.add('POST', '/containers/{id}/start', async (ctx) => {
    await ctx.engine.containers.start(ctx.params.id!);
    ctx.res!.writeHead(204).end();
  });

  router.add('POST', '/containers/{id}/stop', async (ctx) => {
    await ctx.engine.containers.stop(ctx.params.id!, ctx.query.int('t') ?? ctx.query.int('timeout'), ctx.query.string('signal'));
    ctx.res!.writeHead(204).end();
  });

  router.add('POST', '/containers/{id}/restart', async (ctx) => {
    await ctx.engine.containers.restart(ctx.params.id!, ctx.query.int('t') ?? ctx.query.int('timeout'));
    ctx.res!.writeHead(204).end();
  });

  router.add('POST', '/containers/{id}/kill', async (ctx) => {
    await ctx.engine.containers.kill(ctx.params.id!, ctx.query.string('signal') ?? 'KILL');
    ctx.res!.writeHead(204).end();
  });

  router.add('DELETE', '/containers/{id}', async (ctx) => {
    await ctx.engine.containers.remove(ctx.params.id!, { force: ctx.query.bool('force'), volumes: ctx.query.bool('v') });
    ctx.res!.writeHead(204).end();
  });

  router.add('POST', '/containers/{id}/rename', async (ctx) => {
    const name = ctx.query.string('name');
    if (!name) throw invalid('name is required');
    await ctx.engine.containers.rename(ctx.params.id!, name);
    ctx.res!.writeHead(204).end();
  });

  router.add('POST', '/containers/{id}/resize', async (ctx) => {
    ctx.engine.containers.resize(ctx.params.id!, ctx.query.int('h') ?? 24, ctx.query.int('w') ?? 80);
    ctx.res!.writeHead(200).end();
  });

  router.add('POST', '/containers/prune', async (ctx) => {
    const removed = await ctx.engine.containers.prune();
    sendJson(ctx.res!, 200, { ContainersDeleted: removed, SpaceReclaimed: 0 });
  });

  // docker run sends wait before start and waits for its headers: send them at once.
  router.add('POST', '/containers/{id}/wait', async (ctx) => {
    const waiting = ctx.engine.containers.waitLater(ctx.params.id!, ctx.query.string('condition') ?? 'not-running');
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const code = await waiting;
    res.end(JSON.stringify({ StatusCode: code, Error: null }));
  });

  router.add('POST', '/containers/{id}/attach', async (ctx) => {
    const record = ctx.engine.containers.get(ctx.params.id!);
    const wantsStdin = ctx.query.bool('stdin');
    const detachKeys = new DetachKeyScanner(parseDetachKeys(ctx.query.string('detachKeys')));
    let handle: ReturnType<typeof ctx.engine.containers.attach> | undefined;
    let detached = false;
    const stream = new HijackedStream(Boolean(record.Config.Tty), commonHeaders(roostVersion), ctx.req, ctx.res, ctx.upgrade,
      (data) => {
        if (!wantsStdin || detached) return;
        const { forward, detach } = detachKeys.push(data);
        if (forward.length) handle?.writeStdin(forward);
        if (detach) {
          // The client leaves; the container keeps running with its stdin open.
          detached = true;
          handle?.detach();
          stream.end();
        }
      },
      // As Docker: a client's EOF closes the container's stdin only without a TTY (a TTY client that leaves,
      // e.g. the docker CLI after its own detach keys, must not end the shell).
      () => { if (wantsStdin && !detached && record.Config.StdinOnce && !record.Config.Tty) handle?.closeStdin(); });
    handle = ctx.engine.containers.attach(record.Id, stream.session(ctx.query.bool('stdout'), ctx.query.bool('stderr')));
    stream.onClose(() => handle?.detach());
    if (ctx.query.bool('logs')) {
      for await (const entry of readLog(record.LogPath, { follow: false, stdout: true, stderr: true, timestamps: false }, () => false)) {
        stream.write(entry.stream, Buffer.from(entry.text));
      }
    }
    if (!record.State.Running && record.State.Status !== 'created') stream.end();
  });

  router.add('GET', '/containers/{id}/logs', async (ctx) => {
    const record = ctx.engine.containers.get(ctx.params.id!);
    const stdout = ctx.query.bool('stdout');
    const stderr = ctx.query.bool('stderr');
    if (!stdout && !stderr) throw invalid('you must choose at least one stream');
    const tailText = ctx.query.string('tail');
    const tail = tailText === undefined || tailText === 'all' ? undefined : Number(tailText);
    if (tail !== undefined && !Number.isInteger(tail)) throw invalid(`invalid tail: ${tailText}`);
    const timestamps = ctx.query.bool('timestamps');
    const res = ctx.res!;
    const tty = Boolean(record.Config.Tty);
    res.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
    res.flushHeaders();
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const opts = { follow: ctx.query.bool('follow'), stdout, stderr, timestamps, tail, since: parseTime(ctx.query.string('since')), until: parseTime(ctx.query.string('until')) };
    for await (const entry of readLog(record.LogPath, opts, () => ctx.engine.containers.list().some((r) => r.Id === record.Id && r.State.Running), abort.signal)) {
      const text = Buffer.from(timestamps ? `${entry.time} ${entry.text}` : entry.text);
      res.write(tty ? text : muxFrame(entry.stream, text));
    }
    res.end();
  });

  router.add('GET', '/containers/{id}/top', async (ctx) => {
    const record = ctx.engine.containers.get(ctx.params.id!);
    if (!record.State.Running) throw conflict(`container ${record.Id} is not running`);
    sendJson(ctx.res!, 200, await containerTop(record.State.Pid, ctx.query.string('ps_args') ?? '-ef'));
  });

  // Usage from /proc (no cgroup is the user's here), at least one sample a second while streaming.
  router.add('GET', '/containers/{id}/stats', async (ctx) => {
    const record = ctx.engine.containers.get(ctx.params.id!);
    const res = ctx.res!;
    const name = record.Name;
    const limit = ctx.engine.containers.memoryLimit(record);
    const zero = (): UsageSample => ({ read: new Date().toISOString(), cpuTotalNs: 0, systemCpuNs: 0, memoryBytes: 0, pids: 0, networks: {}, blockReadBytes: 0, blockWriteBytes: 0 });
    const sample = () => (record.State.Running ? sampleUsage(record.State.Pid) : zero());
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const stream = ctx.query.bool('stream', true);
    let previous: UsageSample | undefined;
    if (!stream) {
      if (!ctx.query.bool('one-shot')) {
        previous = sample();
        await new Promise((r) => setTimeout(r, 200));
      }
      res.end(JSON.stringify(statsJson(record.Id, name, sample(), previous, limit)) + '\n');
      return;
    }
    res.flushHeaders();
    let closed = false;
    res.on('close', () => { closed = true; });
    while (!closed) {
      const current = sample();
      res.write(JSON.stringify(statsJson(record.Id, name, current, previous, limit)) + '\n');
      previous = current;
      if (!record.State.Running && record.State.Status !== 'restarting') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    res.end();
  });

  router.add('POST', '/containers/{id}/update', async (ctx) => {
    const body = (await readJsonBody<Record<string, unknown> | null>(ctx.req)) ?? {};
    await ctx.engine.containers.update(ctx.params.id!, body);
    const warning = ctx.engine.containers.limitsWarning(body);
    sendJson(ctx.res!, 200, { Warnings: warning ? [warning] : [] });
  });

  router.add('POST', '/containers/{id}/pause', async (ctx) => {
    await ctx.engine.containers.pause(ctx.params.id!);
    ctx.res!.writeHead(204).end();
  });
  router.add('POST', '/containers/{id}/unpause', async (ctx) => {
    await ctx.engine.containers.unpause(ctx.params.id!);
    ctx.res!.writeHead(204).end();
  });

  router.add('POST', '/containers/{id}/exec', async (ctx) => {
    const body = await readJsonBody<Parameters<typeof ctx.engine.containers.execCreate>[1]>(ctx.req);
    const exec = ctx.engine.containers.execCreate(ctx.params.id!, body);
    sendJson(ctx.res!, 201, { Id: exec.ID });
  });

  router.add('POST', '/exec/{id}/start', async (ctx) => {
    const body = await readJsonBody<{ Detach?: boolean; Tty?: boolean }>(ctx.req);
    const exec = ctx.engine.containers.getExec(ctx.params.id!);
    if (body.Detach) {
      await ctx.engine.containers.execStart(exec.ID, undefined, body.Tty);
      if (ctx.upgrade) ctx.upgrade.socket.end('HTTP/1.1 204 No Content\r\n\r\n');
      else ctx.res!.writeHead(204).end();
      return;
    }
    let handle: Awaited<ReturnType<typeof ctx.engine.containers.execStart>> | undefined;
    const early: Buffer[] = [];
    let earlyEnd = false;
    const stream = new HijackedStream(body.Tty ?? exec.ProcessConfig.tty, commonHeaders(roostVersion), ctx.req, ctx.res, ctx.upgrade,
      (data) => { if (!exec.OpenStdin) return; if (handle) handle.writeStdin(data); else early.push(data); },
      () => { if (!exec.OpenStdin) return; if (handle) handle.closeStdin(); else earlyEnd = true; });
    try {
      handle = await ctx.engine.containers.execStart(exec.ID, stream.session(exec.OpenStdout, exec.OpenStderr), body.Tty);
    } catch (err) {
      stream.write(2, Buffer.from(`${(err as Error).message}\n`));
      stream.end();
      return;
    }
    for (const data of early) handle.writeStdin(data);
    if (earlyEnd) handle.closeStdin();
  });

  router.add('GET', '/exec/{id}/json', async (ctx) => {
    const exec = ctx.engine.containers.getExec(ctx.params.id!);
    sendJson(ctx.res!, 200, {
      ID: exec.ID, ContainerID: exec.ContainerID, Running: exec.Running, ExitCode: exec.ExitCode, Pid: exec.Pid,
      OpenStdin: exec.OpenStdin, OpenStdout: exec.OpenStdout, OpenStderr: exec.OpenStderr, ProcessConfig: exec.ProcessConfig,
      CanRemove: false, DetachKeys: exec.detachKeys ?? '',
    });
  });

  router.add('POST', '/exec/{id}/resize', async (ctx) => {
    ctx.engine.containers.execResize(ctx.params.id!, ctx.query.int('h') ?? 24, ctx.query.int('w') ?? 80);
    ctx.res!.writeHead(200).end();
  });
}
