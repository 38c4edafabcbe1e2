import type http from 'node:http';
import type net from 'node:net';
import type { Engine } from '../engine/engine.js';
import { Query } from './http-util.js';

/** What a route handler gets: the request, a response (absent for an upgraded connection) and the raw socket. */
export interface RouteContext {
  engine: Engine;
  req: http.IncomingMessage;
  res?: http.ServerResponse;
  /** Set when the client asked to upgrade (attach, exec start): the handler owns the socket. */
  upgrade?: { socket: net.Socket; head: Buffer };
  params: Record<string, string>;
  query: Query;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: RouteHandler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, template: string, handler: RouteHandler): this {
    const keys: string[] = [];
    // `{name}` matches one segment, except image names, which may contain slashes (`{name*}`).
    const source = template.replace(/\{(\w+)(\*?)\}/g, (_, key: string, greedy: string) => {
      keys.push(key);
      return greedy ? '(.+?)' : '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
    return this;
  }

  match(method: string, pathname: string): { handler: RouteHandler; params: Record<string, string> } | 'method' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => { params[key] = decodeURIComponent(m[i + 1]!); });
      return { handler: route.handler, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}
