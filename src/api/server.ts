import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import type { Engine } from '../engine/engine.js';
import { roostVersion } from '../util/version.js';
import { asEngineError, EngineError } from '../util/errors.js';
import { apiVersion, commonHeaders, Query, sendError } from './http-util.js';
import { Router, type RouteContext } from './router.js';
import { containerRoutes } from './routes-containers.js';
import { imageRoutes } from './routes-images.js';
import { registryRoutes } from './routes-registry.js';
import { buildRoutes } from './routes-build.js';
import { networkRoutes } from './routes-networks.js';
import { systemRoutes } from './routes-system.js';
import { volumeRoutes } from './routes-volumes.js';
import { archiveRoutes } from './routes-archive.js';

export function buildRouter(): Router {
  const router = new Router();
  systemRoutes(router);
  containerRoutes(router);
  imageRoutes(router);
  registryRoutes(router);
  buildRoutes(router);
  networkRoutes(router);
  volumeRoutes(router);
  archiveRoutes(router);
  return router;
}

/** Splits `/v1.44/containers/json` into the version and the route path; rejects versions above ours. */
function routePath(pathname: string): string {
  const m = /^\/v(\d+)\.(\d+)(\/.*)$/.exec(pathname);
  if (!m) return pathname;
  const [major, minor] = apiVersion.split('.').map(Number) as [number, number];
  if (Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) > minor)) {
    throw new EngineError('invalid_argument', `client version ${m[1]}.${m[2]} is too new. Maximum supported API version is ${apiVersion}`);
  }
  return m[3]!;
}

/** The Docker Engine API over a unix socket: thin translations onto the engine. */
export function createApiServer(engine: Engine, log: (line: string) => void): http.Server {
  const router = buildRouter();
  const headers = commonHeaders(roostVersion);

  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse | undefined, upgrade?: RouteContext['upgrade']) => {
    const url = new URL(req.url ?? '/', 'http://roost');
    const fail = (err: EngineError) => {
      if (res) sendError(res, err);
      else {
        const body = JSON.stringify({ message: err.message });
        upgrade!.socket.end(`HTTP/1.1 ${err.httpStatus} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
    };
    try {
      const pathname = routePath(url.pathname);
      const match = router.match(req.method ?? 'GET', pathname);
      if (match === undefined) throw new EngineError('not_found', `page not found: ${req.method} ${url.pathname}`);
      if (match === 'method') throw new EngineError('invalid_argument', `method ${req.method} not allowed for ${url.pathname}`);
      await match.handler({ engine, req, res, upgrade, params: match.params, query: new Query(url.searchParams) });
    } catch (err) {
      const engineError = asEngineError(err);
      if (engineError.code === 'internal') log(`${req.method} ${url.pathname}: ${engineError.message}${(err as Error).stack && process.env.ROOST_DEBUG ? `\n${(err as Error).stack}` : ''}`);
      fail(engineError);
    }
  };

  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    void dispatch(req, res);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => {});
    void readUpgradeBody(req, socket, head).then(({ body, rest }) => {
      (req as http.IncomingMessage & { upgradeBody?: Buffer }).upgradeBody = body;
      return dispatch(req, undefined, { socket, head: rest });
    }, () => socket.destroy());
  });
  server.keepAliveTimeout = 60_000;
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  return server;
}

/**
 * An upgrade request (exec start) may carry a JSON body; Node hands it over as part of the raw stream.
 * Reads Content-Length bytes of it and returns what follows (early stdin).
 */
function readUpgradeBody(req: http.IncomingMessage, socket: net.Socket, head: Buffer): Promise<{ body: Buffer; rest: Buffer }> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!length) return Promise.resolve({ body: Buffer.alloc(0), rest: head });
  let buffered = head;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (buffered.length < length) return false;
      socket.off('data', onData);
      socket.off('error', reject);
      socket.pause();
      resolve({ body: buffered.subarray(0, length), rest: buffered.subarray(length) });
      return true;
    };
    const onData = (chunk: Buffer) => { buffered = Buffer.concat([buffered, chunk]); check(); };
    if (check()) return;
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

/** Listens on the unix socket with mode 0600, so no other user can connect. */
export async function listenUnix(server: http.Server, socketPath: string): Promise<void> {
  fs.rmSync(socketPath, { force: true });
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  fs.chmodSync(socketPath, 0o600);
}
