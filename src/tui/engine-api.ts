/**
 * The engine as the dashboard sees it: typed calls over the same API client the CLI uses. Each action
 * also names the `roost` command that does the same, for the dashboard's command log.
 */
import type { IncomingMessage } from 'node:http';
import { ApiClient, Demuxer } from '../api/client.js';
import { pumpTerminal, type TerminalIo } from './handover.js';
import type { ContainerSummary, DiskUsage, EngineEvent, EngineInfo, ImageSummary, NetworkSummary, PullProgress, StatsSample, VolumeSummary } from './types.js';

export interface Action { command: string; run(): Promise<unknown> }

export class EngineApi {
  constructor(readonly client: ApiClient) {}

  containers(): Promise<ContainerSummary[]> { return this.client.json('/containers/json', { query: { all: true } }); }
  images(): Promise<ImageSummary[]> { return this.client.json('/images/json'); }
  async volumes(): Promise<VolumeSummary[]> { return (await this.client.json<{ Volumes: VolumeSummary[] | null }>('/volumes')).Volumes ?? []; }
  networks(): Promise<NetworkSummary[]> { return this.client.json('/networks'); }
  info(): Promise<EngineInfo> { return this.client.json('/info'); }
  disk(): Promise<DiskUsage> { return this.client.json('/system/df'); }
  ping(): Promise<number> { return this.client.request('/_ping').then((res) => { res.resume(); return res.statusCode ?? 0; }); }

  inspect(kind: 'containers' | 'images' | 'volumes' | 'networks', id: string): Promise<Record<string, unknown>> {
    const path = kind === 'containers' ? `/containers/${encodeURIComponent(id)}/json`
      : kind === 'images' ? `/images/${encodeURIComponent(id)}/json`
        : `/${kind}/${encodeURIComponent(id)}`;
    return this.client.json(path);
  }

  top(id: string): Promise<{ Titles: string[]; Processes: string[][] }> { return this.client.json(`/containers/${encodeURIComponent(id)}/top`); }
  changes(id: string): Promise<{ Path: string; Kind: number }[] | null> { return this.client.json(`/containers/${encodeURIComponent(id)}/changes`); }
  stats(id: string): Promise<StatsSample> { return this.client.json(`/containers/${encodeURIComponent(id)}/stats`, { query: { stream: false, 'one-shot': true } }); }

  /** The engine's event stream; ends (or throws) when the engine goes away. */
  events(signal: AbortSignal, since?: number): AsyncGenerator<EngineEvent> {
    return this.client.jsonLines<EngineEvent>('/events', { query: { since }, signal });
  }

  /** A container's log, as (stream, text) chunks; `follow` keeps it open. */
  async logs(id: string, opts: { follow: boolean; timestamps: boolean; since?: number; tail?: number }, signal: AbortSignal, onChunk: (stream: 'stdout' | 'stderr', text: string) => void): Promise<void> {
    const res = await this.client.request(`/containers/${encodeURIComponent(id)}/logs`, {
      method: 'GET', query: { stdout: true, stderr: true, follow: opts.follow, timestamps: opts.timestamps, since: opts.since, tail: opts.tail ?? 'all' },
    });
    const multiplexed = String(res.headers['content-type'] ?? '').includes('multiplexed');
    const demux = new Demuxer((stream, data) => onChunk(stream === 2 ? 'stderr' : 'stdout', data.toString('utf8')));
    await consume(res, signal, (chunk) => (multiplexed ? demux.push(chunk) : onChunk('stdout', chunk.toString('utf8'))));
  }

  /** Runs `cmd` in the container with the terminal (as `roost exec -it`); resolves with its exit code. */
  async execInteractive(id: string, cmd: string[], io: TerminalIo): Promise<number> {
    const created = await this.client.json<{ Id: string }>(`/containers/${encodeURIComponent(id)}/exec`, {
      method: 'POST',
      body: { Cmd: cmd, Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true, Env: [`TERM=${process.env.TERM || 'xterm'}`] },
    });
    const socket = await this.client.hijack(`/exec/${created.Id}/start`, { body: { Detach: false, Tty: true } });
    await pumpTerminal(socket, io, {
      tty: true, stdin: true,
      onResize: (h, w) => void this.client.call(`/exec/${created.Id}/resize`, { query: { h, w } }).catch(() => {}),
    });
    const inspect = await this.client.json<{ ExitCode: number | null }>(`/exec/${created.Id}/json`);
    return inspect.ExitCode ?? 126;
  }

  /** Attaches the terminal to the container (as `roost attach`) until it ends or Ctrl-P Ctrl-Q detaches. */
  async attachInteractive(id: string, io: TerminalIo): Promise<void> {
    const info = await this.client.json<{ Id: string; Config: { Tty: boolean; OpenStdin: boolean } }>(`/containers/${encodeURIComponent(id)}/json`);
    const socket = await this.client.hijack(`/containers/${info.Id}/attach`, { query: { stream: true, stdin: info.Config.OpenStdin, stdout: true, stderr: true } });
    await pumpTerminal(socket, io, {
      tty: info.Config.Tty, stdin: info.Config.OpenStdin,
      onResize: (h, w) => void this.client.call(`/containers/${info.Id}/resize`, { query: { h, w } }).catch(() => {}),
    });
  }

  // ------------------------------------------------------------------------------------------ actions

  private post(command: string, path: string, query?: Record<string, string | number | boolean | undefined>): Action {
    return { command, run: () => this.client.call(path, { query }) };
  }

  start(id: string, name: string): Action { return this.post(`roost start ${name}`, `/containers/${encodeURIComponent(id)}/start`); }
  stop(id: string, name: string): Action { return this.post(`roost stop ${name}`, `/containers/${encodeURIComponent(id)}/stop`); }
  restart(id: string, name: string): Action { return this.post(`roost restart ${name}`, `/containers/${encodeURIComponent(id)}/restart`); }
  pause(id: string, name: string): Action { return this.post(`roost pause ${name}`, `/containers/${encodeURIComponent(id)}/pause`); }
  unpause(id: string, name: string): Action { return this.post(`roost unpause ${name}`, `/containers/${encodeURIComponent(id)}/unpause`); }
  kill(id: string, name: string, signal: string): Action { return this.post(`roost kill --signal ${signal} ${name}`, `/containers/${encodeURIComponent(id)}/kill`, { signal }); }

  removeContainer(id: string, name: string): Action {
    return { command: `roost rm -f ${name}`, run: () => this.client.call(`/containers/${encodeURIComponent(id)}`, { method: 'DELETE', query: { force: true } }) };
  }
  removeImage(ref: string): Action {
    return { command: `roost rmi ${ref}`, run: () => this.client.call(`/images/${encodeURIComponent(ref)}`, { method: 'DELETE' }) };
  }
  removeVolume(name: string): Action {
    return { command: `roost volume rm ${name}`, run: () => this.client.call(`/volumes/${encodeURIComponent(name)}`, { method: 'DELETE' }) };
  }
  removeNetwork(name: string): Action {
    return { command: `roost network rm ${name}`, run: () => this.client.call(`/networks/${encodeURIComponent(name)}`, { method: 'DELETE' }) };
  }
  prune(kind: 'containers' | 'images' | 'volumes' | 'networks'): Action {
    const noun = { containers: 'container', images: 'image', volumes: 'volume', networks: 'network' }[kind];
    return { command: `roost ${noun} prune -f`, run: () => this.client.json(`/${kind}/prune`, { method: 'POST' }) };
  }

  /** Pulls an image, reporting each progress line; resolves when the engine is done. */
  pull(ref: string, onProgress: (p: PullProgress) => void): Action {
    return {
      command: `roost pull ${ref}`,
      run: async () => {
        const [fromImage, tag] = splitTag(ref);
        for await (const line of this.client.jsonLines<PullProgress>('/images/create', { method: 'POST', query: { fromImage, tag } })) {
          if (line.error || line.errorDetail?.message) throw new Error(line.errorDetail?.message ?? line.error);
          onProgress(line);
        }
      },
    };
  }
}

function splitTag(ref: string): [string, string | undefined] {
  if (ref.includes('@')) return [ref, undefined];
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
}

async function consume(res: IncomingMessage, signal: AbortSignal, onChunk: (chunk: Buffer) => void): Promise<void> {
  if (signal.aborted) { res.destroy(); return; }
  signal.addEventListener('abort', () => res.destroy(), { once: true });
  try {
    for await (const chunk of res) onChunk(chunk as Buffer);
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}
