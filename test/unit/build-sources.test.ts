import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import { archiveAt, decompressed, isTarHeader, localArchive } from '../../src/build/add-sources.js';
import { sniffCompression as compressionOf } from '../../src/fs/decompress.js';
import { checkPlatform, platformArgs } from '../../src/build/platform.js';
import { missingPart, removeStub, runMounts } from '../../src/build/run-mounts.js';
import { hostPlatform } from '../../src/registry/manifests.js';
import { readTar } from '../helpers/tar-read.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'roost-build-unit-'));

test('local archives are recognised by content in every compression ADD unpacks; other files are not archives', async (t) => {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'tree'));
  fs.writeFileSync(path.join(dir, 'tree', 'hello.txt'), 'hello\n');
  execFileSync('tar', ['-cf', path.join(dir, 'plain.bin'), '-C', path.join(dir, 'tree'), '.']);
  for (const [tool, name] of [['gzip', 'g.bin'], ['bzip2', 'b.bin'], ['xz', 'x.bin']] as const) {
    fs.writeFileSync(path.join(dir, name), execFileSync(tool, ['-c', path.join(dir, 'plain.bin')]));
  }
  fs.writeFileSync(path.join(dir, 'text.tar'), 'not a tar at all, whatever the name says\n'.repeat(20));
  fs.writeFileSync(path.join(dir, 'text.gz'), execFileSync('gzip', ['-c', path.join(dir, 'text.tar')]));
  t.is(await localArchive(path.join(dir, 'plain.bin')), 'none');
  t.is(await localArchive(path.join(dir, 'g.bin')), 'gzip');
  t.is(await localArchive(path.join(dir, 'b.bin')), 'bzip2');
  t.is(await localArchive(path.join(dir, 'x.bin')), 'xz');
  t.is(await localArchive(path.join(dir, 'text.tar')), undefined);
  t.is(await localArchive(path.join(dir, 'text.gz')), undefined, 'compressed, but no tar inside');
  t.is(compressionOf(Buffer.from('BZh91AY')), 'bzip2');
  t.false(isTarHeader(Buffer.alloc(512)));
  // The xz stream decompresses to the same tar.
  const chunks: Buffer[] = [];
  for await (const c of decompressed(path.join(dir, 'x.bin'), 'xz')) chunks.push(c as Buffer);
  t.deepEqual(Buffer.concat(chunks), fs.readFileSync(path.join(dir, 'plain.bin')));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function entries(tar: Readable): Promise<Array<[string, string | undefined, number]>> {
  return (await readTar(tar)).map(({ header }) => [header.name, header.linkname ?? undefined, header.uid ?? -1]);
}

function archive(names: Array<{ name: string; type?: 'file' | 'directory' | 'link'; linkname?: string }>): Readable {
  const pack = tarPack();
  for (const e of names) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, uid: 7, gid: 7, mode: 0o644 }, e.type === 'file' || !e.type ? 'x' : undefined);
  pack.finalize();
  return Readable.from(pack as unknown as AsyncIterable<Buffer>);
}

test('archive entries move under the destination (hard links too), keep their owners unless --chown, and may not leave it', async (t) => {
  t.deepEqual(await entries(archiveAt(archive([{ name: './', type: 'directory' }, { name: './a' }, { name: 'b', type: 'link', linkname: './a' }]), '/opt/x', undefined, '')), [
    ['opt/x/a', undefined, 7], ['opt/x/b', 'opt/x/a', 7],
  ]);
  t.deepEqual(await entries(archiveAt(archive([{ name: 'a' }]), '/', { uid: 5, gid: 5 }, '')), [['a', undefined, 5]]);
  await t.throwsAsync(entries(archiveAt(archive([{ name: 'ok' }, { name: '../../etc/passwd' }]), '/opt/x', undefined, 'Dockerfile:3: ADD a.tar: ')),
    { message: 'Dockerfile:3: ADD a.tar: archive entry "../../etc/passwd" points outside the destination' });
});

test('secret mounts: a scratch file bound read-only at /run/secrets/<id>, removed afterwards; ssh is refused; mount stubs are cleaned', (t) => {
  const dataDir = tmp();
  fs.mkdirSync(path.join(dataDir, 'tmp'));
  const secrets = { token: Buffer.from('s3cret') };
  const base = { where: 'Dockerfile:4: ', dataDir, contextSource: () => undefined, secrets };
  const mounts = runMounts({ ...base, specs: ['type=secret,id=token', 'type=secret,id=absent', 'type=secret,id=token,target=/etc/tok,mode=0440'] });
  t.is(mounts.binds.length, 2, 'a missing secret that is not required is left out');
  const [file, target, ro] = mounts.binds[0]!.split(':');
  t.deepEqual([target, ro], ['/run/secrets/token', 'ro']);
  t.is(fs.readFileSync(file!, 'utf8'), 's3cret');
  t.is(fs.statSync(file!).mode & 0o777, 0o400);
  t.is(fs.statSync(mounts.binds[1]!.split(':')[0]!).mode & 0o777, 0o440);
  t.deepEqual(mounts.stubs, ['/run/secrets/token', '/etc/tok']);
  mounts.cleanup();
  t.false(fs.existsSync(file!));
  t.throws(() => runMounts({ ...base, specs: ['type=secret,id=absent,required=true'] }), { message: 'Dockerfile:4: secret "absent" is required but was not given' });
  t.throws(() => runMounts({ ...base, specs: ['type=secret,id=token,env=TOKEN'] }), { message: 'Dockerfile:4: RUN --mount=type=secret: option env= is not supported (id, target, required, mode, uid, gid are)' });
  t.throws(() => runMounts({ ...base, specs: ['type=ssh'] }), { message: /^Dockerfile:4: RUN --mount=type=ssh is not supported/ });
  t.throws(() => runMounts({ ...base, specs: ['type=nfs,target=/x'] }), { message: /^Dockerfile:4: RUN --mount=type=nfs is unknown/ });
  t.deepEqual(fs.readdirSync(path.join(dataDir, 'tmp')), [], 'no scratch left after errors');

  const rootfs = tmp();
  fs.mkdirSync(path.join(rootfs, 'run'));
  t.is(missingPart(rootfs, '/run/secrets/token'), 'run/secrets');
  t.is(missingPart(rootfs, '/run'), undefined);
  const upper = tmp();
  fs.mkdirSync(path.join(upper, 'run/secrets'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'run/secrets/token'), '');
  fs.writeFileSync(path.join(upper, 'run/kept'), 'written by the step');
  removeStub(upper, 'run/secrets', '/run/secrets/token');
  t.deepEqual(fs.readdirSync(path.join(upper, 'run')), ['kept'], 'the stub and its new parent go, the step\'s files stay');
  for (const d of [dataDir, rootfs, upper]) fs.rmSync(d, { recursive: true, force: true });
});

test('platforms: the host\'s own is accepted, any other refused with a clear message; automatic ARGs', (t) => {
  const host = hostPlatform();
  const hostText = `${host.os}/${host.architecture}`;
  t.deepEqual(checkPlatform(hostText, '--platform'), host);
  t.deepEqual(checkPlatform(undefined, '--platform'), host);
  const other = host.architecture === 's390x' ? 'linux/arm64' : 'linux/s390x';
  t.throws(() => checkPlatform(other, 'Dockerfile:1: FROM --platform'), { message: `Dockerfile:1: FROM --platform ${other} is not this host's platform (${[host.os, host.architecture, host.variant].filter(Boolean).join('/')}): Roost builds only for the host's platform` });
  t.throws(() => checkPlatform('linux', '--platform'), { message: /^--platform: invalid platform "linux"/ });
  t.like(platformArgs(host), { TARGETOS: 'linux', TARGETARCH: host.architecture, BUILDARCH: host.architecture, TARGETPLATFORM: [host.os, host.architecture, host.variant].filter(Boolean).join('/') });
});
