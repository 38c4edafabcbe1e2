import type { VolumeRecord } from '../engine/volumes.js';
import { invalid } from '../util/errors.js';
import { readJsonBody, sendJson } from './http-util.js';
import type { RouteContext, Router } from './router.js';

function volumeView(volume: VolumeRecord) {
  const { anonymous: _anonymous, ...shown } = volume;
  return shown;
}

function matches(ctx: RouteContext, volume: VolumeRecord, filters: Record<string, string[]>): boolean {
  for (const [key, values] of Object.entries(filters)) {
    const ok = values.some((value) => {
      switch (key) {
        case 'name': return volume.Name.includes(value);
        case 'driver': return value === 'local';
        case 'dangling': return (value === 'true' || value === '1') === (ctx.engine.containers.volumeUsers(volume.Name).length === 0);
        case 'label': {
          const [k, v] = value.split('=', 2) as [string, string | undefined];
          return k in volume.Labels && (v === undefined || volume.Labels[k] === v);
        }
        case 'all': return true;
        default: throw invalid(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

export function volumeRoutes(router: Router): void {
  router.add('GET', '/volumes', async (ctx) => {
    const filters = ctx.query.filters();
    sendJson(ctx.res!, 200, { Volumes: ctx.engine.volumes.list().filter((v) => matches(ctx, v, filters)).map(volumeView), Warnings: [] });
  });

  router.add('POST', '/volumes/create', async (ctx) => {
    const body = await readJsonBody<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Record<string, string> }>(ctx.req);
    if (body.Driver && body.Driver !== 'local') throw invalid(`volume driver ${JSON.stringify(body.Driver)} is not available (only local)`);
    const { volume } = await ctx.engine.volumes.create({ name: body.Name, labels: body.Labels, options: body.DriverOpts });
    sendJson(ctx.res!, 201, volumeView(volume));
  });

  router.add('POST', '/volumes/prune', async (ctx) => {
    const filters = ctx.query.filters();
    // As Docker 23+: only anonymous volumes unless all=true.
    const all = (filters.all ?? []).some((v) => v === 'true' || v === '1');
    const { all: _all, ...rest } = filters;
    const deleted: string[] = [];
    for (const volume of ctx.engine.volumes.list()) {
      if (!all && !volume.anonymous) continue;
      if (!matches(ctx, volume, rest) || ctx.engine.containers.volumeUsers(volume.Name).length > 0) continue;
      await ctx.engine.volumes.remove(volume.Name, { force: false, usedBy: [] });
      deleted.push(volume.Name);
    }
    sendJson(ctx.res!, 200, { VolumesDeleted: deleted, SpaceReclaimed: 0 });
  });

  router.add('GET', '/volumes/{name}', async (ctx) => {
    sendJson(ctx.res!, 200, volumeView(ctx.engine.volumes.get(ctx.params.name!)));
  });

  router.add('DELETE', '/volumes/{name}', async (ctx) => {
    const name = ctx.params.name!;
    await ctx.engine.volumes.remove(name, { force: ctx.query.bool('force'), usedBy: ctx.engine.containers.volumeUsers(name) });
    ctx.res!.writeHead(204).end();
  });
}
