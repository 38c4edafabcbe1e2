import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

/** Registries for the tests, all on 127.0.0.1: Debian's docker-registry (Distribution 2.8), and a small one of our own that misbehaves on purpose. */

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export const registryAvailable = () => fs.existsSync('/usr/bin/docker-registry') && fs.existsSync('/usr/bin/openssl');

/** A CA and a certificate for 127.0.0.1 signed by it. */
export function makeCertificates(dir: string): { caCert: string; cert: string; key: string } {
  fs.mkdirSync(dir, { recursive: true });
  const at = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=roost test CA', '-keyout', at('ca.key'), '-out', at('ca.crt'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', at('server.key'), '-out', at('server.csr'));
  fs.writeFileSync(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', at('server.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', at('ext.cnf'), '-out', at('server.crt'));
  return { caCert: at('ca.crt'), cert: at('server.crt'), key: at('server.key') };
}

export interface RunningRegistry {
  host: string;
  stop(): Promise<void>;
}

/** Starts docker-registry on a free loopback port: plain HTTP, or TLS, optionally with htpasswd basic auth. */
export async function startRegistry(dir: string, opts: { tls?: { cert: string; key: string }; users?: Record<string, string> } = {}): Promise<RunningRegistry> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const lines = ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${path.join(dir, 'data')}`, 'http:', `  addr: 127.0.0.1:${port}`];
  if (opts.tls) lines.push('  tls:', `    certificate: ${opts.tls.cert}`, `    key: ${opts.tls.key}`);
  if (opts.users) {
    const file = path.join(dir, 'htpasswd');
    fs.writeFileSync(file, '');
    for (const [user, password] of Object.entries(opts.users)) execFileSync('htpasswd', ['-Bb', file, user, password], { stdio: 'pipe' });
    lines.push('auth:', '  htpasswd:', '    realm: roost-test', `    path: ${file}`);
  }
  fs.writeFileSync(path.join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => { child.once('exit', () => resolve()); child.kill(); }),
  };
}

export interface StoredImage {
  manifest: Buffer;
  mediaType: string;
  blobs: Map<string, Buffer>;
}

/** Reads an image's manifest and blobs from a plain-HTTP registry (to serve them again from the fake one). */
export async function fetchImage(host: string, repo: string, tag: string): Promise<StoredImage> {
  const get = (p: string, accept?: string) => new Promise<{ body: Buffer; type: string }>((resolve, reject) => {
    http.get(`http://${host}${p}`, { headers: accept ? { Accept: accept } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ body: Buffer.concat(chunks), type: String(res.headers['content-type']) }));
    }).on('error', reject);
  });
  const manifest = await get(`/v2/${repo}/manifests/${tag}`, 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json');
  const parsed = JSON.parse(manifest.body.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const blobs = new Map<string, Buffer>();
  for (const d of [parsed.config, ...parsed.layers]) blobs.set(d.digest, (await get(`/v2/${repo}/blobs/${d.digest}`)).body);
  return { manifest: manifest.body, mediaType: manifest.type, blobs };
}

/** What the fake registry does wrong, per request kind; each entry is used up once. */
export interface Misbehaviour {
  /** Answer these statuses (in order) to the next manifest or blob requests. */
  manifestStatuses?: number[];
  blobStatuses?: number[];
  /** Close the connection after this many bytes of the next layer download. */
  dropLayerAfter?: number;
  /** Serve this body instead of the manifest. */
  manifestBody?: { body: Buffer; type: string };
  /** Serve the layer with its bytes changed. */
  corruptLayer?: boolean;
  retryAfterSeconds?: number;
}

/**
 * A registry of our own: serves one image from memory, asks for a bearer token from its own token
 * endpoint when `users` is set, and misbehaves as told. `log` keeps the requests it saw.
 */
export class FakeRegistry {
  readonly log: string[] = [];
  misbehave: Misbehaviour = {};
  private server?: http.Server;
  private readonly tokens = new Set<string>();
  host = '';

  constructor(private readonly image: StoredImage, private readonly repo: string, private readonly users?: Record<string, string>) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.host = `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => this.server ? this.server.close(() => resolve()) : resolve());
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    this.log.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    if (url.pathname === '/token') {
      const basic = (req.headers.authorization ?? '').replace(/^Basic /, '');
      const [user, password] = Buffer.from(basic, 'base64').toString().split(':');
      if (this.users && (!user || this.users[user] !== password)) return void res.writeHead(401).end();
      const token = crypto.randomBytes(8).toString('hex');
      this.tokens.add(token);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    if (this.users && !this.tokens.has((req.headers.authorization ?? '').replace(/^Bearer /, ''))) {
      res.writeHead(401, {
        'WWW-Authenticate': `Bearer realm="http://${this.host}/token",service="fake",scope="repository:${this.repo}:pull"`,
        'Content-Type': 'application/json',
      }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    if (url.pathname === '/v2/') return void res.writeHead(200).end('{}');
    const manifestMatch = new RegExp(`^/v2/${this.repo}/manifests/(.+)$`).exec(url.pathname);
    if (manifestMatch) {
      const status = this.misbehave.manifestStatuses?.shift();
      if (status) return void this.error(res, status);
      const served = this.misbehave.manifestBody ?? { body: this.image.manifest, type: this.image.mediaType };
      if (manifestMatch[1] !== 'latest' && manifestMatch[1] !== crypto.createHash('sha256').update(served.body).digest('hex')) {
        return void this.error(res, 404);
      }
      res.writeHead(200, { 'Content-Type': served.type, 'Content-Length': served.body.length }).end(req.method === 'HEAD' ? undefined : served.body);
      return;
    }
    const blobMatch = new RegExp(`^/v2/${this.repo}/blobs/(sha256:[a-f0-9]{64})$`).exec(url.pathname);
    const blob = blobMatch && this.image.blobs.get(blobMatch[1]!);
    if (!blob) return void this.error(res, 404);
    const status = this.misbehave.blobStatuses?.shift();
    if (status) return void this.error(res, status);
    const isLayer = blob.length > 4096;
    let body = isLayer && this.misbehave.corruptLayer ? Buffer.concat([blob.subarray(0, blob.length - 10), Buffer.alloc(10)]) : blob;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    body = body.subarray(start);
    res.writeHead(range ? 206 : 200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    const dropAfter = isLayer ? this.misbehave.dropLayerAfter : undefined;
    if (dropAfter !== undefined) {
      delete this.misbehave.dropLayerAfter;
      res.write(body.subarray(0, dropAfter), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  }

  private error(res: http.ServerResponse, status: number): void {
    const codes: Record<number, string> = { 401: 'UNAUTHORIZED', 403: 'DENIED', 404: 'MANIFEST_UNKNOWN', 429: 'TOOMANYREQUESTS', 500: 'UNKNOWN' };
    res.writeHead(status, { 'Content-Type': 'application/json', ...(status === 429 && this.misbehave.retryAfterSeconds ? { 'Retry-After': String(this.misbehave.retryAfterSeconds) } : {}) })
      .end(JSON.stringify({ errors: [{ code: codes[status] ?? 'UNKNOWN', message: `fake ${status}` }] }));
  }
}
