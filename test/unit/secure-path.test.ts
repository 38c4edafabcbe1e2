import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { archivePath, changes, cleanContainerPath, extractInto, goBase, goFileMode, MAX_SYMLINKS, resolveInRoot, statPath } from '../../src/engine/container-files.js';
import { applyLayer } from '../../src/fs/layer-apply.js';
import { EngineError } from '../../src/util/errors.js';
import { readTar } from '../helpers/tar-read.js';

/** A fake container root with hostile symlinks, and a directory beside it standing for the host. */
async function sandbox(t: ExecutionContext): Promise<{ root: string; host: string }> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'roost-secure-path-'));
  t.teardown(() => fsp.rm(base, { recursive: true, force: true }));
  const root = path.join(base, 'rootfs');
  const host = path.join(base, 'host');
  for (const dir of ['etc', 'tmp/d/sub', 'var/lib']) await fsp.mkdir(path.join(root, dir), { recursive: true });
  await fsp.mkdir(host);
  await fsp.writeFile(path.join(root, 'etc/passwd'), 'container passwd\n');
  await fsp.writeFile(path.join(host, 'secret'), 'host secret\n');
  fs.symlinkSync('/', path.join(root, 'a'));
  fs.symlinkSync('../../..', path.join(root, 'b'));
  fs.symlinkSync('../../../../../etc', path.join(root, 'var/lib/up'));
  fs.symlinkSync(path.join(host), path.join(root, 'hostlink'));
  fs.symlinkSync('/loop2', path.join(root, 'loop1'));
  fs.symlinkSync('/loop1', path.join(root, 'loop2'));
  fs.symlinkSync('d', path.join(root, 'tmp/rel'));
  fs.symlinkSync('/nowhere/at/all', path.join(root, 'dangling'));
  return { root, host };
}

test('resolveInRoot keeps absolute and climbing symlinks inside the root', async (t) => {
  const { root } = await sandbox(t);
  const follow = { followFinal: true };
  t.is(resolveInRoot(root, '/a/etc/passwd', follow).path, '/etc/passwd');
  t.is(resolveInRoot(root, '/a/etc/passwd', follow).hostPath, path.join(root, 'etc/passwd'));
  t.is(resolveInRoot(root, '/b/etc/passwd', follow).path, '/etc/passwd');
  t.is(resolveInRoot(root, '/var/lib/up/passwd', follow).path, '/etc/passwd');
  t.is(resolveInRoot(root, '/a/a/a/b/a/etc', follow).path, '/etc');
  t.is(resolveInRoot(root, '../../../etc/passwd', follow).path, '/etc/passwd');
  t.is(resolveInRoot(root, '/tmp/rel/sub', follow).path, '/tmp/d/sub');
  // An absolute host path stored in a link means the container's own path of that name.
  t.is(resolveInRoot(root, '/hostlink/secret', follow).hostPath, path.join(root, path.relative('/', resolveInRoot(root, '/hostlink', follow).path), 'secret'));
  t.true(resolveInRoot(root, '/hostlink/secret', follow).hostPath.startsWith(`${root}/`));
  t.is(resolveInRoot(root, '/dangling', follow).path, '/nowhere/at/all');
});

test('resolveInRoot follows the final symlink only when asked or when the path asserts a directory', async (t) => {
  const { root } = await sandbox(t);
  t.is(resolveInRoot(root, '/a', { followFinal: false }).path, '/a');
  t.is(resolveInRoot(root, '/a', { followFinal: true }).path, '/');
  t.is(resolveInRoot(root, '/a/', { followFinal: false }).path, '/');
  t.is(resolveInRoot(root, '/tmp/rel/.', { followFinal: false }).path, '/tmp/d');
  // A `..` the user wrote is lexical (as Docker cleans it), not resolved through the link.
  t.is(resolveInRoot(root, '/tmp/rel/../etc', { followFinal: true }).path, '/tmp/etc');
});

test('resolveInRoot refuses symlink loops and more than 40 links with a clear error', async (t) => {
  const { root } = await sandbox(t);
  const loop = t.throws(() => resolveInRoot(root, '/loop1/x', { followFinal: true }), { instanceOf: EngineError });
  t.regex(loop!.message, /too many levels of symbolic links in \/loop1\/x/);
  t.is(loop!.httpStatus, 400);
  // A chain of exactly 40 links resolves; 41 do not (Linux's own limit).
  for (let i = 0; i <= MAX_SYMLINKS; i++) fs.symlinkSync(i === MAX_SYMLINKS ? '/etc' : `/c${i + 1}`, path.join(root, `c${i}`));
  t.is(resolveInRoot(root, '/c1/passwd', { followFinal: true }).path, '/etc/passwd');
  t.throws(() => resolveInRoot(root, '/c0/passwd', { followFinal: true }), { message: /too many levels/ });
  t.throws(() => resolveInRoot(root, '/etc/\0', { followFinal: true }), { message: /NUL/ });
});

test('Docker path helpers: cleaning keeps a trailing slash or dot, Base as Go has it', (t) => {
  t.is(cleanContainerPath('tmp//d/../x/'), '/tmp/x/');
  t.is(cleanContainerPath('/tmp/d/.'), '/tmp/d/.');
  t.is(cleanContainerPath('.'), '/.');
  t.is(cleanContainerPath('/'), '/');
  t.is(goBase('/tmp/d/'), 'd');
  t.is(goBase('/tmp/d/.'), '.');
  t.is(goBase('/'), '/');
});

test('statPath reports Go file modes and the resolved link target', async (t) => {
  const { root } = await sandbox(t);
  const container = { rootfs: root, name: 'c' };
  const dir = statPath(container, '/tmp');
  t.is(dir.name, 'tmp');
  t.is(dir.mode, 2 ** 31 + (fs.statSync(path.join(root, 'tmp')).mode & 0o777));
  const link = statPath(container, '/var/lib/up');
  t.is(link.mode, 2 ** 27 + 0o777);
  t.is(link.linkTarget, '/etc');
  t.regex(link.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  t.throws(() => statPath(container, '/a/nope'), { message: 'Could not find the file /a/nope in container c' });
  const fifoMode = goFileMode({ ...fs.statSync(path.join(root, 'tmp')), isDirectory: () => false, isSymbolicLink: () => false, isBlockDevice: () => false, isCharacterDevice: () => false, isFIFO: () => true, isSocket: () => false, mode: 0o10644 } as fs.Stats);
  t.is(fifoMode, 2 ** 25 + 0o644);
});

async function tarEntries(stream: Readable): Promise<string[]> {
  return (await readTar(stream)).map(({ header }) => (header.type === 'symlink' ? `${header.name} -> ${header.linkname}` : header.name));
}

test('archivePath names entries like Docker and stores inner symlinks as links', async (t) => {
  const { root } = await sandbox(t);
  await fsp.writeFile(path.join(root, 'tmp/d/sub/f'), 'f');
  fs.symlinkSync('/', path.join(root, 'tmp/d/sub/escape'));
  const container = { rootfs: root, name: 'c' };
  t.deepEqual(await tarEntries(archivePath(container, '/tmp/d').stream), ['d/', 'd/sub/', 'd/sub/escape -> /', 'd/sub/f']);
  t.deepEqual(await tarEntries(archivePath(container, '/tmp/d/.').stream), ['./', './sub/', './sub/escape -> /', './sub/f']);
  t.deepEqual(await tarEntries(archivePath(container, '/tmp/rel').stream), ['rel -> d']);
  t.deepEqual(await tarEntries(archivePath(container, '/tmp/rel/').stream), ['rel/', 'rel/sub/', 'rel/sub/escape -> /', 'rel/sub/f']);
  t.deepEqual(await tarEntries(archivePath(container, '/a/etc/passwd').stream), ['passwd']);
});

function tarOf(entries: Array<{ name: string; type?: 'file' | 'symlink' | 'directory'; linkname?: string; content?: string }>): Readable {
  const p = pack();
  for (const { content, ...header } of entries) {
    if ((header.type ?? 'file') === 'file') p.entry(header, content ?? '');
    else p.entry(header);
  }
  p.finalize();
  return Readable.from(p);
}

test('extractInto writes inside the resolved directory and refuses hostile archives', async (t) => {
  const { root, host } = await sandbox(t);
  const container = { rootfs: root, name: 'c' };
  // Outside a user namespace only our own ids can be given (the engine runs as the namespace's root).
  const owner = { uid: process.getuid!(), gid: process.getgid!() };
  await extractInto(container, '/a/tmp', tarOf([{ name: 'new', content: 'n' }, { name: '.wh.kept', content: 'k' }]), { noOverwriteDirNonDir: true, owner });
  t.is(fs.readFileSync(path.join(root, 'tmp/new'), 'utf8'), 'n');
  t.is(fs.readFileSync(path.join(root, 'tmp/.wh.kept'), 'utf8'), 'k');
  await t.throwsAsync(extractInto(container, '/tmp', tarOf([{ name: '../../host/evil', content: 'x' }]), { noOverwriteDirNonDir: false }), { message: /escapes the target directory/ });
  await t.throwsAsync(extractInto(container, '/', tarOf([{ name: 'hostlink/evil', content: 'x' }]), { noOverwriteDirNonDir: false }), { message: /traverses a symlink/ });
  await t.throwsAsync(extractInto(container, '/tmp', tarOf([{ name: 'd', content: 'x' }]), { noOverwriteDirNonDir: true }), { message: /cannot overwrite directory "\/tmp\/d" with non-directory/ });
  await t.throwsAsync(extractInto(container, '/etc/passwd', tarOf([{ name: 'x' }]), { noOverwriteDirNonDir: false }), { message: 'extraction point is not a directory' });
  await t.throwsAsync(extractInto(container, '/nope', tarOf([{ name: 'x' }]), { noOverwriteDirNonDir: false }), { message: 'Could not find the file /nope in container c' });
  t.deepEqual(fs.readdirSync(host), ['secret']);
});

test("applyLayer's 'none' mode keeps .wh. names as ordinary files", async (t) => {
  const { root } = await sandbox(t);
  await applyLayer(tarOf([{ name: 'etc/.wh.passwd', content: 'w' }, { name: 'etc/.wh..wh..opq', content: 'o' }]), root, { whiteouts: 'none', ownership: false });
  t.is(fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8'), 'container passwd\n');
  t.is(fs.readFileSync(path.join(root, 'etc/.wh.passwd'), 'utf8'), 'w');
  t.is(fs.readFileSync(path.join(root, 'etc/.wh..wh..opq'), 'utf8'), 'o');
});

test('changes of a copied root compare it with the image tree as Docker does', async (t) => {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'roost-changes-'));
  t.teardown(() => fsp.rm(base, { recursive: true, force: true }));
  const image = path.join(base, 'image');
  const current = path.join(base, 'current');
  for (const dir of [image, current]) {
    await fsp.mkdir(path.join(dir, 'etc'), { recursive: true });
    await fsp.mkdir(path.join(dir, 'proc'), { recursive: true });
    await fsp.writeFile(path.join(dir, 'etc/passwd'), 'p\n');
    await fsp.writeFile(path.join(dir, 'etc/group'), 'g\n');
    const when = new Date('2024-01-01T00:00:00Z');
    for (const f of ['etc/passwd', 'etc/group']) await fsp.utimes(path.join(dir, f), when, when);
  }
  await fsp.rm(path.join(current, 'etc/group'));
  await fsp.appendFile(path.join(current, 'etc/passwd'), 'x\n');
  await fsp.writeFile(path.join(current, 'new'), '');
  await fsp.writeFile(path.join(current, 'etc/hosts'), ''); // a runtime mount point: not a change
  const list = await changes({ driver: 'copy', changesDir: current, lowerDirs: [image], mountPoints: [] });
  t.deepEqual(list.map((c) => `${'CAD'[c.Kind]} ${c.Path}`), ['C /etc', 'D /etc/group', 'C /etc/passwd', 'A /new']);
});
