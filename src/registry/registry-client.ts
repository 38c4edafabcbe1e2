import type { IncomingMessage } from 'node:http';
import { EngineError } from '../util/errors.js';
import { isRepeatable, type HostTransport, type RawResponse, type SendOptions } from './transport.js';

/**
 * The Distribution API v2 as a client sees it: anonymous, basic and bearer-token auth (the challenge's
 * realm/service/scope, tokens cached per scope), retries with back-off on 5xx, 429 (Retry-After) and
 * dropped connections for requests that can be repeated, and registry errors turned into one line.
 */

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth refresh token from a previous login (Docker's identitytoken). */
  identitytoken?: string;
  /** A bearer token to send as is. */
  registrytoken?: string;
}

/** Reads a response body into memory, refusing more than `limit` bytes. */
export async function readBody(res: IncomingMessage, limit = 4 * 1024 * 1024, what = 'response'): Promise<Buffer> {
  const declared = Number(res.headers['content-length'] ?? 0);
  if (declared > limit) {
    res.destroy();
    throw new EngineError('invalid_argument', `the registry's ${what} is ${declared} bytes, more than the ${limit} allowed`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.destroy();
      throw new EngineError('invalid_argument', `the registry's ${what} is more than the ${limit} bytes allowed`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** `Bearer realm="...",service="...",scope="..."` → its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^(\w+)\s*(.*)$/.exec(header.trim());
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Transport failures worth another try (a refused connection is not: nothing listens there). */
const retriable = (err: unknown) => ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE'].includes((err as NodeJS.ErrnoException).code ?? '');

export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private useBasic = false;

  constructor(readonly transport: HostTransport, private readonly credentials?: Credentials, private readonly retryDelayMs = 250) {}

  get host(): string {
    return this.transport.host;
  }

  /**
   * Sends a request under an auth `scope` (repository:NAME:pull,push); answers other than `expect`
   * become errors. Requests whose body can be sent again (none, a Buffer, a stream factory) are retried on
   * transient failures.
   */
  async request(target: string, opts: SendOptions & { scope: string; expect?: number[]; what?: string }): Promise<RawResponse> {
    const repeatable = isRepeatable(opts.body);
    let attempt = 0;
    let authTried = false;
    for (;;) {
      attempt += 1;
      let res: RawResponse;
      try {
        res = await this.transport.send(target, { ...opts, headers: { ...opts.headers, ...this.authHeader(opts.scope) } });
      } catch (err) {
        if (repeatable && attempt < 4 && retriable(err)) {
          await sleep(this.retryDelayMs * 2 ** (attempt - 1));
          continue;
        }
        throw err;
      }
      if (res.status === 401 && !authTried) {
        authTried = true;
        res.body.resume();
        await this.authenticate(String(res.headers['www-authenticate'] ?? ''), opts.scope);
        if (!repeatable) throw new EngineError('internal', 'the registry asked for credentials in the middle of an upload; try again');
        attempt -= 1;
        continue;
      }
      if (repeatable && attempt < 4 && (res.status === 429 || res.status >= 500)) {
        const retryAfter = Number(res.headers['retry-after']);
        res.body.resume();
        await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 30) * 1000 : this.retryDelayMs * 2 ** (attempt - 1));
        continue;
      }
      if (opts.expect && !opts.expect.includes(res.status)) throw await this.failure(res, opts.what ?? target);
      return res;
    }
  }

  private authHeader(scope: string): Record<string, string> {
    const token = this.tokens.get(scope) ?? this.tokens.get('*');
    if (token) return { Authorization: `Bearer ${token}` };
    if (this.useBasic && this.credentials?.username) {
      return { Authorization: `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password ?? ''}`).toString('base64')}` };
    }
    return {};
  }

  private async authenticate(header: string, scope: string): Promise<void> {
    const challenge = parseChallenge(header);
    if (challenge.scheme === 'basic') {
      if (!this.credentials?.username) throw this.unauthorized();
      this.useBasic = true;
      return;
    }
    if (challenge.scheme !== 'bearer' || !challenge.params.realm) throw new EngineError('unavailable', `${this.host} asks for an authentication Roost does not know: ${header || '(no challenge)'}`);
    if (this.credentials?.registrytoken) {
      this.tokens.set('*', this.credentials.registrytoken);
      return;
    }
    const url = new URL(challenge.params.realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    if (scope) url.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (this.credentials?.username) headers.Authorization = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password ?? ''}`).toString('base64')}`;
    let res: RawResponse;
    if (this.credentials?.identitytoken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.credentials.identitytoken, service: challenge.params.service ?? '', scope, client_id: 'roost' });
      res = await this.transport.send(`${url.origin}${url.pathname}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()) });
    } else {
      res = await this.transport.send(url.toString(), { headers });
    }
    if (res.status === 401 || res.status === 403) {
      res.body.resume();
      throw this.unauthorized(this.credentials?.username ? 'the user name or password was not accepted' : undefined);
    }
    const body = await readBody(res.body, 1024 * 1024, 'token');
    if (res.status !== 200) throw new EngineError('unavailable', `the token server of ${this.host} answered ${res.status}`);
    let token: string | undefined;
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { token?: string; access_token?: string };
      token = parsed.token ?? parsed.access_token;
    } catch { /* below */ }
    if (!token) throw new EngineError('unavailable', `the token server of ${this.host} sent no token`);
    this.tokens.set(scope, token);
  }

  private unauthorized(detail?: string): EngineError {
    return new EngineError('unavailable', `${this.host}: unauthorized: ${detail ?? 'authentication required'}`, { hint: `roost login ${this.host}` });
  }

  /** The registry's error answer as one line (its own code and message when it sent them). */
  async failure(res: RawResponse, what: string): Promise<EngineError> {
    let detail = '';
    try {
      const body = JSON.parse((await readBody(res.body, 64 * 1024)).toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> };
      detail = (body.errors ?? []).map((e) => `${(e.code ?? '').toLowerCase()}: ${e.message ?? ''}`).join('; ');
    } catch { res.body.resume(); }
    const said = detail ? ` (${detail})` : '';
    switch (res.status) {
      case 401: return this.unauthorized(this.credentials?.username ? 'the user name or password was not accepted' : undefined);
      case 403: return new EngineError('unavailable', `${this.host}: access to ${what} denied${said}`, { hint: `check the name, or roost login ${this.host} as a user who may use it` });
      case 404: return new EngineError('not_found', `${what} not found on ${this.host}${said}`);
      case 429: return new EngineError('unavailable', `${this.host}: too many requests${said}; try again later`);
      default: return new EngineError('unavailable', `${this.host} answered ${res.status} for ${what}${said}`);
    }
  }
}
