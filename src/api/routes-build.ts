import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Builder } from '../build/builder.js';
import { BuildContext } from '../build/build-context.js';
import { removeIgnoredBuildFiles, shownDockerfileName, terminatedTar } from '../build/dockerfile-in-context.js';
import { familiar } from '../image/reference.js';
import { invalid } from '../util/errors.js';
import { JsonProgress, sendJson } from './http-util.js';
import { decodeSecrets, secretsHeader } from './build-secrets.js';
import { stepsHeader } from './build-steps.js';
import type { RouteContext, Router } from './router.js';

function jsonMap(ctx: RouteContext, name: string): Record<string, string> {
  const text = ctx.query.string(name);
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as Record<string, string | null>;
    return Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== null)) as Record<string, string>;
  } catch {
    throw invalid(`${name} is not a JSON map`);
  }
}

/** A query parameter holding a JSON list of strings (`cachefrom=["app:1"]`). */
function jsonList(ctx: RouteContext, name: string): string[] {
  const text = ctx.query.string(name);
  if (!text) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(`${name} is not a JSON list`);
  }
  if (!Array.isArray(parsed) || parsed.some((v) => typeof v !== 'string')) throw invalid(`${name} is not a JSON list of strings`);
  return parsed as string[];
}

/** POST /build/prune: forgets the build cache and removes its images that nothing else uses. */
async function pruneBuildCache(ctx: RouteContext): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }> {
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const id of await ctx.engine.buildCache.clear()) {
    try {
      const image = ctx.engine.images.resolve(id);
      if (image.names.length > 0 || ctx.engine.containers.imageInUse(id)) continue;
      await ctx.engine.images.remove(id, { force: false, inUse: (x) => ctx.engine.containers.imageInUse(x) });
      deleted.push(id);
      reclaimed += image.size;
    } catch { /* gone, or used by another image */ }
  }
  return { CachesDeleted: deleted, SpaceReclaimed: reclaimed };
}

/** POST /build as the docker CLI's classic builder uses it: a context tar in, `{"stream": ...}` lines out. */
export function buildRoutes(router: Router): void {
  router.add('POST', '/build/prune', async (ctx) => {
    sendJson(ctx.res!, 200, await pruneBuildCache(ctx));
  });

  router.add('POST', '/build', async (ctx) => {
    const dockerfileName = ctx.query.string('dockerfile') || 'Dockerfile';
    const tags = ctx.query.all('t');
    const buildArgs = jsonMap(ctx, 'buildargs');
    const labels = jsonMap(ctx, 'labels');
    const quiet = ctx.query.bool('q');
    const secrets = decodeSecrets(ctx.req.headers[secretsHeader]);
    const scratchDir = path.join(ctx.engine.options.dataDir, 'tmp', `build-${randomBytes(6).toString('hex')}`);
    const progress = new JsonProgress(ctx.res!);
    // The context is read as it arrives (names checked, contents hashed) and kept in memory or one spool file:
    // no file of it is written out unless a step needs it (build-context.ts).
    const context = await BuildContext.receive(terminatedTar(ctx.req), scratchDir).catch((err: Error) => {
      if (err.message.startsWith('the build context')) throw invalid(err.message);
      // The tar scanner speaks of layers (`layer entry "../x" escapes the target directory`).
      const message = err.message.replace(/^layer (is not a valid tar archive: )?/, '').replace(/the target directory|the layer\b/g, 'the context');
      throw invalid(`the build context is not a valid tar: ${message}`);
    });
    try {
      const file = path.posix.normalize(`/${dockerfileName}`);
      const dockerfile = context.readFile(file.slice(1))?.toString('utf8');
      if (dockerfile === undefined) throw invalid(`Cannot locate specified Dockerfile: ${dockerfileName}`);
      removeIgnoredBuildFiles(context, file.slice(1));
      await progress.run(async () => {
        const out = (text: string) => { if (!quiet) progress.send({ stream: text }); };
        const steps = ctx.req.headers[stepsHeader] === '1' && !quiet;
        const builder = new Builder(ctx.engine, context, out, steps ? (step) => progress.send({ roostStep: step }) : undefined);
        const id = await builder.build({
          dockerfile, dockerfileName: shownDockerfileName(file), tags, buildArgs, labels,
          target: ctx.query.string('target') || undefined, pull: ctx.query.bool('pull'), noCache: ctx.query.bool('nocache'),
          secrets, platform: ctx.query.string('platform') || undefined, cacheFrom: jsonList(ctx, 'cachefrom'),
        });
        progress.send({ aux: { ID: id } });
        if (!quiet) {
          progress.send({ stream: `Successfully built ${id.slice(7, 19)}\n` });
          for (const tag of tags) progress.send({ stream: `Successfully tagged ${familiar(tag)}\n` });
        } else progress.send({ stream: `${id}\n` });
      });
    } finally {
      context.dispose();
    }
  });
}
