import type http from 'node:http';
import { EngineError, invalid } from '../util/errors.js';

export const apiVersion = '1.44';
export const minApiVersion = '1.24';

export function commonHeaders(serverVersion: string): Record<string, string> {
  return { 'Api-Version': apiVersion, Ostype: 'linux', Server: `Roost/${serverVersion}`, 'Docker-Experimental': 'false' };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: http.ServerResponse, err: EngineError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err.code === 'not_modified') {
    res.writeHead(304);
    res.end();
    return;
  }
  sendJson(res, err.httpStatus, { message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
}

export async function readBody(req: http.IncomingMessage, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw invalid('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readJsonBody<T>(req: http.IncomingMessage): Promise<T> {
  const upgradeBody = (req as http.IncomingMessage & { upgradeBody?: Buffer }).upgradeBody;
  const body = upgradeBody ?? (await readBody(req));
  if (body.length === 0) return {} as T;
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw invalid('invalid JSON in request body');
  }
}

export class Query {
  constructor(private readonly params: URLSearchParams) {}
  string(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }
  all(name: string): string[] {
    return this.params.getAll(name);
  }
  bool(name: string, fallback = false): boolean {
    const value = this.params.get(name);
    if (value === null) return fallback;
    return value === '1' || value === 'true' || value === 'True' || value === '';
  }
  int(name: string): number | undefined {
    const value = this.params.get(name);
    if (value === null || value === '') return undefined;
    const n = Number(value);
    if (!Number.isFinite(n)) throw invalid(`invalid value for ${name}: ${value}`);
    return Math.trunc(n);
  }
  /** Docker filters: a JSON map of lists, or the legacy map of {value: true}. */
  filters(): Record<string, string[]> {
    const raw = this.params.get('filters');
    if (!raw) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw invalid('invalid filter: filters must be JSON');
    }
    const out: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (Array.isArray(value)) out[key] = value.map(String);
      else if (value && typeof value === 'object') out[key] = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k]);
      else throw invalid(`invalid filter ${key}`);
    }
    return out;
  }
}

/** Docker's stream framing for non-TTY output: [stream, 0, 0, 0, size BE32] + payload. */
export function muxFrame(stream: number, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

/**
 * A stream of Docker's JSON progress messages (pull, push, build). The 200 status is sent with the first
 * message, so an error before any progress is still a plain HTTP error; after that an error becomes the
 * last message (`errorDetail`), as the docker CLI expects.
 */
export class JsonProgress {
  constructor(private readonly res: http.ServerResponse) {}

  send(message: object): void {
    if (!this.res.headersSent) this.res.writeHead(200, { 'Content-Type': 'application/json' });
    this.res.write(`${JSON.stringify(message)}\r\n`);
  }

  /** Runs `work`; its error goes into the stream once streaming started, else up to the router. */
  async run(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (!this.res.headersSent) throw err;
      const message = err instanceof Error ? err.message : String(err);
      const hint = err instanceof EngineError && err.hint ? `\nhint: ${err.hint}` : '';
      this.send({ errorDetail: { message: `${message}${hint}` }, error: `${message}${hint}` });
    }
    if (!this.res.headersSent) this.res.writeHead(200, { 'Content-Type': 'application/json' });
    this.res.end();
  }
}

/** Docker's X-Registry-Auth header: base64url JSON of {username, password, serveraddress} or an identity token. */
export function registryAuth(header: string | string[] | undefined): { username?: string; password?: string; identitytoken?: string; registrytoken?: string; serveraddress?: string } | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, string>;
    if (!parsed || typeof parsed !== 'object') return undefined;
    const auth = { username: parsed.username, password: parsed.password, identitytoken: parsed.identitytoken, registrytoken: parsed.registrytoken, serveraddress: parsed.serveraddress };
    return auth.username || auth.identitytoken || auth.registrytoken ? auth : undefined;
  } catch {
    throw invalid('X-Registry-Auth is not base64-encoded JSON');
  }
}
