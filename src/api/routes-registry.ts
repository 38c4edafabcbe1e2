import { parseReference } from '../image/reference.js';
import { invalid } from '../util/errors.js';
import { JsonProgress, readJsonBody, registryAuth, sendJson } from './http-util.js';
import type { Router } from './router.js';

/** Push and login (pull is POST /images/create, beside import). */
export function registryRoutes(router: Router): void {
  router.add('POST', '/images/{name*}/push', async (ctx) => {
    const tag = ctx.query.string('tag');
    const name = tag ? `${ctx.params.name!}:${tag}` : ctx.params.name!;
    parseReference(name);
    const credentials = registryAuth(ctx.req.headers['x-registry-auth']);
    const progress = new JsonProgress(ctx.res!);
    await progress.run(async () => {
      await ctx.engine.pusher.push(name, { credentials, progress: (m) => progress.send(m) });
    });
  });

  /** Checks credentials against the registry, as `docker login` asks the daemon to. */
  router.add('POST', '/auth', async (ctx) => {
    const body = await readJsonBody<{ username?: string; password?: string; serveraddress?: string; identitytoken?: string }>(ctx.req);
    if (!body.username && !body.identitytoken) throw invalid('username is required');
    const server = (body.serveraddress || 'https://index.docker.io/v1/').replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    const domain = server === 'index.docker.io' ? 'docker.io' : server;
    const client = ctx.engine.registries.client(domain, { username: body.username, password: body.password, identitytoken: body.identitytoken });
    const res = await client.request('/v2/', { scope: '', expect: [200], what: 'the registry API' });
    res.body.resume();
    sendJson(ctx.res!, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });
}
