// `roost build` against buildah (issue 9): the same Dockerfiles built by both, from the same locally made
// busybox image, must give the same files (type, mode, owner, size, content, link target) in the rootfs, the
// same config fields and the same history length.
import anyTest, { type TestFn } from 'ava';
import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tar from 'tar-stream';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';

const BUILDAH = '/usr/bin/buildah';
const skip = e2eUnavailable() ?? (fs.existsSync(BUILDAH) ? undefined : `${BUILDAH} is missing (scripts/prepare-host.sh --test installs it)`);
const test = anyTest as TestFn<{ roost: RoostEnv; context: string; buildahDir: string }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: build compared with buildah (skipped)', (t) => { t.log(skip); t.pass(); });

/** Every instruction that shapes files or config, on one image. */
const instructions = `ARG BASE=busybox:latest
FROM \${BASE}
ARG VERSION=1.2
ENV APP_HOME=/opt/app EXTRA=\${VERSION}-x
ENV GREETING="hello \${VERSION:-none}" FALLBACK=\${UNSET:-fallback} PLUS=\${VERSION:+set} EMPTY=\${UNSET:+set}
WORKDIR $APP_HOME
COPY a.txt ./
COPY dir/ ./dir/
COPY --chown=1000:1000 bin/run.sh /usr/local/bin/
COPY --chown=33 a.txt owned-by-33.txt
ADD files.tar /opt/unpacked/
RUN mkdir -p /var/data && echo "$GREETING" > /var/data/greeting && chmod 0750 /var/data \\
 && chown 1000:1000 /var/data && ln -s /var/data/greeting /opt/app/link
USER 1000:1000
RUN echo made-by-1000 > /tmp/by-user
LABEL org.example.version=$VERSION description="a test"
EXPOSE 8080 53/udp
VOLUME ["/var/data", "/cache"]
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD ["/bin/sh", "-c", "test -e /var/data/greeting"]
STOPSIGNAL SIGUSR1
ENTRYPOINT ["/usr/local/bin/run.sh"]
CMD ["--flag", "value"]
`;

/** Multi-stage: COPY --from a stage (a directory, a file with --chown), shell-form CMD and ENTRYPOINT. */
const multiStage = `FROM busybox:latest AS build
WORKDIR /src
COPY dir/ ./
RUN echo built > /src/out.txt && chmod 0600 /src/out.txt
FROM busybox:latest AS unused
RUN echo never > /never
FROM busybox:latest
COPY --from=build /src /app
COPY --from=build --chown=7:7 /src/out.txt /owned.txt
WORKDIR /app
ENTRYPOINT echo entry
CMD echo shell form
`;

const configFields = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'Healthcheck', 'StopSignal'] as const;

function buildah(t: { context: { buildahDir: string } }, args: string[], timeout = 60_000) {
  const dir = t.context.buildahDir;
  return execa(BUILDAH, ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'vfs', ...args], { reject: false, timeout });
}

function writeFile(file: string, text: string | Buffer, mode: number) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
}

/** A tar for ADD to unpack: a directory, a file and a symlink, owned by 1234:5678, with their own modes. */
async function makeTar(file: string) {
  const pack = tar.pack();
  const mtime = new Date('2024-01-01T00:00:00Z');
  pack.entry({ name: 'pkg/', type: 'directory', mode: 0o750, uid: 1234, gid: 5678, mtime });
  pack.entry({ name: 'pkg/tool', mode: 0o711, uid: 1234, gid: 5678, mtime }, 'tool\n');
  pack.entry({ name: 'pkg/link', type: 'symlink', linkname: 'tool', uid: 1234, gid: 5678, mtime });
  pack.entry({ name: 'top.txt', mode: 0o640, uid: 0, gid: 0, mtime }, 'top\n');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  fs.writeFileSync(file, Buffer.concat(chunks));
}

type Entry = { type: string; mode: string; owner: string; size: number; sha?: string; link?: string };

/** The entries of a rootfs tar: path → what the comparison looks at (not mtimes). */
async function readRootfs(file: string): Promise<Map<string, Entry>> {
  const entries = new Map<string, Entry>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const hash = crypto.createHash('sha256');
      stream.on('data', (c) => hash.update(c as Buffer));
      stream.on('end', () => {
        const name = `/${header.name.replace(/^\.?\/+/, '').replace(/\/+$/, '')}`;
        entries.set(name, {
          type: header.type ?? 'file', mode: (header.mode ?? 0).toString(8), owner: `${header.uid}:${header.gid}`,
          size: header.size ?? 0, ...(header.type === 'file' ? { sha: hash.digest('hex').slice(0, 16) } : {}),
          ...(header.linkname ? { link: header.linkname } : {}),
        });
        next();
      });
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  fs.createReadStream(file).pipe(extract);
  await done;
  return entries;
}

/**
 * Differences between two rootfs listings, one line each. Not compared: the root itself (buildah's side is a
 * tar of `.`, `roost export` has no entry for it), and an empty /run only buildah's image has: the mount point
 * of the /run its RUN containers get, which buildah leaves in the layer (Docker's builders do not).
 */
function rootfsDiff(roost: Map<string, Entry>, other: Map<string, Entry>): string[] {
  const lines: string[] = [];
  const hasChildren = (name: string) => [...other.keys()].some((k) => k.startsWith(`${name}/`));
  for (const name of [...new Set([...roost.keys(), ...other.keys()])].sort()) {
    const a = roost.get(name);
    const b = other.get(name);
    if (name === '/' || (name === '/run' && !a && b?.type === 'directory' && !hasChildren(name))) continue;
    if (!a) lines.push(`${name}: only in buildah's (${JSON.stringify(b)})`);
    else if (!b) lines.push(`${name}: only in roost's (${JSON.stringify(a)})`);
    else if (JSON.stringify(a) !== JSON.stringify(b)) lines.push(`${name}: roost ${JSON.stringify(a)} vs buildah ${JSON.stringify(b)}`);
  }
  return lines;
}

/** The rootfs of a roost image, as a container of it exports it. */
async function roostRootfs(roost: RoostEnv, image: string, out: string) {
  const name = `export-${image.replace(/\W/g, '-')}`;
  const create = await roost.roost(['create', '--name', name, image]);
  if (create.exitCode !== 0) throw new Error(`roost create ${image}: ${create.stderr.trim()}`);
  const exp = await roost.roost(['export', '-o', out, name]);
  if (exp.exitCode !== 0) throw new Error(`roost export ${name}: ${exp.stderr.trim()}`);
  await roost.roost(['rm', '-f', name]);
  return readRootfs(out);
}

/** The rootfs of a buildah image: a working container of it, mounted and tarred inside buildah's user namespace. */
async function buildahRootfs(t: { context: { buildahDir: string } }, image: string, out: string) {
  const from = await buildah(t, ['from', '--pull=never', image]);
  if (from.exitCode !== 0) throw new Error(`buildah from ${image}: ${from.stderr.trim()}`);
  const container = from.stdout.trim();
  const dir = t.context.buildahDir;
  const flags = `--root ${dir}/root --runroot ${dir}/run --storage-driver vfs`;
  const script = `set -e; mnt=$(${BUILDAH} ${flags} mount ${container}); tar --numeric-owner -C "$mnt" -cf ${out} .`;
  const r = await buildah(t, ['unshare', 'sh', '-c', script]);
  await buildah(t, ['rm', container]);
  if (r.exitCode !== 0) throw new Error(`tar of buildah's ${image}: ${r.stderr.trim()}`);
  return readRootfs(out);
}

async function compare(t: import('ava').ExecutionContext<{ roost: RoostEnv; context: string; buildahDir: string }>, dockerfile: string, image: string, expectFields: readonly string[], extra: string[] = []) {
  const { roost, context } = t.context;
  const file = path.join(context, dockerfile);
  const ours = await roost.roost(['build', '-q', '-t', image, '-f', file, ...extra, context], { timeout: 120_000 });
  t.is(ours.exitCode, 0, `roost build: ${ours.stderr}`);
  const theirs = await buildah(t, ['bud', '--layers', '--format', 'docker', '--pull=never', '-q', '-t', image, '-f', file, ...extra, context], 120_000);
  t.is(theirs.exitCode, 0, `buildah bud: ${theirs.stderr}`);
  if (ours.exitCode !== 0 || theirs.exitCode !== 0) return;

  // Config: the fields the issue names, from `roost image inspect` and `buildah inspect` (Docker format).
  const roostConfig = JSON.parse((await roost.roost(['image', 'inspect', '-f', '{{json .Config}}', image])).stdout);
  const inspected = JSON.parse((await buildah(t, ['inspect', '--type', 'image', image])).stdout);
  const buildahConfig = inspected.Docker.config;
  const pick = (c: Record<string, unknown>) => {
    const out: Record<string, unknown> = {};
    for (const f of configFields) {
      let v = c[f];
      // buildah labels every image it makes with its version; that is buildah's, not the Dockerfile's.
      if (f === 'Labels' && v) v = Object.fromEntries(Object.entries(v as Record<string, string>).filter(([k]) => k !== 'io.buildah.version'));
      // An empty value and an absent one mean the same.
      const empty = v === undefined || v === null || v === '' || (typeof v === 'object' && Object.keys(v as object).length === 0);
      if (!empty) out[f] = v;
    }
    return out;
  };
  t.deepEqual(pick(roostConfig), pick(buildahConfig), 'config fields: roost (actual) vs buildah (expected)');
  t.deepEqual(Object.keys(pick(roostConfig)).sort(), [...expectFields].sort(), 'the config fields the Dockerfile sets (so the comparison above compared something)');

  // History: one entry per instruction of the final stage on top of the base image's.
  const roostHistory = (await roost.roost(['history', '-q', '--no-trunc', image])).stdout.trim().split('\n').length;
  t.is(roostHistory, inspected.Docker.history.length, 'history length: roost vs buildah');
  t.true(roostHistory > 5, `${roostHistory} history entries`);

  const roostFs = await roostRootfs(roost, image, path.join(roost.base, `${image}-roost.tar`));
  const buildahFs = await buildahRootfs(t, image, path.join(roost.base, `${image}-buildah.tar`));
  t.true(roostFs.size > 10, `roost's rootfs has ${roostFs.size} entries`);
  t.deepEqual(rootfsDiff(roostFs, buildahFs), [], 'rootfs differences (path: roost vs buildah)');
  return { roostFs, roostConfig };
}

test.before(async (t) => {
  t.context.roost = new RoostEnv('bcompat');
  if (skip) return;
  const { roost } = t.context;
  t.context.buildahDir = path.join(roost.base, 'buildah');
  await roost.loadBusybox(t as never);
  const pull = await buildah(t as never, ['pull', '-q', `docker-archive:${roost.busyboxArchive()}`]);
  if (pull.exitCode !== 0) throw new Error(`buildah pull docker-archive:busybox.tar failed: ${pull.stderr.trim()}`);
  const context = path.join(roost.base, 'context');
  writeFile(path.join(context, 'a.txt'), 'alpha\n', 0o644);
  writeFile(path.join(context, 'bin', 'run.sh'), '#!/bin/sh\necho run "$@"\n', 0o755);
  writeFile(path.join(context, 'dir', 'one.txt'), 'one\n', 0o600);
  writeFile(path.join(context, 'dir', 'sub', 'two.txt'), 'two\n', 0o640);
  fs.chmodSync(path.join(context, 'dir', 'sub'), 0o750);
  await makeTar(path.join(context, 'files.tar'));
  writeFile(path.join(context, 'Dockerfile.instructions'), instructions, 0o644);
  writeFile(path.join(context, 'Dockerfile.multistage'), multiStage, 0o644);
  t.context.context = context;
});

test.after.always(async (t) => {
  if (t.context.buildahDir && fs.existsSync(t.context.buildahDir)) {
    // buildah's storage holds files of subordinate ids: remove it from inside buildah's user namespace.
    await execa(BUILDAH, ['unshare', 'rm', '-rf', t.context.buildahDir], { reject: false });
  }
  await t.context.roost?.destroy();
});

e2e('ARG, ENV, COPY (files, dirs, --chown), ADD of a tar, RUN, WORKDIR, USER, EXPOSE, VOLUME, LABEL, HEALTHCHECK, STOPSIGNAL, ENTRYPOINT + CMD: the same image as buildah builds', async (t) => {
  const result = await compare(t, 'Dockerfile.instructions', 'compat-instructions', configFields, ['--build-arg', 'VERSION=3.4']);
  if (!result) return;
  // The comparison means something only if the build did what the Dockerfile says (both could be wrong alike).
  const { roostFs, roostConfig } = result;
  t.like(roostFs.get('/usr/local/bin/run.sh'), { owner: '1000:1000', mode: '755' });
  t.like(roostFs.get('/opt/unpacked/pkg/tool'), { owner: '1234:5678', mode: '711' });
  t.like(roostFs.get('/var/data'), { owner: '1000:1000', mode: '750', type: 'directory' });
  t.like(roostFs.get('/tmp/by-user'), { owner: '1000:1000' });
  t.true(roostConfig.Env.includes('GREETING=hello 3.4') && roostConfig.Env.includes('FALLBACK=fallback') && roostConfig.Env.includes('PLUS=set'), JSON.stringify(roostConfig.Env));
});

e2e('multi-stage COPY --from, an unused stage, shell-form ENTRYPOINT and CMD: the same image as buildah builds', async (t) => {
  const result = await compare(t, 'Dockerfile.multistage', 'compat-multistage', ['Env', 'Cmd', 'Entrypoint', 'WorkingDir']);
  if (!result) return;
  t.like(result.roostFs.get('/owned.txt'), { owner: '7:7', mode: '600' });
  t.false(result.roostFs.has('/never'));
});
