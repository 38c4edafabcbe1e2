import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { archivePath, changes, exportRootfs, extractInto, statPath, type ContainerRoot, type PathStat } from '../engine/container-files.js';
import type { ContainerRecord } from '../engine/container-types.js';
import { resolveUser } from '../runtime/user.js';
import { invalid } from '../util/errors.js';
import { sendJson } from './http-util.js';
import type { RouteContext, Router } from './router.js';

const statHeader = (stat: PathStat) => Buffer.from(JSON.stringify(stat)).toString('base64');

function requiredPath(ctx: RouteContext): string {
  const p = ctx.query.string('path');
  if (!p) throw invalid('bad parameter: path cannot be empty');
  return p;
}

async function containerRoot(ctx: RouteContext): Promise<{ record: ContainerRecord; root: ContainerRoot; changesDir: string; driver: string }> {
  const { record, rootfs, changesDir, driver } = await ctx.engine.containers.filesystemOf(ctx.params.id!);
  return { record, root: { rootfs, name: ctx.params.id!, ids: ctx.engine.containers.idMappingsOf(record) }, changesDir, driver };
}

/**
 * The root a `cp` path is read from or written to, and the path inside it, as the container sees them:
 * a running container's own view (/proc/PID/root, volumes, binds and tmpfs mounts included); for a stopped
 * one, the source of a volume or bind mount the path is in, else the container's filesystem.
 */
async function archiveRoot(ctx: RouteContext, containerPath: string): Promise<{ record: ContainerRecord; root: ContainerRoot; path: string; readOnly: boolean }> {
  const record = ctx.engine.containers.get(ctx.params.id!);
  const name = ctx.params.id!;
  const ids = ctx.engine.containers.idMappingsOf(record);
  const clean = path.posix.normalize(`/${containerPath}`);
  const under = (record.Mounts ?? [])
    .filter((m) => clean === m.Destination || clean.startsWith(`${m.Destination}/`))
    .sort((a, b) => b.Destination.length - a.Destination.length)[0];
  const readOnly = under ? !under.RW : record.HostConfig.ReadonlyRootfs === true;
  const mount = under?.Type === 'tmpfs' ? undefined : under;
  if (record.State.Running && record.State.Pid > 0) {
    return { record, root: { rootfs: `/proc/${record.State.Pid}/root`, name, ids }, path: containerPath, readOnly };
  }
  if (mount) {
    const rest = clean.slice(mount.Destination.length) || '/';
    return { record, root: { rootfs: mount.Source, name, ids }, path: containerPath.endsWith('/') && !rest.endsWith('/') ? `${rest}/` : rest, readOnly };
  }
  const { rootfs } = await ctx.engine.containers.filesystemOf(name);
  return { record, root: { rootfs, name, ids }, path: containerPath, readOnly };
}

function emit(ctx: RouteContext, record: ContainerRecord, action: string): void {
  ctx.engine.events.emit('container', action, record.Id, { ...(record.Config.Labels ?? {}), image: record.Config.Image, name: record.Name.slice(1) });
}

/** Streams a tar out; a client that goes away is not an error worth logging. */
async function sendTar(ctx: RouteContext, stream: Readable, headers: Record<string, string> = {}): Promise<void> {
  const res = ctx.res!;
  res.writeHead(200, { 'Content-Type': 'application/x-tar', ...headers });
  try {
    await pipeline(stream, res);
  } catch (err) {
    if (res.destroyed || res.writableEnded) return;
    throw err;
  }
}

/** Reads what is left of a request body, so the client sees our answer rather than a reset connection. */
async function drain(req: Readable): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  req.unpipe();
  await new Promise<void>((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
    req.once('error', () => resolve());
    req.resume();
  });
}

/** The container file APIs: archive (HEAD, GET, PUT), changes, export (Docker Engine API 1.44). */
export function archiveRoutes(router: Router): void {
  // HEAD first: the router would otherwise answer a HEAD with the GET route.
  router.add('HEAD', '/containers/{id}/archive', async (ctx) => {
    const { root, path: p } = await archiveRoot(ctx, requiredPath(ctx));
    ctx.res!.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(statPath(root, p)) });
    ctx.res!.end();
  });

  router.add('GET', '/containers/{id}/archive', async (ctx) => {
    const { record, root, path: p } = await archiveRoot(ctx, requiredPath(ctx));
    const { stat, stream } = archivePath(root, p);
    emit(ctx, record, 'archive-path');
    await sendTar(ctx, stream, { 'X-Docker-Container-Path-Stat': statHeader(stat) });
  });

  router.add('PUT', '/containers/{id}/archive', async (ctx) => {
    try {
      const { record, root, path: p, readOnly } = await archiveRoot(ctx, requiredPath(ctx));
      // copyUIDGID: Docker gives the files the container's user (when it has one) instead of the archive's owners.
      const user = ctx.query.bool('copyUIDGID') && record.Config.User ? resolveUser((await ctx.engine.containers.filesystemOf(record.Id)).rootfs, record.Config.User) : undefined;
      await extractInto(root, p, ctx.req, {
        noOverwriteDirNonDir: ctx.query.bool('noOverwriteDirNonDir'),
        owner: user ? { uid: user.uid, gid: user.gid } : undefined,
        readOnly,
      });
      emit(ctx, record, 'extract-to-dir');
    } catch (err) {
      await drain(ctx.req);
      throw err;
    }
    ctx.res!.writeHead(200, { 'Content-Length': '0' });
    ctx.res!.end();
  });

  router.add('GET', '/containers/{id}/changes', async (ctx) => {
    const { record, root, changesDir, driver } = await containerRoot(ctx);
    const snapshots = path.join(ctx.engine.options.dataDir, 'storage', 'snapshots');
    // Topmost layer first, as overlayfs stacks them (for copy, the top snapshot is the whole image).
    const lowerDirs = record.chainIds.map((id) => path.join(snapshots, id.replace(/^sha256:/, ''))).reverse();
    const mounts = (record as { Mounts?: Array<{ Destination?: string }> }).Mounts ?? [];
    const mountPoints = mounts.map((m) => m.Destination).filter((d): d is string => typeof d === 'string');
    sendJson(ctx.res!, 200, await changes({ driver, changesDir, lowerDirs, mountPoints, ids: record.idMappedRootfs ? root.ids : undefined }));
  });

  router.add('GET', '/containers/{id}/export', async (ctx) => {
    const { record, root } = await containerRoot(ctx);
    const stream = exportRootfs(root);
    emit(ctx, record, 'export');
    await sendTar(ctx, stream);
  });
}
