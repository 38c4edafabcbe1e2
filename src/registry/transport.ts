import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { EngineError } from '../util/errors.js';

/**
 * How Roost reaches one registry host: HTTPS verified with the system CAs plus the host's own CA and
 * client certificate from a certs.d directory (Roost's, then Docker's and podman's layout); plain HTTP
 * only for loopback hosts and hosts marked insecure, and only when the server does not speak TLS there.
 * Unlike Docker, a loopback registry that does speak TLS must present a certificate that verifies.
 */

export interface RegistrySettings {
  /** host[:port] entries whose TLS is not verified and which may be plain HTTP. */
  insecure: string[];
  /** Mirrors tried before a registry, per host (docker.io: ["https://mirror.example"]). */
  mirrors: Record<string, string[]>;
  /** Registries never contacted (podman's `blocked`), e.g. to keep a machine off Docker Hub. */
  blocked: string[];
}

export function certsDirs(host: string, configDir: string): string[] {
  return [path.join(configDir, 'certs.d', host), path.join('/etc/docker/certs.d', host), path.join('/etc/containers/certs.d', host)];
}

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === 'localhost' || /^127\./.test(name) || name === '::1';
}

export interface TlsMaterial {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  caSearched: string[];
}

/** The CA certificates (*.crt) and client pair (*.cert + *.key) of the first certs.d dir that exists for the host. */
export function tlsMaterial(host: string, configDir: string): TlsMaterial {
  const searched = certsDirs(host, configDir);
  for (const dir of searched) {
    let names: string[];
    try { names = fs.readdirSync(dir); } catch { continue; }
    const ca = names.filter((n) => n.endsWith('.crt')).map((n) => fs.readFileSync(path.join(dir, n)));
    const certName = names.find((n) => n.endsWith('.cert'));
    const keyName = certName && names.find((n) => n === certName.replace(/\.cert$/, '.key'));
    return {
      ca: ca.length ? ca : undefined,
      cert: certName && keyName ? fs.readFileSync(path.join(dir, certName)) : undefined,
      key: certName && keyName ? fs.readFileSync(path.join(dir, keyName)) : undefined,
      caSearched: searched,
    };
  }
  return { caSearched: searched };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

/** A request body that can be sent again: a fresh stream of the same bytes for each attempt. */
export type RepeatableBody = () => NodeJS.ReadableStream;

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | NodeJS.ReadableStream | RepeatableBody;
  timeoutMs?: number;
}

const tlsErrorCodes = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'UNABLE_TO_GET_ISSUER_CERT']);

/** Whether a body can be sent again (after a challenge, a retry, or to another scheme). */
export function isRepeatable(body: SendOptions['body']): boolean {
  return !body || body instanceof Buffer || typeof body === 'function';
}

/** One host's connection settings; remembers whether it answered HTTP or HTTPS. */
export class HostTransport {
  private scheme: 'https' | 'http' | undefined;
  private readonly agent: https.Agent;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  readonly insecure: boolean;
  private readonly tls: TlsMaterial;

  constructor(readonly host: string, settings: RegistrySettings, private readonly configDir: string) {
    this.insecure = settings.insecure.includes(host) || settings.insecure.includes(host.replace(/:\d+$/, ''));
    this.tls = tlsMaterial(host, configDir);
    this.agent = new https.Agent({
      keepAlive: true, maxSockets: 8,
      ...(this.tls.ca ? { ca: [...tlsRootCertificates(), ...this.tls.ca] } : {}),
      ...(this.tls.cert ? { cert: this.tls.cert, key: this.tls.key } : {}),
      rejectUnauthorized: !this.insecure,
    });
  }

  /** Whether plain HTTP may be tried when the host does not speak TLS. */
  private get httpAllowed(): boolean {
    return this.insecure || isLoopback(this.host);
  }

  baseUrl(): string {
    return `${this.scheme ?? 'https'}://${this.host}`;
  }

  /** Sends a request to a path on this host (or to an absolute URL, for token realms and redirects). */
  async send(target: string, opts: SendOptions = {}): Promise<RawResponse> {
    if (/^https?:\/\//.test(target)) return this.sendUrl(new URL(target), opts);
    if (!this.scheme) {
      try {
        const response = await this.sendUrl(new URL(`https://${this.host}${target}`), opts);
        this.scheme = 'https';
        return response;
      } catch (err) {
        if (!this.httpAllowed || !isNotTls(err) || opts.body && !isRepeatable(opts.body)) throw err;
        this.scheme = 'http';
      }
    }
    return this.sendUrl(new URL(`${this.scheme}://${this.host}${target}`), opts);
  }

  private sendUrl(url: URL, opts: SendOptions): Promise<RawResponse> {
    const secure = url.protocol === 'https:';
    const lib = secure ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, {
        method: opts.method ?? 'GET',
        headers: { 'User-Agent': 'roost', ...opts.headers },
        agent: secure ? (url.host === this.host ? this.agent : undefined) : this.httpAgent,
      }, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
      req.setTimeout(opts.timeoutMs ?? 60_000, () => req.destroy(Object.assign(new Error(`no answer from ${url.host} within ${(opts.timeoutMs ?? 60_000) / 1000}s`), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.describe(err, url)));
      if (!opts.body) req.end();
      else if (opts.body instanceof Buffer) req.end(opts.body);
      else (typeof opts.body === 'function' ? opts.body() : opts.body as NodeJS.ReadableStream).pipe(req);
    });
  }

  private describe(err: NodeJS.ErrnoException, url: URL): Error {
    if (err.code && tlsErrorCodes.has(err.code)) {
      const where = path.join(this.tls.caSearched[0]!, 'ca.crt');
      return new EngineError('unavailable', `the TLS certificate of ${url.host} does not verify (${err.message})`, {
        hint: `add the registry's CA certificate at ${where} (or /etc/docker/certs.d/${this.host}/ca.crt), or mark ${this.host} insecure in ${path.join(this.configDir, 'registries.json')}`,
        cause: err,
      });
    }
    if (err.code === 'ECONNREFUSED') return new EngineError('unavailable', `cannot reach the registry ${url.host}: connection refused`, { cause: err });
    if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return new EngineError('unavailable', `cannot resolve the registry host ${url.hostname}`, { cause: err });
    return err;
  }

  close(): void {
    this.agent.destroy();
    this.httpAgent.destroy();
  }
}

function isNotTls(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.code ?? e.cause?.code;
  return code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long|ECONNRESET/i.test(String(e.message));
}

let systemRoots: string[] | undefined;
/** Node's bundled roots plus the system's bundle, so a host CA adds to them instead of replacing them. */
function tlsRootCertificates(): string[] {
  if (!systemRoots) {
    systemRoots = [...tls.rootCertificates];
    try { systemRoots.push(fs.readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8')); } catch { /* none */ }
  }
  return systemRoots;
}

export const homeConfigDir = (env: NodeJS.ProcessEnv = process.env) =>
  path.join(env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : path.join(env.HOME ?? os.homedir(), '.config'), 'roost');
