import http from 'node:http';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { EngineError } from '../util/errors.js';

export interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | boolean | string[] | undefined>;
  body?: unknown;
  /** A stream to send as the body (archives). */
  upload?: Readable;
  contentType?: string;
  headers?: Record<string, string>;
}

function queryString(query: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, v);
    else params.set(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function errorFrom(res: http.IncomingMessage): Promise<EngineError> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let message = text.trim() || `HTTP ${res.statusCode}`;
  let hint: string | undefined;
  try {
    const parsed = JSON.parse(text) as { message?: string; hint?: string };
    if (parsed.message) message = parsed.message;
    hint = parsed.hint;
  } catch { /* not JSON */ }
  return EngineError.fromHttp(res.statusCode ?? 500, message, hint);
}

/**
 * Request options for the unix socket. servername '': the agent would otherwise work one out for TLS
 * (there is none here) by testing the host against Node's IPv6 pattern, whose first use costs ~6 ms of a
 * CLI call.
 */
type UnixRequestOptions = http.RequestOptions & { servername: string };

/** A typed client for Roost's (Docker's) API over the unix socket. The CLI and the TUI use only this. */
export class ApiClient {
  private readonly agent: http.Agent;

  constructor(readonly socketPath: string) {
    this.agent = new http.Agent({ keepAlive: true });
  }

  /** Sends a request; resolves with the response once headers arrive (non-2xx becomes an EngineError). */
  async request(path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    const headers: Record<string, string> = { ...opts.headers };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    } else if (opts.upload) {
      headers['Content-Type'] = opts.contentType ?? 'application/x-tar';
    }
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const options: UnixRequestOptions = { socketPath: this.socketPath, path: `/v1.44${path}${queryString(opts.query)}`, method: opts.method ?? 'GET', headers, agent: this.agent, servername: '' };
      const req = http.request(options, resolve);
      req.on('error', (err) => reject(new EngineError('unavailable', `cannot reach the roost daemon at ${this.socketPath}: ${err.message}`)));
      if (opts.upload) {
        opts.upload.on('error', (err) => req.destroy(err));
        opts.upload.pipe(req);
      } else req.end(payload);
    });
    if ((res.statusCode ?? 500) >= 300 && res.statusCode !== 304) throw await errorFrom(res);
    return res;
  }

  async json<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(path, opts);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async call(path: string, opts: RequestOptions = {}): Promise<number> {
    const res = await this.request(path, { method: 'POST', ...opts });
    res.resume();
    await new Promise((resolve) => res.on('end', resolve));
    return res.statusCode ?? 0;
  }

  /** Newline-delimited JSON stream (load progress, events). */
  async *jsonLines<T>(path: string, opts: RequestOptions & { signal?: AbortSignal } = {}): AsyncGenerator<T> {
    const res = await this.request(path, opts);
    // An aborted stream (a caller that stopped listening) just ends.
    const { signal } = opts;
    signal?.addEventListener('abort', () => res.destroy(), { once: true });
    let buffered = '';
    try {
      for await (const chunk of res) {
        buffered += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) yield JSON.parse(line) as T;
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    if (buffered.trim() && !signal?.aborted) yield JSON.parse(buffered) as T;
  }

  /** Hijacks a connection (attach, exec start) the way the docker CLI does: Upgrade: tcp, then raw bytes both ways. */
  hijack(path: string, opts: { query?: RequestOptions['query']; body?: unknown }): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
      const options: UnixRequestOptions = {
        socketPath: this.socketPath,
        servername: '',
        path: `/v1.44${path}${queryString(opts.query)}`,
        method: 'POST',
        headers: {
          Connection: 'Upgrade', Upgrade: 'tcp',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
        },
      };
      const req = http.request(options);
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        void errorFrom(res).then(reject);
      });
      req.on('error', (err) => reject(new EngineError('unavailable', `cannot reach the roost daemon: ${err.message}`)));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Splits Docker's multiplexed stream into (stream, payload) frames. */
export class Demuxer {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (stream: number, data: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      this.onFrame(this.pending[0]!, this.pending.subarray(8, 8 + size));
      this.pending = this.pending.subarray(8 + size);
    }
  }
}
