import anyTest, { type TestFn } from 'ava';
import { createHash } from 'node:crypto';
import tar from 'tar-stream';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';

// One conformance suite, run through the whole product against every snapshotter driver.
const skip = e2eUnavailable();
const drivers = ['overlay', 'fuse-overlayfs', 'copy'] as const;
const test = anyTest as TestFn<Record<string, RoostEnv>>;

type Entry = { name: string; data?: string; type?: 'directory' | 'symlink'; linkname?: string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', mode: 0o755 });
    else if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    else pack.entry({ name: e.name, mode: 0o644, uid: 33, gid: 33 }, e.data ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** busybox's layer plus two more: the second deletes a file (whiteout) and empties a dir (opaque). */
async function layeredArchive(busybox: Buffer): Promise<Buffer> {
  const extract = tar.extract();
  const files = new Map<string, Buffer>();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => { files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks)); next(); });
  });
  extract.end(busybox);
  await new Promise((r) => extract.on('finish', r));
  const manifest = JSON.parse(files.get('manifest.json')!.toString())[0];
  const base = files.get(manifest.Layers[0])!;
  const layer2 = await tarOf([{ name: 'data/', type: 'directory' }, { name: 'data/keep.txt', data: 'keep\n' }, { name: 'data/gone.txt', data: 'gone\n' },
    { name: 'cache/', type: 'directory' }, { name: 'cache/old1', data: '1' }, { name: 'cache/old2', data: '2' }, { name: 'link', type: 'symlink', linkname: '/data/keep.txt' }]);
  const layer3 = await tarOf([{ name: 'data/.wh.gone.txt' }, { name: 'cache/', type: 'directory' }, { name: 'cache/.wh..wh..opq' }, { name: 'cache/new', data: 'new\n' }]);
  const layers = [base, layer2, layer3];
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'], Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha(l)}`) } });
  const pack = tar.pack();
  pack.entry({ name: 'config.json' }, config);
  layers.forEach((l, i) => pack.entry({ name: `l${i}/layer.tar` }, l));
  pack.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: 'config.json', RepoTags: ['layered:1'], Layers: layers.map((_, i) => `l${i}/layer.tar`) }]));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

for (const driver of drivers) {
  const e2e = skip ? test.skip : test.serial;
  test.before(async (t) => {
    const env = new RoostEnv(`st-${driver}`);
    env.env.ROOST_STORAGE_DRIVER = driver;
    t.context[driver] = env;
  });

  e2e(`${driver}: layers apply in order with whiteouts, opaque dirs, owners and symlinks`, async (t) => {
    const roost = t.context[driver]!;
    const fs = await import('node:fs');
    const load = await roost.roost(['load'], { input: await layeredArchive(fs.readFileSync(roost.busyboxArchive())) });
    t.is(load.exitCode, 0, load.stderr);
    const info = await roost.roost(['info', '--format', '{{.Driver}}']);
    t.is(info.stdout, `${driver}\n`);
    const view = await roost.roost(['run', '--rm', 'layered:1', 'sh', '-c', 'ls /data /cache; cat /link; stat -c "%u:%g" /data/keep.txt']);
    t.is(view.stdout, '/cache:\nnew\n\n/data:\nkeep.txt\nkeep\n33:33\n', view.stderr);
  });

  e2e(`${driver}: --userns=keep-id sees the same layers, whiteouts and owners`, async (t) => {
    const roost = t.context[driver]!;
    const view = await roost.roost(['run', '--rm', '--userns=keep-id', 'layered:1', 'sh', '-c', 'ls /data /cache; cat /link; stat -c "%u:%g" /data/keep.txt /bin/busybox']);
    t.is(view.stdout, '/cache:\nnew\n\n/data:\nkeep.txt\nkeep\n33:33\n0:0\n', view.stderr);
    // Its changes are only what it wrote (the copy driver compares owners through the mapping).
    t.is((await roost.roost(['run', '--name', 'kid', '--userns=keep-id', 'layered:1', 'sh', '-c', 'echo x > /tmp/x'])).exitCode, 0);
    t.is((await roost.roost(['diff', 'kid'])).stdout, 'C /tmp\nA /tmp/x\n');
    await roost.roost(['rm', 'kid']);
  });

  e2e(`${driver}: a container's writes stay in that container and survive a restart`, async (t) => {
    const roost = t.context[driver]!;
    await roost.roost(['create', '--name', 'writer', 'layered:1', 'sh', '-c', 'echo changed > /data/keep.txt; rm /cache/new; touch /made; sleep 300']);
    const started = await roost.roost(['start', 'writer']);
    t.is(started.exitCode, 0, started.stderr);
    await new Promise((r) => setTimeout(r, 400));
    const inside = await roost.roost(['exec', 'writer', 'sh', '-c', 'cat /data/keep.txt; ls /cache | wc -l; ls /made']);
    t.is(inside.stdout, 'changed\n0\n/made\n');
    const other = await roost.roost(['run', '--rm', 'layered:1', 'sh', '-c', 'cat /data/keep.txt; ls /cache; ls /made 2>&1 | grep -c "No such"']);
    t.is(other.stdout, 'keep\nnew\n1\n', 'the image and other containers do not see the changes');
    t.is((await roost.roost(['restart', '-t', '0', 'writer'])).exitCode, 0);
    const after = await roost.roost(['exec', 'writer', 'cat', '/data/keep.txt']);
    t.is(after.stdout, 'changed\n');
    t.is((await roost.roost(['rm', '-f', 'writer'])).exitCode, 0);
    t.is((await roost.roost(['rmi', 'layered:1'])).exitCode, 0);
  });

  test.after.always(async (t) => { await t.context[driver]?.destroy(); });
}
if (skip) test('end-to-end: storage drivers (skipped)', (t) => { t.log(skip); t.pass(); });
