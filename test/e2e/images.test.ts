import anyTest, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import tar from 'tar-stream';
import { execa } from 'execa';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: images (skipped)', (t) => { t.log(skip); t.pass(); });

test.before((t) => { t.context.roost = new RoostEnv('images'); });
test.after.always(async (t) => { await t.context.roost?.destroy(); });

async function tarOf(entries: Array<{ name: string; data?: Buffer | string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'symlink' || e.type === 'link') pack.entry({ name: e.name, type: e.type, linkname: e.linkname });
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', mode: 0o755 });
    else pack.entry({ name: e.name, mode: 0o644 }, e.data ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A docker-archive with one layer made of `layerEntries`; `diffId` may be forced to lie. */
async function dockerArchive(name: string, layer: Buffer, opts: { diffId?: string } = {}): Promise<Buffer> {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [opts.diffId ?? `sha256:${sha(layer)}`] } });
  const configName = `${sha(config)}.json`;
  return tarOf([
    { name: configName, data: config },
    { name: 'layer/layer.tar', data: layer },
    { name: 'manifest.json', data: JSON.stringify([{ Config: configName, RepoTags: [name], Layers: ['layer/layer.tar'] }]) },
  ]);
}

e2e('load of a docker-archive, then images, inspect, history, tag and --format', async (t) => {
  const { roost } = t.context;
  const load = await roost.roost(['load', '-i', roost.busyboxArchive()]);
  t.is(load.stdout, 'Loaded image: busybox:latest\n', load.stderr);
  const images = await roost.roost(['images', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}']);
  t.regex(images.stdout, /^busybox:latest \d+(\.\d+)?MB\n$/);
  t.is((await roost.roost(['tag', 'busybox', 'example.com/team/box:v1'])).exitCode, 0);
  const tagged = await roost.roost(['images', '--format', '{{.Repository}}:{{.Tag}}', 'example.com/team/box']);
  t.is(tagged.stdout, 'example.com/team/box:v1\n');
  const ids = await roost.roost(['images', '-q']);
  t.is(ids.stdout.trim().split('\n').length, 1, 'one image under two names');
  const inspect = await roost.roost(['image', 'inspect', '-f', '{{json .Config.Cmd}} {{.Os}} {{len .RootFS.Layers}}', 'busybox']);
  t.is(inspect.stdout, '["sh"] linux 1\n');
  const history = await roost.roost(['history', '--format', '{{.CreatedBy}}', 'busybox']);
  t.regex(history.stdout, /busybox-static/);
  const digests = await roost.roost(['images', '--digests', '--format', '{{.Digest}}', 'busybox']);
  t.regex(digests.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const dangling = await roost.roost(['images', '-f', 'dangling=true', '-q']);
  t.is(dangling.stdout, '');
});

e2e('save then load round-trips, including through stdin and gzip', async (t) => {
  const { roost } = t.context;
  const file = path.join(roost.base, 'saved.tar');
  const save = await roost.roost(['save', '-o', file, 'busybox']);
  t.is(save.exitCode, 0, save.stderr);
  const entries = (await execa('tar', ['-tf', file])).stdout.split('\n');
  t.true(entries.includes('manifest.json') && entries.includes('index.json') && entries.includes('oci-layout'), 'docker-archive that is also an OCI layout');
  t.is((await roost.roost(['rmi', 'busybox', 'example.com/team/box:v1'])).exitCode, 0);
  t.is((await roost.roost(['images', '-q'])).stdout, '');
  const gz = path.join(roost.base, 'saved.tar.gz');
  fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(file)));
  const load = await roost.roost(['load'], { inputFile: gz });
  t.is(load.stdout, 'Loaded image: busybox:latest\n', load.stderr);
  const run = await roost.roost(['run', '--rm', 'busybox', 'echo', 'reloaded']);
  t.is(run.stdout, 'reloaded\n');
});

e2e('an OCI archive (index.json only) loads with its ref.name', async (t) => {
  const { roost } = t.context;
  const layer = await tarOf([{ name: 'hello.txt', data: 'hi\n' }]);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] } });
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${sha(layer)}`, size: layer.length }] });
  const index = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha(manifest)}`, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'localhost/oci/hello:1' } }] });
  const archive = await tarOf([
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: index },
    { name: `blobs/sha256/${sha(config)}`, data: config },
    { name: `blobs/sha256/${sha(manifest)}`, data: manifest },
    { name: `blobs/sha256/${sha(layer)}`, data: layer },
  ]);
  const load = await roost.roost(['load'], { input: archive });
  t.is(load.stdout, 'Loaded image: localhost/oci/hello:1\n', load.stderr);
  t.is((await roost.roost(['rmi', 'localhost/oci/hello:1'])).exitCode, 0);
});

e2e('hostile or broken archives are refused with one line, exit 125, and nothing stored is lost', async (t) => {
  const { roost } = t.context;
  const before = (await roost.roost(['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).stdout;
  t.regex(before, /busybox:latest/);
  const traversal = await dockerArchive('evil/traversal:1', await tarOf([{ name: '../../escaped.txt', data: 'x' }]));
  const symlinkEscape = await dockerArchive('evil/symlink:1', await tarOf([{ name: 'etc', type: 'symlink', linkname: '/tmp' }, { name: 'etc/owned', data: 'x' }]));
  const hardlinkEscape = await dockerArchive('evil/hardlink:1', await tarOf([{ name: 'passwd', type: 'link', linkname: '../../../../etc/passwd' }]));
  const mismatch = await dockerArchive('evil/mismatch:1', await tarOf([{ name: 'a', data: 'a' }]), { diffId: `sha256:${'1'.repeat(64)}` });
  const good = await dockerArchive('fine/image:1', await tarOf([{ name: 'a', data: 'a' }]));
  const cases: Array<[string, Buffer, RegExp]> = [
    ['not a tar', Buffer.from('this is not an archive at all\n'.repeat(40)), /not a valid tar|neither manifest/],
    ['truncated', good.subarray(0, Math.floor(good.length / 2)), /not a valid tar|missing|truncated|unexpected end/i],
    ['path traversal', traversal, /escapes|outside|\.\./],
    ['symlink escape', symlinkEscape, /symlink/],
    ['hardlink escape', hardlinkEscape, /escapes|outside|\.\./],
    ['diff id mismatch', mismatch, /does not match/],
    ['empty', Buffer.alloc(0), /empty/],
  ];
  for (const [what, archive, pattern] of cases) {
    const result = await roost.roost(['load'], { input: archive });
    t.is(result.exitCode, 125, `${what}: ${result.stderr}`);
    t.regex(result.stderr, pattern, what);
    t.is(result.stderr.trim().split('\n').filter((l) => !l.startsWith('hint:')).length, 1, `${what}: one line`);
  }
  t.false(fs.existsSync('/tmp/owned'), 'nothing written through the symlink');
  t.is((await roost.roost(['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).stdout, before);
  const run = await roost.roost(['run', '--rm', 'busybox', 'echo', 'still here']);
  t.is(run.stdout, 'still here\n');
});

e2e('rmi refuses an image a container uses; import (with --change) makes an image from a rootfs tarball; rmi of an unknown image fails', async (t) => {
  const { roost } = t.context;
  await roost.roost(['create', '--name', 'user1', 'busybox', 'true']);
  const refused = await roost.roost(['rmi', 'busybox']);
  t.is(refused.exitCode, 125);
  t.regex(refused.stderr, /being used by a container/);
  await roost.roost(['rm', 'user1']);
  const rootfs = await tarOf([{ name: 'bin/', type: 'directory' }, { name: 'greeting', data: 'imported\n' }]);
  const imported = await roost.roost(['import', '-c', 'CMD ["/greet"]', '-c', 'ENV MOOD=glad', '-m', 'from a tarball', '-', 'imported/rootfs:1'], { input: rootfs });
  t.regex(imported.stdout, /^sha256:[0-9a-f]{64}\n$/, imported.stderr);
  const config = await roost.roost(['image', 'inspect', '-f', '{{json .Config.Cmd}} {{json .Config.Env}}', 'imported/rootfs:1']);
  t.is(config.stdout, '["/greet"] ["MOOD=glad"]\n');
  const badChange = await roost.roost(['import', '-c', 'RUN rm -rf /', '-', 'imported/bad:1'], { input: rootfs });
  t.is(badChange.exitCode, 125);
  t.regex(badChange.stderr, /RUN is not supported by --change/);
  t.is((await roost.roost(['images', '-q', 'imported/rootfs'])).stdout.trim().length, 12);
  t.is((await roost.roost(['rmi', 'imported/rootfs:1'])).exitCode, 0);
  const missing = await roost.roost(['rmi', 'no/such:image']);
  t.is(missing.exitCode, 125);
  t.regex(missing.stderr, /No such image/);
});

const podman = fs.existsSync('/usr/bin/podman');
(skip || !podman ? test.skip : test.serial)('an archive from podman save loads into roost, and one from roost save loads into podman', async (t) => {
  const { roost } = t.context;
  const env = { ...roost.env, HOME: roost.base, XDG_CONFIG_HOME: path.join(roost.base, 'pconf'), XDG_DATA_HOME: path.join(roost.base, 'pdata') };
  const podmanArgs = ['--root', path.join(roost.base, 'podman-root'), '--runroot', path.join(roost.env.XDG_RUNTIME_DIR!, 'podman-run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  const pod = (args: string[]) => execa('podman', [...podmanArgs, ...args], { env, reject: false });
  t.is((await pod(['load', '-i', roost.busyboxArchive('podbox:1')])).exitCode, 0);
  const fromPodman = path.join(roost.base, 'from-podman.tar');
  const saved = await pod(['save', '-o', fromPodman, 'podbox:1']);
  t.is(saved.exitCode, 0, saved.stderr);
  const load = await roost.roost(['load', '-i', fromPodman]);
  t.is(load.stdout, 'Loaded image: localhost/podbox:1\n', load.stderr);
  const run = await roost.roost(['run', '--rm', 'localhost/podbox:1', 'sh', '-c', 'echo $((6*7))']);
  t.is(run.stdout, '42\n', run.stderr);
  const fromRoost = path.join(roost.base, 'from-roost.tar');
  t.is((await roost.roost(['save', '-o', fromRoost, 'busybox'])).exitCode, 0);
  const podLoad = await pod(['load', '-i', fromRoost]);
  t.is(podLoad.exitCode, 0, podLoad.stderr);
  const podImages = await pod(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  t.regex(podImages.stdout, /busybox:latest/);
  await pod(['system', 'reset', '-f']);
  await execa('podman', ['unshare', 'rm', '-rf', path.join(roost.base, 'podman-root')], { env, reject: false });
  // podman leaves its rootless pause processes behind: end those started with this test's runtime dir.
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('catatonit')) continue;
      if (fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`XDG_RUNTIME_DIR=${roost.env.XDG_RUNTIME_DIR}`)) process.kill(Number(pid), 'SIGKILL');
    } catch { /* gone, or not ours */ }
  }
});
