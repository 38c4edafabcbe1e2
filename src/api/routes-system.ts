import os from 'node:os';
import { roostVersion } from '../util/version.js';
import type { EngineEvent } from '../engine/events.js';
import { invalid } from '../util/errors.js';
import { apiVersion, minApiVersion, sendJson } from './http-util.js';
import { imageSummary } from './routes-images.js';
import { containerSummary } from './container-views.js';
import { runCommand } from '../util/exec.js';

/** Bytes used below a directory (du, which the engine may run on every file in its namespace). */
async function diskUsage(dir: string): Promise<number> {
  try {
    return Number((await runCommand('du', ['-sb', dir])).split(/\s+/)[0]) || 0;
  } catch {
    return 0;
  }
}
import type { Router } from './router.js';

function eventMatches(event: EngineEvent, filters: Record<string, string[]>): boolean {
  for (const [key, values] of Object.entries(filters)) {
    const ok = values.some((value) => {
      switch (key) {
        case 'type': return event.Type === value;
        case 'event': return event.Action === value || event.Action.startsWith(`${value}:`);
        case 'container': return event.Type === 'container' && (event.Actor.ID.startsWith(value) || event.Actor.Attributes.name === value);
        case 'image': return event.Actor.Attributes.image === value || event.Actor.Attributes.name === value || event.Actor.ID.startsWith(value);
        case 'label': {
          const [k, v] = value.split('=', 2) as [string, string | undefined];
          return k in event.Actor.Attributes && (v === undefined || event.Actor.Attributes[k] === v);
        }
        default: throw invalid(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

function parseEventTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1e9);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw invalid(`invalid time: ${text}`);
  return ms * 1e6;
}

export function systemRoutes(router: Router): void {
  const ping = async (ctx: Parameters<Parameters<Router['add']>[2]>[0]) => {
    ctx.res!.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' });
    ctx.res!.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  };
  router.add('GET', '/_ping', ping);

  router.add('GET', '/version', async (ctx) => {
    sendJson(ctx.res!, 200, {
      Platform: { Name: 'Roost' },
      Components: [{ Name: 'Engine', Version: roostVersion, Details: { ApiVersion: apiVersion, MinAPIVersion: minApiVersion, Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch, KernelVersion: os.release(), Runtime: ctx.engine.runtime.name } }],
      Version: roostVersion,
      ApiVersion: apiVersion,
      MinAPIVersion: minApiVersion,
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: process.arch === 'x64' ? 'amd64' : process.arch,
      KernelVersion: os.release(),
      BuildTime: '',
    });
  });

  router.add('GET', '/info', async (ctx) => sendJson(ctx.res!, 200, ctx.engine.info()));

  router.add('GET', '/system/df', async (ctx) => {
    const containers = ctx.engine.containers.list();
    const images = ctx.engine.images.list();
    const sizes = await Promise.all(containers.map((c) => diskUsage(ctx.engine.containers.changesOf(c.Id).changesDir)));
    const volumeSizes = await Promise.all(ctx.engine.volumes.list().map((v) => diskUsage(v.Mountpoint)));
    sendJson(ctx.res!, 200, {
      LayersSize: images.reduce((sum, i) => sum + i.size, 0),
      Images: images.map((image) => ({ ...imageSummary(image, containers.filter((c) => c.Image === image.id).length) })),
      Containers: containers.map((c, i) => ({ ...containerSummary(ctx.engine.containers, c), SizeRw: sizes[i], SizeRootFs: sizes[i] })),
      Volumes: ctx.engine.volumes.list().map((v, i) => ({ ...v, anonymous: undefined, UsageData: { Size: volumeSizes[i], RefCount: ctx.engine.containers.volumeUsers(v.Name).length } })),
      BuildCache: [],
    });
  });

  router.add('GET', '/events', async (ctx) => {
    const filters = ctx.query.filters();
    const since = parseEventTime(ctx.query.string('since'));
    const until = parseEventTime(ctx.query.string('until'));
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const send = (event: EngineEvent) => {
      if (until !== undefined && event.timeNano > until) return;
      if (eventMatches(event, filters)) res.write(JSON.stringify(event) + '\n');
    };
    if (since !== undefined) for (const event of ctx.engine.events.since(since)) send(event);
    if (until !== undefined && until <= Date.now() * 1e6) {
      res.end();
      return;
    }
    const unsubscribe = ctx.engine.events.subscribe(send);
    const timer = until !== undefined ? setTimeout(() => res.end(), until / 1e6 - Date.now()) : undefined;
    res.on('close', () => { unsubscribe(); if (timer) clearTimeout(timer); });
  });
}
