import type { ApiClient } from '../../api/client.js';
import { Demuxer } from '../../api/client.js';
import { EngineError, invalid } from '../../util/errors.js';
import type { FlagSpec } from '../args.js';
import { graceDelay, pipeTerminal } from '../attach-io.js';
import { formatFlag, type Command } from '../command.js';
import { buildCreateBody, createFlags, resourceFlags, resourcesFromFlags } from '../create-options.js';
import { parseRestartFlag } from '../../engine/restart-policy.js';
import { pullImage } from './registry.js';
import { familiar } from '../../image/reference.js';
import { parseFilterFlags } from '../filters.js';
import { formatOne, formatRows } from '../format.js';
import { forEachName } from '../each-name.js';

/** Docker CLI's mapping of a failed start to 126/127. */
function startFailure(err: unknown): never {
  if (err instanceof EngineError) {
    if (/executable file not found|no such file or directory|not found/i.test(err.message) && /exec|executable|stat|start/i.test(err.message)) {
      throw new EngineError(err.code, err.message, { exitCode: 127, hint: err.hint });
    }
    if (/permission denied/i.test(err.message)) throw new EngineError(err.code, err.message, { exitCode: 126, hint: err.hint });
  }
  throw err;
}

/**
 * Creates the container, pulling its image first as Docker does: with --pull always, or when the engine
 * does not have it (missing, the default); --pull never only reports it missing. Pull progress goes to
 * stderr so that a detached run's stdout is only the container ID.
 */
async function createContainer(client: ApiClient, args: Parameters<typeof buildCreateBody>[0]): Promise<{ id: string; body: Record<string, unknown> }> {
  const { name, body } = buildCreateBody(args);
  const image = body.Image as string;
  const policy = (args.flags.pull as string | undefined) ?? 'missing';
  const create = () => client.json<{ Id: string; Warnings?: string[] }>('/containers/create', { method: 'POST', query: { name }, body });
  if (policy === 'always') await pullImage(client, image, { out: process.stderr });
  let created: { Id: string; Warnings?: string[] };
  try {
    created = await create();
  } catch (err) {
    if (!(err instanceof EngineError) || err.code !== 'not_found' || !/^No such image/.test(err.message) || policy !== 'missing') throw err;
    process.stderr.write(`Unable to find image '${familiar(image)}' locally\n`);
    await pullImage(client, image, { out: process.stderr });
    created = await create();
  }
  for (const warning of created.Warnings ?? []) process.stderr.write(`WARNING: ${warning}\n`);
  return { id: created.Id, body };
}

const run: Command = {
  name: 'run', synopsis: '[OPTIONS] IMAGE [COMMAND] [ARG...]', description: 'Create and run a new container from an image',
  flags: [...createFlags, { name: 'detach', short: 'd', type: 'bool', help: 'Run container in background and print container ID' }],
  stopAtPositional: true, minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    const f = ctx.args.flags;
    const detach = Boolean(f.detach);
    const { id, body } = await createContainer(client, ctx.args);
    if (detach) {
      await client.call(`/containers/${id}/start`).catch(startFailure);
      process.stdout.write(`${id}\n`);
      return 0;
    }
    const tty = Boolean(body.Tty);
    const interactive = Boolean(body.OpenStdin);
    const socket = await client.hijack(`/containers/${id}/attach`, { query: { stream: true, stdin: interactive, stdout: true, stderr: true, detachKeys: f['detach-keys'] as string | undefined } });
    const waited = client.json<{ StatusCode: number }>(`/containers/${id}/wait`, { method: 'POST', query: { condition: f.rm ? 'removed' : 'next-exit' } });
    waited.catch(() => {});
    const io = pipeTerminal(socket, {
      tty, stdin: interactive,
      onResize: (rows, cols) => void client.call(`/containers/${id}/resize`, { query: { h: rows, w: cols } }).catch(() => {}),
    });
    // Docker's sig-proxy: without a TTY, signals sent to the CLI go to the container (with one, the terminal
    // is raw and Ctrl-C travels as a byte).
    const stopProxy = tty ? () => {} : proxySignals(client, id);
    try {
      await client.call(`/containers/${id}/start`);
    } catch (err) {
      stopProxy();
      io.restore();
      socket.destroy();
      if (f.rm) await client.call(`/containers/${id}`, { method: 'DELETE', query: { force: true } }).catch(() => {});
      startFailure(err);
    }
    const ended = await Promise.race([waited.then((r) => ({ exited: r.StatusCode })), io.done.then(() => ({ streamEnded: true }))]);
    if ('streamEnded' in ended && !(await settlesSoon(waited))) {
      // The stream ended while the container runs on: the user typed the detach keys.
      stopProxy();
      io.restore();
      socket.destroy();
      process.stderr.write(`\nread escape sequence\n`);
      return 0;
    }
    const { StatusCode } = await waited;
    stopProxy();
    await Promise.race([io.done, graceDelay(2000)]);
    io.restore();
    socket.destroy();
    return StatusCode;
  },
};

/** Whether a promise settles within a short grace period (an exit whose wait answer is on its way). */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  return Promise.race([promise.then(() => true, () => true), graceDelay(1500).then(() => false)]);
}

const proxiedSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Forwards the CLI's signals to the container; returns the function that stops forwarding. */
function proxySignals(client: ApiClient, id: string): () => void {
  const forward = (signal: NodeJS.Signals) => void client.call(`/containers/${id}/kill`, { query: { signal } }).catch(() => {});
  for (const signal of proxiedSignals) process.on(signal, forward);
  return () => { for (const signal of proxiedSignals) process.off(signal, forward); };
}

const create: Command = {
  name: 'create', synopsis: '[OPTIONS] IMAGE [COMMAND] [ARG...]', description: 'Create a new container',
  flags: createFlags, stopAtPositional: true, minArgs: 1,
  async run(ctx) {
    const { id } = await createContainer(await ctx.client(), ctx.args);
    process.stdout.write(`${id}\n`);
    return 0;
  },
};

const start: Command = {
  name: 'start', synopsis: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Start one or more stopped containers',
  flags: [
    { name: 'attach', short: 'a', type: 'bool', help: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'interactive', short: 'i', type: 'bool', help: "Attach container's STDIN" },
  ],
  minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    if (ctx.args.flags.attach) {
      const id = ctx.args.positionals[0]!;
      const info = await client.json<{ Id: string; Config: { Tty: boolean } }>(`/containers/${encodeURIComponent(id)}/json`);
      const interactive = Boolean(ctx.args.flags.interactive);
      const socket = await client.hijack(`/containers/${info.Id}/attach`, { query: { stream: true, stdin: interactive, stdout: true, stderr: true } });
      const waited = client.json<{ StatusCode: number }>(`/containers/${info.Id}/wait`, { method: 'POST', query: { condition: 'next-exit' } });
      waited.catch(() => {});
      const io = pipeTerminal(socket, { tty: info.Config.Tty, stdin: interactive });
      await client.call(`/containers/${info.Id}/start`).catch(startFailure);
      const { StatusCode } = await waited;
      await Promise.race([io.done, graceDelay(2000)]);
      io.restore();
      socket.destroy();
      return StatusCode;
    }
    return forEachName(ctx.args.positionals, async (id) => {
      await client.call(`/containers/${encodeURIComponent(id)}/start`).catch((err) => {
        if (err instanceof EngineError && err.code === 'not_modified') return;
        startFailure(err);
      });
      process.stdout.write(`${id}\n`);
    });
  },
};

const timeFlag: FlagSpec = { name: 'time', short: 't', type: 'int', aliases: ['timeout'], help: 'Seconds to wait before killing the container' };

const stop: Command = {
  name: 'stop', synopsis: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Stop one or more running containers',
  flags: [timeFlag, { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container' }], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (id) => {
      await client.call(`/containers/${encodeURIComponent(id)}/stop`, { query: { t: ctx.args.flags.time as number | undefined, signal: ctx.args.flags.signal as string | undefined } });
      process.stdout.write(`${id}\n`);
    });
  },
};

const restart: Command = {
  name: 'restart', synopsis: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Restart one or more containers',
  flags: [timeFlag], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (id) => {
      await client.call(`/containers/${encodeURIComponent(id)}/restart`, { query: { t: ctx.args.flags.time as number | undefined } });
      process.stdout.write(`${id}\n`);
    });
  },
};

const kill: Command = {
  name: 'kill', synopsis: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Kill one or more running containers',
  flags: [{ name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container' }], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (id) => {
      await client.call(`/containers/${encodeURIComponent(id)}/kill`, { query: { signal: (ctx.args.flags.signal as string | undefined) ?? 'KILL' } });
      process.stdout.write(`${id}\n`);
    });
  },
};

const rm: Command = {
  name: 'rm', synopsis: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Remove one or more containers',
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'volumes', short: 'v', type: 'bool', help: 'Remove anonymous volumes associated with the container' },
  ],
  minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (id) => {
      await client.call(`/containers/${encodeURIComponent(id)}`, { method: 'DELETE', query: { force: Boolean(ctx.args.flags.force), v: Boolean(ctx.args.flags.volumes) } });
      process.stdout.write(`${id}\n`);
    });
  },
};

const wait: Command = {
  name: 'wait', synopsis: 'CONTAINER [CONTAINER...]', description: 'Block until one or more containers stop, then print their exit codes',
  flags: [], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (id) => {
      const result = await client.json<{ StatusCode: number }>(`/containers/${encodeURIComponent(id)}/wait`, { method: 'POST' });
      process.stdout.write(`${result.StatusCode}\n`);
    });
  },
};

const rename: Command = {
  name: 'rename', synopsis: 'CONTAINER NEW_NAME', description: 'Rename a container', flags: [], minArgs: 2, maxArgs: 2,
  async run(ctx) {
    const [id, name] = ctx.args.positionals as [string, string];
    await (await ctx.client()).call(`/containers/${encodeURIComponent(id)}/rename`, { query: { name } });
    return 0;
  },
};

const port: Command = {
  name: 'port', synopsis: 'CONTAINER [PRIVATE_PORT[/PROTO]]', description: 'List port mappings or a specific mapping for the container',
  flags: [], minArgs: 1, maxArgs: 2,
  async run(ctx) {
    const [name, wanted] = ctx.args.positionals as [string, string | undefined];
    if (wanted !== undefined && !/^\d+(\/(tcp|udp|sctp))?$/.test(wanted)) throw invalid(`invalid port ${JSON.stringify(wanted)}: use PORT or PORT/PROTO`);
    const info = await (await ctx.client()).json<{ NetworkSettings?: { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> } }>(`/containers/${encodeURIComponent(name)}/json`);
    const published = Object.entries(info.NetworkSettings?.Ports ?? {})
      .filter((entry): entry is [string, Array<{ HostIp: string; HostPort: string }>] => Array.isArray(entry[1]) && entry[1].length > 0)
      .sort(([a], [b]) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b));
    if (wanted === undefined) {
      process.stdout.write(published.flatMap(([key, list]) => list.map((b) => `${key} -> ${hostAddress(b.HostIp, b.HostPort)}\n`)).join(''));
      return 0;
    }
    const key = wanted.includes('/') ? wanted : `${wanted}/tcp`;
    const list = published.find(([k]) => k === key)?.[1];
    if (!list) throw new EngineError('not_found', `no public port '${key}' published for ${name}`);
    process.stdout.write(list.map((b) => `${hostAddress(b.HostIp, b.HostPort)}\n`).join(''));
    return 0;
  },
};

const update: Command = {
  name: 'update', synopsis: '[OPTIONS] CONTAINER [CONTAINER...]', description: 'Update configuration of one or more containers',
  flags: [{ name: 'restart', type: 'string', help: 'Restart policy to apply when a container exits' }, ...resourceFlags], minArgs: 1,
  async run(ctx) {
    const f = ctx.args.flags;
    const body: Record<string, unknown> = { ...resourcesFromFlags(f) };
    if (f.restart !== undefined) body.RestartPolicy = parseRestartFlag(f.restart as string);
    if (Object.values(body).every((v) => v === undefined)) throw invalid('you must provide one or more flags when using this command');
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (id) => {
      const result = await client.json<{ Warnings?: string[] }>(`/containers/${encodeURIComponent(id)}/update`, { method: 'POST', body });
      for (const warning of result.Warnings ?? []) process.stderr.write(`WARNING: ${warning}\n`);
      process.stdout.write(`${id}\n`);
    });
  },
};

const psHeaders = { ID: 'CONTAINER ID', Names: 'NAMES', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Status: 'STATUS', Ports: 'PORTS', State: 'STATE', Labels: 'LABELS' };

interface ContainerSummary {
  Id: string; Names: string[]; Image: string; Command: string; Created: number; Status: string; State: string;
  Labels: Record<string, string>; Ports: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }>;
}

/** A published port's host side as Docker prints it: `0.0.0.0:8080`, `[::]:8080`. */
function hostAddress(ip: string | undefined, port: string | number): string {
  return `${ip?.includes(':') ? `[${ip}]` : ip || '0.0.0.0'}:${port}`;
}

function portsText(ports: ContainerSummary['Ports']): string {
  return ports.map((p) => (p.PublicPort ? `${hostAddress(p.IP, p.PublicPort)}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`)).join(', ');
}

function since(seconds: number): string {
  const delta = Math.max(0, Date.now() / 1000 - seconds);
  if (delta < 60) return `${Math.round(delta)} seconds ago`;
  if (delta < 3600) return `${Math.round(delta / 60)} minutes ago`;
  if (delta < 172800) return `${Math.round(delta / 3600)} hours ago`;
  return `${Math.round(delta / 86400)} days ago`;
}

const ps: Command = {
  name: 'ps', synopsis: '[OPTIONS]', description: 'List containers',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display container IDs' },
    { name: 'latest', short: 'l', type: 'bool', help: 'Show the latest created container (includes all states)' },
    { name: 'last', short: 'n', type: 'int', help: 'Show n last created containers (includes all states)' },
    { name: 'filter', short: 'f', type: 'list', help: 'Filter output based on conditions provided' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    formatFlag,
  ],
  maxArgs: 0,
  async run(ctx) {
    const f = ctx.args.flags;
    const filters = parseFilterFlags(f.filter as string[] | undefined);
    const limit = f.latest ? 1 : (f.last as number | undefined);
    const rows = await (await ctx.client()).json<ContainerSummary[]>('/containers/json', {
      query: { all: Boolean(f.all) || limit !== undefined, limit, filters: JSON.stringify(filters) },
    });
    const noTrunc = Boolean(f['no-trunc']);
    if (f.quiet) {
      process.stdout.write(rows.map((r) => `${noTrunc ? r.Id : r.Id.slice(0, 12)}\n`).join(''));
      return 0;
    }
    const view = rows.map((r) => ({
      ID: noTrunc ? r.Id : r.Id.slice(0, 12),
      Names: r.Names.map((n) => n.replace(/^\//, '')).join(','),
      Image: r.Image,
      Command: noTrunc ? JSON.stringify(r.Command) : JSON.stringify(r.Command.length > 20 ? `${r.Command.slice(0, 19)}…` : r.Command),
      CreatedAt: new Date(r.Created * 1000).toISOString(),
      RunningFor: since(r.Created),
      Status: r.Status,
      State: r.State,
      Ports: portsText(r.Ports),
      Labels: Object.entries(r.Labels).map(([k, v]) => `${k}=${v}`).join(','),
    }));
    process.stdout.write(formatRows(f.format as string | undefined, view, {
      defaultTable: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}',
      headers: psHeaders, minWidth: 10,
    }));
    return 0;
  },
};

const logs: Command = {
  name: 'logs', synopsis: '[OPTIONS] CONTAINER', description: 'Fetch the logs of a container',
  flags: [
    { name: 'follow', short: 'f', type: 'bool', help: 'Follow log output' },
    { name: 'tail', short: 'n', type: 'string', help: 'Number of lines to show from the end of the logs (default "all")' },
    { name: 'since', type: 'string', help: 'Show logs since timestamp or relative (e.g. 42m)' },
    { name: 'until', type: 'string', help: 'Show logs before a timestamp or relative (e.g. 42m)' },
    { name: 'timestamps', short: 't', type: 'bool', help: 'Show timestamps' },
    { name: 'details', type: 'bool', help: 'Show extra details provided to logs' },
  ],
  minArgs: 1, maxArgs: 1,
  async run(ctx) {
    const f = ctx.args.flags;
    const client = await ctx.client();
    const id = ctx.args.positionals[0]!;
    const info = await client.json<{ Config: { Tty: boolean } }>(`/containers/${encodeURIComponent(id)}/json`);
    const res = await client.request(`/containers/${encodeURIComponent(id)}/logs`, {
      query: { stdout: true, stderr: true, follow: Boolean(f.follow), tail: f.tail as string | undefined, timestamps: Boolean(f.timestamps), since: relativeTime(f.since as string | undefined), until: relativeTime(f.until as string | undefined) },
    });
    const demux = new Demuxer((stream, data) => (stream === 2 ? process.stderr : process.stdout).write(data));
    for await (const chunk of res) {
      if (info.Config.Tty) process.stdout.write(chunk as Buffer);
      else demux.push(chunk as Buffer);
    }
    return 0;
  },
};

/** `42m`, `10s`, `2h` → unix seconds; RFC 3339 and unix timestamps pass through. */
export function relativeTime(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) {
    if (/^\d+(\.\d+)?$/.test(text) || !Number.isNaN(Date.parse(text))) return text;
    throw invalid(`invalid time format: ${text}`);
  }
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return String(Date.now() / 1000 - Number(m[1]) * factor);
}

const exec: Command = {
  name: 'exec', synopsis: '[OPTIONS] CONTAINER COMMAND [ARG...]', description: 'Execute a command in a running container',
  flags: [
    { name: 'detach', short: 'd', type: 'bool', help: 'Detached mode: run command in the background' },
    { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
    { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
    { name: 'env', short: 'e', type: 'list', help: 'Set environment variables' },
    { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container' },
    { name: 'user', short: 'u', type: 'string', help: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
  ],
  stopAtPositional: true, minArgs: 2,
  async run(ctx) {
    const f = ctx.args.flags;
    const [id, ...cmd] = ctx.args.positionals as [string, ...string[]];
    const client = await ctx.client();
    const tty = Boolean(f.tty);
    const interactive = Boolean(f.interactive);
    const created = await client.json<{ Id: string }>(`/containers/${encodeURIComponent(id)}/exec`, {
      method: 'POST',
      body: { Cmd: cmd, Env: f.env ?? [], WorkingDir: f.workdir, User: f.user, Tty: tty, AttachStdin: interactive, AttachStdout: !f.detach, AttachStderr: !f.detach },
    });
    if (f.detach) {
      await client.call(`/exec/${created.Id}/start`, { body: { Detach: true, Tty: tty } });
      return 0;
    }
    const socket = await client.hijack(`/exec/${created.Id}/start`, { body: { Detach: false, Tty: tty } });
    const io = pipeTerminal(socket, {
      tty, stdin: interactive,
      onResize: (rows, cols) => void client.call(`/exec/${created.Id}/resize`, { query: { h: rows, w: cols } }).catch(() => {}),
    });
    await io.done;
    io.restore();
    const inspect = await client.json<{ ExitCode: number | null; Running: boolean }>(`/exec/${created.Id}/json`);
    return inspect.ExitCode ?? 126;
  },
};

const attach: Command = {
  name: 'attach', synopsis: '[OPTIONS] CONTAINER', description: "Attach local standard input, output, and error streams to a running container",
  flags: [
    { name: 'no-stdin', type: 'bool', help: 'Do not attach STDIN' },
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container (default ctrl-p,ctrl-q)' },
  ],
  minArgs: 1, maxArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    const info = await client.json<{ Id: string; Config: { Tty: boolean; OpenStdin: boolean }; State: { Running: boolean } }>(`/containers/${encodeURIComponent(ctx.args.positionals[0]!)}/json`);
    if (!info.State.Running) throw new EngineError('conflict', 'You cannot attach to a stopped container, start it first');
    const stdin = info.Config.OpenStdin && !ctx.args.flags['no-stdin'];
    const socket = await client.hijack(`/containers/${info.Id}/attach`, { query: { stream: true, stdin, stdout: true, stderr: true, detachKeys: ctx.args.flags['detach-keys'] as string | undefined } });
    const waited = client.json<{ StatusCode: number }>(`/containers/${info.Id}/wait`, { method: 'POST' });
    waited.catch(() => {});
    const io = pipeTerminal(socket, { tty: info.Config.Tty, stdin });
    await Promise.race([waited, io.done]);
    if (!(await settlesSoon(waited))) {
      io.restore();
      socket.destroy();
      process.stderr.write(`\nread escape sequence\n`);
      return 0;
    }
    const { StatusCode } = await waited;
    await Promise.race([io.done, graceDelay(1000)]);
    io.restore();
    socket.destroy();
    return StatusCode;
  },
};

const inspect: Command = {
  name: 'inspect', synopsis: '[OPTIONS] NAME|ID [NAME|ID...]', description: 'Return low-level information on containers or images',
  flags: [{ ...formatFlag, short: 'f' }, { name: 'type', type: 'string', help: 'Return JSON for specified type (container, image)' }], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    const type = ctx.args.flags.type as string | undefined;
    const results: unknown[] = [];
    let failed = false;
    for (const name of ctx.args.positionals) {
      const found = await inspectOne(client, name, type);
      if (found === undefined) {
        failed = true;
        process.stderr.write(`Error: No such object: ${name}\n`);
      } else results.push(found);
    }
    const format = ctx.args.flags.format as string | undefined;
    if (format) process.stdout.write(results.map((r) => formatOne(format, r)).join(''));
    else process.stdout.write(`${JSON.stringify(results, null, 4)}\n`);
    return failed ? 1 : 0;
  },
};

async function inspectOne(client: ApiClient, name: string, type: string | undefined): Promise<unknown> {
  const attempts = type === 'image' ? ['image'] : type === 'container' ? ['container'] : ['container', 'image'];
  for (const kind of attempts) {
    try {
      return await client.json(kind === 'container' ? `/containers/${encodeURIComponent(name)}/json` : `/images/${encodeURIComponent(name)}/json`);
    } catch (err) {
      if (!(err instanceof EngineError) || err.code !== 'not_found') throw err;
    }
  }
  return undefined;
}

const prune: Command = {
  name: 'container prune', synopsis: '[OPTIONS]', description: 'Remove all stopped containers',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' }], maxArgs: 0,
  async run(ctx) {
    const result = await (await ctx.client()).json<{ ContainersDeleted: string[] | null }>('/containers/prune', { method: 'POST' });
    process.stdout.write(`Deleted Containers:\n${(result.ContainersDeleted ?? []).map((id) => `${id}\n`).join('')}\n`);
    return 0;
  },
};

export const containerCommands: Command[] = [run, create, start, stop, restart, kill, rm, wait, rename, port, update, ps, logs, exec, attach, inspect, prune];
