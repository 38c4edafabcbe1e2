import { applyChanges } from '../image/changes.js';
import { familiar, parseReference, repositoryName } from '../image/reference.js';
import type { ImageRecord } from '../image/types.js';
import { invalid } from '../util/errors.js';
import { JsonProgress, readJsonBody, registryAuth, sendJson } from './http-util.js';
import { parsePlatform } from '../registry/manifests.js';
import type { ContainerDefaults } from '../image/types.js';
import type { RouteContext, Router } from './router.js';

function createdSeconds(image: ImageRecord): number {
  const created = image.config.created ? Date.parse(image.config.created) : NaN;
  return Number.isNaN(created) ? 0 : Math.floor(created / 1000);
}

/** Docker's RepoDigests: the digests recorded at pull, and the manifest's for the other repositories it is named in. */
function repoDigests(image: ImageRecord): string[] {
  const recorded = image.repoDigests ?? [];
  const repositories = new Set(recorded.map((d) => d.slice(0, d.lastIndexOf('@'))));
  const named = image.names.map((n) => repositoryName(parseReference(n))).filter((repo) => !repositories.has(repo)).map((repo) => `${repo}@${image.manifestDigest}`);
  return [...new Set([...recorded, ...named])].map(familiar);
}

export function imageSummary(image: ImageRecord, containers: number) {
  return {
    Id: image.id,
    ParentId: '',
    RepoTags: image.names.map(familiar),
    RepoDigests: repoDigests(image),
    Created: createdSeconds(image),
    Size: image.size,
    SharedSize: -1,
    VirtualSize: image.size,
    Labels: image.config.config?.Labels ?? {},
    Containers: containers,
  };
}

export function imageInspect(image: ImageRecord) {
  const config = {
    Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false,
    OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null,
    OnBuild: null, Labels: null, ...(image.config.config ?? {}),
  };
  return {
    Id: image.id,
    RepoTags: image.names.map(familiar),
    RepoDigests: repoDigests(image),
    Parent: '',
    Comment: '',
    Created: image.config.created ?? '1970-01-01T00:00:00Z',
    Container: '',
    ContainerConfig: config,
    DockerVersion: '',
    Author: image.config.author ?? '',
    Config: config,
    Architecture: image.config.architecture,
    Variant: image.config.variant,
    Os: image.config.os,
    Size: image.size,
    VirtualSize: image.size,
    GraphDriver: { Name: 'overlay', Data: null },
    RootFS: { Type: 'layers', Layers: image.config.rootfs.diff_ids },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

function referencePattern(value: string): RegExp {
  return new RegExp(`^${value.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.')}$`);
}

/** Whether a familiar name (busybox:latest) matches a `reference` filter (busybox, busybox:*, team/*). */
function nameMatchesReference(name: string, value: string): boolean {
  const pattern = referencePattern(value);
  // A value without a tag (its last component has no ':'; a registry's host:port does not count) matches every tag.
  const hasTag = /:[^/]*$/.test(value);
  return pattern.test(name) || (!hasTag && pattern.test(name.replace(/:[^:/]+$/, '')));
}

function matchesImageFilters(ctx: RouteContext, image: ImageRecord, filters: Record<string, string[]>): boolean {
  for (const [key, values] of Object.entries(filters)) {
    const ok = values.some((value) => {
      switch (key) {
        case 'dangling': return (value === 'true' || value === '1') === (image.names.length === 0);
        case 'reference': return image.names.map(familiar).some((n) => nameMatchesReference(n, value));
        case 'label': {
          const [k, v] = value.split('=', 2) as [string, string | undefined];
          const labels = image.config.config?.Labels ?? {};
          return k in labels && (v === undefined || labels[k] === v);
        }
        case 'before': return createdSeconds(image) < createdSeconds(ctx.engine.images.resolve(value));
        case 'since': return createdSeconds(image) > createdSeconds(ctx.engine.images.resolve(value));
        default: throw invalid(`invalid filter '${key}'`);
      }
    });
    if (!ok) return false;
  }
  return true;
}

export function imageRoutes(router: Router): void {
  router.add('GET', '/images/json', async (ctx) => {
    const filters = ctx.query.filters();
    const containers = ctx.engine.containers.list();
    // The build cache's intermediate images show with `all` only, as Docker's do.
    const hidden = ctx.query.bool('all') ? new Set<string>() : await ctx.engine.buildCache.imageIds();
    const images = ctx.engine.images.list()
      .filter((image) => image.names.length > 0 || !hidden.has(image.id))
      .filter((image) => matchesImageFilters(ctx, image, filters))
      .sort((a, b) => createdSeconds(b) - createdSeconds(a));
    const references = filters.reference ?? [];
    sendJson(ctx.res!, 200, images.map((image) => {
      const summary = imageSummary(image, containers.filter((c) => c.Image === image.id).length);
      // As Docker: with a reference filter, only the matching names are listed.
      if (references.length) summary.RepoTags = summary.RepoTags.filter((n) => references.some((r) => nameMatchesReference(n, r)));
      return summary;
    }));
  });

  router.add('POST', '/images/load', async (ctx) => {
    const lines = await ctx.engine.images.load(ctx.req);
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    for (const line of lines) res.write(JSON.stringify({ stream: `${line}\n` }) + '\n');
    res.end();
  });

  const save = async (ctx: RouteContext, names: string[]) => {
    if (names.length === 0) throw invalid('no image names given');
    for (const name of names) ctx.engine.images.resolve(name);
    ctx.res!.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await ctx.engine.images.save(names, ctx.res!);
  };
  router.add('GET', '/images/get', async (ctx) => save(ctx, ctx.query.all('names')));
  router.add('GET', '/images/{name*}/get', async (ctx) => save(ctx, [ctx.params.name!]));

  router.add('POST', '/images/create', async (ctx) => {
    const fromSrc = ctx.query.string('fromSrc');
    if (fromSrc === '-') {
      const repo = ctx.query.string('repo');
      const tag = ctx.query.string('tag');
      const name = repo ? `${repo}${tag ? `:${tag}` : ''}` : undefined;
      const defaults = applyChanges({}, ctx.query.all('changes'));
      const image = await ctx.engine.images.importRootfs(ctx.req, name, defaults, ctx.query.string('message'));
      sendJson(ctx.res!, 200, { status: image.id });
      return;
    }
    const fromImage = ctx.query.string('fromImage');
    if (!fromImage) throw invalid('fromImage or fromSrc is required');
    // The docker CLI sends the tag apart (fromImage=busybox&tag=latest); a digest comes as the tag too.
    const tag = ctx.query.string('tag');
    const name = tag ? `${fromImage}${tag.startsWith('sha256:') ? '@' : ':'}${tag}` : fromImage;
    const platform = ctx.query.string('platform');
    const credentials = registryAuth(ctx.req.headers['x-registry-auth']);
    // Docker's API: a fromImage naming no tag or digest, with no tag parameter, pulls every tag (pull -a).
    const allTags = !tag && !/[:@][^/]*$/.test(fromImage);
    const progress = new JsonProgress(ctx.res!);
    await progress.run(async () => {
      const opts = { credentials, platform: platform ? parsePlatform(platform) : undefined, progress: (m: Parameters<JsonProgress['send']>[0]) => progress.send(m) };
      if (allTags) await ctx.engine.puller.pullAllTags(name, opts);
      else await ctx.engine.puller.pull(name, opts);
    });
  });

  router.add('GET', '/images/{name*}/json', async (ctx) => {
    sendJson(ctx.res!, 200, imageInspect(ctx.engine.images.resolve(ctx.params.name!)));
  });

  router.add('GET', '/images/{name*}/history', async (ctx) => {
    const image = ctx.engine.images.resolve(ctx.params.name!);
    const history = image.config.history ?? [];
    const layers = [...image.manifest.layers];
    const rows = history.map((h, i) => ({
      Id: i === history.length - 1 ? image.id : '<missing>',
      Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
      CreatedBy: h.created_by ?? '',
      Tags: i === history.length - 1 ? image.names.map(familiar) : null,
      Size: h.empty_layer ? 0 : layers.shift()?.size ?? 0,
      Comment: h.comment ?? '',
    }));
    sendJson(ctx.res!, 200, rows.reverse());
  });

  router.add('POST', '/images/{name*}/tag', async (ctx) => {
    const repo = ctx.query.string('repo');
    if (!repo) throw invalid('repo is required');
    const tag = ctx.query.string('tag');
    await ctx.engine.images.tag(ctx.params.name!, tag ? `${repo}:${tag}` : repo);
    ctx.res!.writeHead(201).end();
  });

  router.add('DELETE', '/images/{name*}', async (ctx) => {
    const report = await ctx.engine.images.remove(ctx.params.name!, {
      force: ctx.query.bool('force'),
      inUse: (id) => ctx.engine.containers.imageInUse(id),
    });
    sendJson(ctx.res!, 200, report);
  });

  router.add('POST', '/commit', async (ctx) => {
    const containerName = ctx.query.string('container');
    if (!containerName) throw invalid('container is required');
    const body = await readJsonBody<Partial<ContainerDefaults> | null>(ctx.req);
    const { record, changesDir, driver } = ctx.engine.containers.changesOf(containerName);
    const c = record.Config;
    const repo = ctx.query.string('repo');
    const tag = ctx.query.string('tag');
    const commit = async () => {
      const image = await ctx.engine.images.commit({
      imageId: record.Image, changesDir, driver,
      containerConfig: {
        Env: c.Env, Cmd: c.Cmd, Entrypoint: c.Entrypoint, WorkingDir: c.WorkingDir, User: c.User, Labels: c.Labels,
        ExposedPorts: c.ExposedPorts, Volumes: c.Volumes, StopSignal: c.StopSignal, ...(body ?? {}),
      },
      createdBy: [record.Path, ...record.Args].join(' '),
      name: repo ? `${repo}${tag ? `:${tag}` : ''}` : undefined,
      comment: ctx.query.string('comment'), author: ctx.query.string('author'), changes: ctx.query.all('changes'),
      });
      ctx.engine.events.emit('container', 'commit', record.Id, { comment: ctx.query.string('comment') ?? '', imageID: image.id, imageRef: repo ?? '', name: record.Name.slice(1) });
      return image;
    };
    // Docker pauses by default so that the layer is taken at one instant; without a freezer it cannot.
    const image = ctx.query.bool('pause', true) ? await ctx.engine.containers.whilePaused(record.Id, commit) : await commit();
    sendJson(ctx.res!, 201, { Id: image.id });
  });

  router.add('POST', '/images/prune', async (ctx) => {
    const filters = ctx.query.filters();
    const all = (filters.dangling ?? []).some((v) => v === 'false' || v === '0');
    const deleted: Array<{ Deleted?: string; Untagged?: string }> = [];
    for (const image of ctx.engine.images.list()) {
      if (ctx.engine.containers.imageInUse(image.id)) continue;
      if (!all && image.names.length > 0) continue;
      deleted.push(...(await ctx.engine.images.remove(image.id, { force: true, inUse: () => false })));
    }
    sendJson(ctx.res!, 200, { ImagesDeleted: deleted, SpaceReclaimed: 0 });
  });
}
