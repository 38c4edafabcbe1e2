import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import test, { type ExecutionContext } from 'ava';
import { pack, type Header } from 'tar-stream';
import { applyLayer, type ApplyOptions, type ApplyResult } from '../../src/fs/layer-apply.js';
import { EngineError } from '../../src/util/errors.js';
const execFileAsync = promisify(execFile);

type Entry = Partial<Omit<Header, 'pax'>> & { name: string; content?: string | Buffer; pax?: Record<string, string> };

const T = (seconds: number) => new Date(seconds * 1000);
const DELETE: ApplyOptions = { whiteouts: 'delete', ownership: false };
const OVERLAY: ApplyOptions = { whiteouts: 'overlay', ownership: false };

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const { content, ...header } of entries) {
    const type = header.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file' || type === 'contiguous-file') p.entry(header, content ?? '', cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Feeds `buf` in small pieces (the first one tiny) so sniffing and parsing see chunk boundaries. */
function streamOf(buf: Buffer, first = 3, size = 4093): Readable {
  const pieces: Buffer[] = [];
  if (buf.length > 0) pieces.push(buf.subarray(0, first));
  for (let i = first; i < buf.length; i += size) pieces.push(buf.subarray(i, i + size));
  return Readable.from(pieces);
}

async function sandbox(t: ExecutionContext): Promise<{ base: string; root: string; outside: string }> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'roost-layer-test-'));
  // Layers may leave read-only directories: make them writable again so an unprivileged run can clean up.
  t.teardown(async () => {
    await execFileAsync('chmod', ['-R', 'u+rwX', base]).catch(() => {});
    await fsp.rm(base, { recursive: true, force: true });
  });
  const root = path.join(base, 'root');
  const outside = path.join(base, 'outside');
  await fsp.mkdir(root);
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, 'sentinel'), 'untouched');
  return { base, root, outside };
}

async function apply(entries: Entry[] | Buffer, dir: string, opts: ApplyOptions = DELETE): Promise<ApplyResult> {
  const buf = Buffer.isBuffer(entries) ? entries : await makeTar(entries);
  return applyLayer(streamOf(buf), dir, opts);
}

async function rejectsInvalid(t: ExecutionContext, promise: Promise<unknown>, message: RegExp): Promise<EngineError> {
  const err = await t.throwsAsync(promise, { instanceOf: EngineError, message });
  t.is(err?.code, 'invalid_argument');
  t.false(err?.message.includes('\n'), 'one-line message');
  return err as EngineError;
}

const exists = (p: string) => fs.existsSync(p) || isSymlink(p);
const isSymlink = (p: string) => {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
};
const mode = (p: string) => fs.lstatSync(p).mode & 0o7777;
const mtime = (p: string) => Math.floor(fs.lstatSync(p).mtimeMs / 1000);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    out.push(e.name);
    if (e.isDirectory()) for (const sub of await listAll(path.join(dir, e.name))) out.push(`${e.name}/${sub}`);
  }
  return out.sort();
}

test('files, directories, symlinks and hard links keep content, modes and mtimes', async (t) => {
  const { root } = await sandbox(t);
  const big = randomBytes(1_500_000);
  const result = await apply(
    [
      { name: './', type: 'directory', mode: 0o755, mtime: T(1000) },
      { name: './etc/', type: 'directory', mode: 0o750, mtime: T(1_600_000_000) },
      { name: './etc/hosts', mode: 0o640, mtime: T(1_600_000_100), content: '127.0.0.1 localhost\n' },
      { name: 'etc/hosts.hard', type: 'link', linkname: './etc/hosts', mtime: T(1_600_000_100) },
      { name: 'etc/abs-link', type: 'symlink', linkname: '/etc/hosts', mtime: T(1_500_000_000) },
      { name: 'etc/rel-link', type: 'symlink', linkname: '../usr/does/not/exist' },
      { name: 'usr/local/bin/tool', mode: 0o4755, mtime: T(1_400_000_000), content: big },
      { name: 'usr/local/bin/empty', mode: 0o600, content: '' },
      { name: 'opt/ro/', type: 'directory', mode: 0o555, mtime: T(1_300_000_000) },
      { name: 'opt/ro/file', mode: 0o444, content: 'x' },
      { name: 'opt/ro/sub/', type: 'directory', mode: 0o700, mtime: T(1_300_000_500) },
    ],
    root,
  );
  t.deepEqual(result.skipped, []);

  t.is(fs.readFileSync(path.join(root, 'etc/hosts'), 'utf8'), '127.0.0.1 localhost\n');
  t.is(mode(path.join(root, 'etc/hosts')), 0o640);
  t.is(mtime(path.join(root, 'etc/hosts')), 1_600_000_100);
  t.is(fs.statSync(path.join(root, 'etc/hosts.hard')).ino, fs.statSync(path.join(root, 'etc/hosts')).ino);

  t.is(fs.readlinkSync(path.join(root, 'etc/abs-link')), '/etc/hosts', 'absolute symlink targets are stored as-is');
  t.is(mtime(path.join(root, 'etc/abs-link')), 1_500_000_000);
  t.is(fs.readlinkSync(path.join(root, 'etc/rel-link')), '../usr/does/not/exist');

  t.true(fs.readFileSync(path.join(root, 'usr/local/bin/tool')).equals(big));
  t.is(mode(path.join(root, 'usr/local/bin/tool')), 0o4755);
  t.is(mtime(path.join(root, 'usr/local/bin/tool')), 1_400_000_000);
  t.is(fs.statSync(path.join(root, 'usr/local/bin/empty')).size, 0);
  t.is(mode(path.join(root, 'usr/local/bin/empty')), 0o600);
  // Parents missing from the tar are made 0755.
  t.true(fs.lstatSync(path.join(root, 'usr')).isDirectory());
  t.is(mode(path.join(root, 'usr')), 0o755);
  t.is(mode(path.join(root, 'usr/local/bin')), 0o755);

  // Directory modes and mtimes are applied after their children were written.
  t.is(mode(path.join(root, 'etc')), 0o750);
  t.is(mtime(path.join(root, 'etc')), 1_600_000_000);
  t.is(mode(path.join(root, 'opt/ro')), 0o555);
  t.is(mtime(path.join(root, 'opt/ro')), 1_300_000_000);
  t.is(fs.readFileSync(path.join(root, 'opt/ro/file'), 'utf8'), 'x');
  t.is(mode(path.join(root, 'opt/ro/sub')), 0o700);
  t.is(mtime(path.join(root, 'opt/ro/sub')), 1_300_000_500);
  t.is(mtime(root), 1000);
});

test('gzip is detected, and diffId and size describe the uncompressed tar', async (t) => {
  const { base } = await sandbox(t);
  const tar = await makeTar([
    { name: 'a/', type: 'directory' },
    { name: 'a/file', content: randomBytes(200_000) },
    { name: 'a/b', content: 'hello' },
  ]);
  const gz = zlib.gzipSync(tar);
  const expected = `sha256:${sha256(tar)}`;

  const gzDir = path.join(base, 'gz');
  const fromGz = await applyLayer(streamOf(gz, 1), gzDir, DELETE); // magic split across chunks
  t.is(fromGz.diffId, expected);
  t.not(fromGz.diffId, `sha256:${sha256(gz)}`);
  t.is(fromGz.size, tar.length);
  t.is(fs.readFileSync(path.join(gzDir, 'a/b'), 'utf8'), 'hello');

  const plainDir = path.join(base, 'plain');
  const fromPlain = await applyLayer(streamOf(tar), plainDir, DELETE);
  t.is(fromPlain.diffId, expected);
  t.is(fromPlain.size, tar.length);
  t.deepEqual(await listAll(plainDir), await listAll(gzDir));
});

test('delete mode: whiteouts and opaque markers remove what earlier layers wrote', async (t) => {
  const { root, outside } = await sandbox(t);
  await apply(
    [
      { name: 'a/keep', content: 'keep' },
      { name: 'a/gone', content: 'gone' },
      { name: 'a/subdir/deep/file', content: 'deep' },
      { name: 'b/x', content: 'x' },
      { name: 'b/sub/y', content: 'y' },
      { name: 'b/keepdir/old', content: 'old' },
      { name: 'top', content: 'top' },
      { name: 'c/link', type: 'symlink', linkname: outside },
    ],
    root,
  );
  t.true(exists(path.join(root, 'b/x')));

  await apply(
    [
      // Written before the opaque marker: must survive it.
      { name: 'b/new', content: 'new' },
      { name: 'b/keepdir/inner', content: 'inner' },
      { name: 'a/.wh.gone' },
      { name: 'a/.wh.subdir' },
      { name: '.wh.top' },
      { name: 'b/.wh..wh..opq' },
      { name: 'b/sub/z', content: 'z' },
      { name: 'c/.wh.link' },
      { name: 'd/.wh.nothing' },
    ],
    root,
  );

  t.is(fs.readFileSync(path.join(root, 'a/keep'), 'utf8'), 'keep');
  t.false(exists(path.join(root, 'a/gone')));
  t.false(exists(path.join(root, 'a/subdir')));
  t.false(exists(path.join(root, 'top')));
  t.false(exists(path.join(root, 'b/x')));
  t.false(exists(path.join(root, 'b/sub/y')));
  t.false(exists(path.join(root, 'b/keepdir/old')));
  t.is(fs.readFileSync(path.join(root, 'b/new'), 'utf8'), 'new');
  t.is(fs.readFileSync(path.join(root, 'b/keepdir/inner'), 'utf8'), 'inner');
  t.is(fs.readFileSync(path.join(root, 'b/sub/z'), 'utf8'), 'z');
  t.false(exists(path.join(root, 'c/link')));
  t.false(exists(path.join(root, 'd')), 'a whiteout in a missing directory creates nothing');
  // The symlink was removed, not followed.
  t.is(fs.readFileSync(path.join(outside, 'sentinel'), 'utf8'), 'untouched');
  t.deepEqual(
    (await listAll(root)).filter((p) => p.includes('.wh.')),
    [],
  );
  t.deepEqual(await listAll(root), ['a', 'a/keep', 'b', 'b/keepdir', 'b/keepdir/inner', 'b/new', 'b/sub', 'b/sub/z', 'c']);
});

test('delete mode: an entry replaces a path of another kind without touching hard-linked siblings', async (t) => {
  const { root, outside } = await sandbox(t);
  await apply(
    [
      { name: 'x', content: 'file' },
      { name: 'y/child', content: 'child' },
      { name: 'z', content: 'file' },
      { name: 'w/inner', content: 'inner' },
      { name: 'orig', content: 'orig' },
      { name: 'shared', type: 'link', linkname: 'orig' },
    ],
    root,
  );
  await apply(
    [
      { name: 'x/', type: 'directory', mode: 0o711 },
      { name: 'x/inside', content: 'inside' },
      { name: 'y', content: 'now a file' },
      { name: 'z', type: 'symlink', linkname: 'target' },
      { name: 'w', type: 'symlink', linkname: outside },
      { name: 'shared', content: 'new' },
    ],
    root,
  );
  t.true(fs.lstatSync(path.join(root, 'x')).isDirectory());
  t.is(mode(path.join(root, 'x')), 0o711);
  t.is(fs.readFileSync(path.join(root, 'x/inside'), 'utf8'), 'inside');
  t.is(fs.readFileSync(path.join(root, 'y'), 'utf8'), 'now a file');
  t.is(fs.readlinkSync(path.join(root, 'z')), 'target');
  t.is(fs.readlinkSync(path.join(root, 'w')), outside);
  t.deepEqual(fs.readdirSync(outside), ['sentinel']);
  t.is(fs.readFileSync(path.join(root, 'shared'), 'utf8'), 'new');
  t.is(fs.readFileSync(path.join(root, 'orig'), 'utf8'), 'orig', 'the old hard link was replaced, not written through');
});

test('later duplicates win and a directory entry keeps existing content', async (t) => {
  const { root } = await sandbox(t);
  await apply(
    [
      { name: 'f', content: 'one' },
      { name: 'd/', type: 'directory', mode: 0o755 },
      { name: 'd/x', content: 'x' },
      { name: 'f', content: 'two' },
      { name: 'd/', type: 'directory', mode: 0o700, mtime: T(1_234_567_890) },
    ],
    root,
  );
  t.is(fs.readFileSync(path.join(root, 'f'), 'utf8'), 'two');
  t.is(fs.readFileSync(path.join(root, 'd/x'), 'utf8'), 'x');
  t.is(mode(path.join(root, 'd')), 0o700);
  t.is(mtime(path.join(root, 'd')), 1_234_567_890);
});

/** Whether this environment lets us create a 0/0 character device and set a user xattr (what overlay mode needs). */
function overlayToolsWork(base: string): boolean {
  const probe = path.join(base, 'probe');
  try {
    execFileSync('mknod', [probe, 'c', '0', '0'], { stdio: 'ignore' });
    execFileSync('setfattr', ['-n', 'user.roost-probe', '-v', 'y', base], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { force: true });
  }
}

test('overlay mode: whiteouts become 0/0 character devices and opaque markers become xattrs', async (t) => {
  const { base, root } = await sandbox(t);
  const tar = await makeTar([
    { name: 'a/.wh.gone' },
    { name: 'b/.wh..wh..opq' },
    { name: 'b/file', content: 'f' },
    { name: 'c/', type: 'directory', mode: 0o750, mtime: T(1_111_111_111) },
    { name: 'c/.wh.old' },
    { name: 'e/.wh..wh..opq' }, // an opaque directory with nothing else in this layer still has to exist
  ]);
  if (!overlayToolsWork(base)) {
    // Unprivileged outside a user namespace (or no user xattrs here): the layer must fail cleanly, not half-work.
    const err = await t.throwsAsync(applyLayer(streamOf(tar), root, OVERLAY), { instanceOf: EngineError });
    t.is(err?.code, 'unavailable');
    t.log(`0/0 devices or user xattrs unavailable here, skipping device/xattr assertions: ${err?.message}`);
    return;
  }
  const result = await applyLayer(streamOf(tar), root, OVERLAY);
  t.deepEqual(result.skipped, []);
  const gone = fs.lstatSync(path.join(root, 'a/gone'));
  t.true(gone.isCharacterDevice());
  t.is(gone.rdev, 0);
  t.true(fs.lstatSync(path.join(root, 'c/old')).isCharacterDevice());
  t.deepEqual((await listAll(root)).filter((p) => p.includes('.wh.')), []);
  t.is(fs.readFileSync(path.join(root, 'b/file'), 'utf8'), 'f');
  // Creating the whiteout must not disturb the directory's own metadata.
  t.is(mode(path.join(root, 'c')), 0o750);
  t.is(mtime(path.join(root, 'c')), 1_111_111_111);
  try {
    for (const dir of ['b', 'e']) {
      t.true(fs.lstatSync(path.join(root, dir)).isDirectory());
      const value = execFileSync('getfattr', ['--only-values', '-n', 'user.overlay.opaque', path.join(root, dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      t.is(value, 'y');
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    t.log('getfattr is not installed; not checking the opaque xattr');
  }
  const notOpaque = (() => {
    try {
      execFileSync('getfattr', ['--only-values', '-n', 'user.overlay.opaque', path.join(root, 'a')], { stdio: 'pipe' });
      return false;
    } catch {
      return true;
    }
  })();
  t.true(notOpaque, 'only the marked directory is opaque');
});

test('names with .. that leave the target are rejected and nothing is written outside', async (t) => {
  const { base, root } = await sandbox(t);
  await rejectsInvalid(t, apply([{ name: 'ok', content: 'ok' }, { name: '../evil', content: 'evil' }], root), /"\.\.\/evil".*escapes/);
  t.false(exists(path.join(base, 'evil')));

  const root2 = path.join(base, 'root2');
  await rejectsInvalid(t, apply([{ name: 'a/../../evil2', content: 'evil' }], root2), /escapes/);
  t.false(exists(path.join(base, 'evil2')));

  // A pax path overrides the header name: the same rule applies.
  const root3 = path.join(base, 'root3');
  await rejectsInvalid(t, apply([{ name: 'innocent', pax: { path: 'x/../../../evil3' }, content: 'evil' }], root3), /escapes/);
  t.false(exists(path.join(base, 'evil3')));
  t.false(exists(path.join(root3, 'innocent')));

  // `..` that stays inside is just normalised.
  const root4 = path.join(base, 'root4');
  await apply([{ name: './a/../b/./c', content: 'c' }], root4);
  t.is(fs.readFileSync(path.join(root4, 'b/c'), 'utf8'), 'c');
});

test('names containing a NUL byte are rejected', async (t) => {
  const { root } = await sandbox(t);
  await rejectsInvalid(t, apply([{ name: 'a', pax: { path: 'evil\0name' }, content: 'x' }], root), /NUL/);
  t.deepEqual(await listAll(root), []);
});

test('a symlinked parent cannot be used to write outside the target', async (t) => {
  const { base, root, outside } = await sandbox(t);
  await rejectsInvalid(
    t,
    apply([{ name: 'link', type: 'symlink', linkname: outside }, { name: 'link/file', content: 'pwned' }], root),
    /"link\/file" traverses a symlink/,
  );
  t.deepEqual(fs.readdirSync(outside), ['sentinel']);
  t.is(fs.readlinkSync(path.join(root, 'link')), outside);

  // Relative target, deeper entry.
  const root2 = path.join(base, 'root2');
  await rejectsInvalid(
    t,
    apply([{ name: 'rel', type: 'symlink', linkname: '../outside' }, { name: 'rel/new/file', content: 'pwned' }], root2),
    /traverses a symlink/,
  );
  t.deepEqual(fs.readdirSync(outside), ['sentinel']);

  // A directory this layer already made, then replaced by a symlink: the cached check must not be trusted.
  const root3 = path.join(base, 'root3');
  await rejectsInvalid(
    t,
    apply(
      [
        { name: 'a/', type: 'directory' },
        { name: 'a/x', content: 'x' },
        { name: 'a', type: 'symlink', linkname: outside },
        { name: 'a/y', content: 'pwned' },
      ],
      root3,
    ),
    /traverses a symlink/,
  );
  t.deepEqual(fs.readdirSync(outside), ['sentinel']);

  // The symlink came from an earlier layer.
  const root4 = path.join(base, 'root4');
  await apply([{ name: 'lower', type: 'symlink', linkname: outside }], root4);
  await rejectsInvalid(t, apply([{ name: 'lower/sentinel', content: 'pwned' }], root4), /traverses a symlink/);
  await rejectsInvalid(t, apply([{ name: 'lower/.wh.sentinel' }], root4), /traverses a symlink/);
  t.is(fs.readFileSync(path.join(outside, 'sentinel'), 'utf8'), 'untouched');
  t.deepEqual(fs.readdirSync(outside), ['sentinel']);
});

test('absolute names are stored under the root', async (t) => {
  const { root } = await sandbox(t);
  const marker = `roost-abs-${randomBytes(6).toString('hex')}`;
  await apply(
    [
      { name: `/${marker}/file`, content: 'inside' },
      { name: `/${marker}/hard`, type: 'link', linkname: `/${marker}/file` },
      { name: `//${marker}/link`, type: 'symlink', linkname: '/etc/passwd' },
    ],
    root,
  );
  t.is(fs.readFileSync(path.join(root, marker, 'file'), 'utf8'), 'inside');
  t.is(fs.statSync(path.join(root, marker, 'hard')).ino, fs.statSync(path.join(root, marker, 'file')).ino);
  t.is(fs.readlinkSync(path.join(root, marker, 'link')), '/etc/passwd');
  t.false(exists(`/${marker}`));
});

test('hard links may not point outside the target', async (t) => {
  const { base, root } = await sandbox(t);
  await rejectsInvalid(t, apply([{ name: 'passwd', type: 'link', linkname: '../../etc/passwd' }], root), /"passwd".*"\.\.\/\.\.\/etc\/passwd".*escapes/);
  t.false(exists(path.join(root, 'passwd')));

  // Through a symlinked directory.
  const root2 = path.join(base, 'root2');
  await rejectsInvalid(
    t,
    apply([{ name: 'etc', type: 'symlink', linkname: '/etc' }, { name: 'stolen', type: 'link', linkname: 'etc/passwd' }], root2),
    /traverses a symlink/,
  );
  t.false(exists(path.join(root2, 'stolen')));

  // To something that is not there.
  const root3 = path.join(base, 'root3');
  await rejectsInvalid(t, apply([{ name: 'dangling', type: 'link', linkname: 'no/such/file' }], root3), /does not exist/);
  t.false(exists(path.join(root3, 'dangling')));
});

test('truncated, corrupt and non-tar input is rejected with invalid_argument', async (t) => {
  const { base } = await sandbox(t);
  const tar = await makeTar([
    { name: 'a', content: randomBytes(100_000) },
    { name: 'big', content: randomBytes(1_000_000) },
    { name: 'b', content: 'b' },
  ]);
  let n = 0;
  const dir = () => path.join(base, `d${n++}`);

  await rejectsInvalid(t, apply(tar.subarray(0, 20_000), dir()), /not a valid tar archive/);
  await rejectsInvalid(t, apply(tar.subarray(0, 700_000), dir()), /not a valid tar archive/);
  await rejectsInvalid(t, apply(tar.subarray(0, 300), dir()), /not a valid tar archive/);
  await rejectsInvalid(t, apply(randomBytes(4096), dir()), /not a valid tar archive/);
  await rejectsInvalid(t, apply(randomBytes(100).fill(0x41, 0, 1), dir()), /not a valid tar archive/);
  await rejectsInvalid(t, apply(Buffer.from('{"this is": "json, not a tar"}\n'), dir()), /not a valid tar archive/);

  const gz = zlib.gzipSync(tar);
  await rejectsInvalid(t, apply(gz.subarray(0, Math.floor(gz.length / 2)), dir()), /not a valid gzip stream/);
  const corrupt = Buffer.concat([gz.subarray(0, 10), randomBytes(5000)]);
  await rejectsInvalid(t, apply(corrupt, dir()), /not a valid gzip stream/);
  // A complete gzip whose content is a truncated tar.
  await rejectsInvalid(t, apply(zlib.gzipSync(tar.subarray(0, 50_000)), dir()), /not a valid tar archive/);

  const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(64)]);
  await rejectsInvalid(t, apply(zstd, dir()), /not a valid zstd stream|no zstd program is installed/);
  const xz = Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), randomBytes(64)]);
  await rejectsInvalid(t, apply(xz, dir()), /not a valid xz stream|no xz program is installed/);
});

test('zstd, xz and bzip2 layers apply to the same tree as the plain tar (through the host\'s programs)', async (t) => {
  const { base } = await sandbox(t);
  const tar = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/motd', content: Buffer.from('hello\n') }, { name: 'big', content: randomBytes(200_000) }]);
  const programs: [string, string[]][] = [['zstd', ['-q', '-c']], ['xz', ['-c']], ['bzip2', ['-c']]];
  for (const [program, args] of programs) {
    const packed = spawnSync(program, args, { input: tar, maxBuffer: 16 * 1024 * 1024 });
    if (packed.error) {
      t.log(`${program} is not installed: its case not run`);
      continue;
    }
    const target = path.join(base, program);
    const result = await applyLayer(Readable.from([packed.stdout]), target, DELETE);
    t.is(result.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`, `${program}: the diff ID is the uncompressed tar's`);
    t.is(fs.readFileSync(path.join(target, 'etc', 'motd'), 'utf8'), 'hello\n');
    t.is(fs.statSync(path.join(target, 'big')).size, 200_000);
  }
});

test('a failing source stream rejects with its error instead of hanging', async (t) => {
  const { base } = await sandbox(t);
  const tar = await makeTar([{ name: 'big', content: randomBytes(300_000) }]);
  const failing = (data: Buffer) =>
    Readable.from(
      (async function* () {
        yield data.subarray(0, 5);
        yield data.subarray(5, 70_000);
        throw new Error('network down');
      })(),
    );
  await t.throwsAsync(applyLayer(failing(tar), path.join(base, 'plain'), DELETE), { message: /network down/ });
  await t.throwsAsync(applyLayer(failing(zlib.gzipSync(tar, { level: 0 })), path.join(base, 'gz'), DELETE), { message: /network down/ });
});

test('device nodes and fifos are created, or reported in skipped', async (t) => {
  const { root } = await sandbox(t);
  const result = await apply(
    [
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660 },
      { name: 'run/pipe', type: 'fifo', mode: 0o620 },
      { name: 'after', content: 'still extracted' },
    ],
    root,
  );
  const nul = path.join(root, 'dev/null');
  if (result.skipped.includes('/dev/null')) {
    t.log('mknod not permitted here: device nodes were skipped');
    t.false(exists(nul));
    t.true(result.skipped.includes('/dev/loop9'));
  } else {
    const st = fs.lstatSync(nul);
    t.true(st.isCharacterDevice());
    t.is(st.rdev, (1 << 8) | 3);
    t.is(mode(nul), 0o666);
    t.true(fs.lstatSync(path.join(root, 'dev/loop9')).isBlockDevice());
  }
  const pipe = path.join(root, 'run/pipe');
  if (result.skipped.includes('/run/pipe')) t.false(exists(pipe));
  else {
    t.true(fs.lstatSync(pipe).isFIFO());
    t.is(mode(pipe), 0o620);
  }
  t.is(fs.readFileSync(path.join(root, 'after'), 'utf8'), 'still extracted');
});

test('ownership: entries get the tar owner when allowed, refusals are ignored when not required', async (t) => {
  const { base } = await sandbox(t);
  const entries: Entry[] = [
    { name: 'd/', type: 'directory', uid: 1234, gid: 5678 },
    { name: 'd/f', content: 'f', uid: 4321, gid: 8765, mode: 0o2755 },
    { name: 'd/l', type: 'symlink', linkname: 'f', uid: 1111, gid: 2222 },
    { name: 'big-ids', content: 'x', pax: { uid: '100000', gid: '100001' } },
  ];
  if (process.getuid?.() === 0) {
    const root = path.join(base, 'strict');
    await apply(entries, root, { whiteouts: 'delete', ownership: true });
    const d = fs.lstatSync(path.join(root, 'd'));
    const f = fs.lstatSync(path.join(root, 'd/f'));
    const l = fs.lstatSync(path.join(root, 'd/l'));
    t.deepEqual([d.uid, d.gid], [1234, 5678]);
    t.deepEqual([f.uid, f.gid], [4321, 8765]);
    t.is(mode(path.join(root, 'd/f')), 0o2755, 'chown did not clear setgid');
    t.deepEqual([l.uid, l.gid], [1111, 2222]);
    const big = fs.lstatSync(path.join(root, 'big-ids'));
    t.deepEqual([big.uid, big.gid], [100000, 100001]);
  } else {
    t.log('not root: only checking that refused chowns are ignored');
  }
  const lax = path.join(base, 'lax');
  await apply(entries, lax, { whiteouts: 'delete', ownership: false });
  t.is(fs.readFileSync(path.join(lax, 'd/f'), 'utf8'), 'f');
});

test('long names and fractional pax mtimes', async (t) => {
  const { root } = await sandbox(t);
  const long = `deep/${'n'.repeat(150)}/${'m'.repeat(120)}.txt`;
  await apply([{ name: long, content: 'long', pax: { mtime: '1700000000.5' } }], root);
  t.is(fs.readFileSync(path.join(root, long), 'utf8'), 'long');
  t.is(fs.statSync(path.join(root, long)).mtimeMs, 1_700_000_000_500);
});

test('an empty stream is an empty layer', async (t) => {
  const { root } = await sandbox(t);
  const result = await applyLayer(Readable.from([]), root, DELETE);
  t.is(result.size, 0);
  t.is(result.diffId, `sha256:${sha256(Buffer.alloc(0))}`);
  t.deepEqual(await listAll(root), []);
});

// Both gzip paths: the external tool when one is installed, and Node's zlib (ROOST_GUNZIP=node).
test.serial('gzip layers give the same tree and diff ID through igzip/pigz and through Node\'s zlib; truncated gzip fails in both', async (t) => {
  const { base } = await sandbox(t);
  const tar = await makeTar([{ name: 'd/', type: 'directory' }, { name: 'd/f', content: randomBytes(300_000) }]);
  const gz = zlib.gzipSync(tar);
  const results = [];
  for (const mode of ['auto', 'node']) {
    if (mode === 'node') process.env.ROOST_GUNZIP = 'node';
    try {
      const dir = path.join(base, mode);
      results.push({ result: await applyLayer(streamOf(gz, 3), dir, DELETE), files: await listAll(dir) });
      await t.throwsAsync(applyLayer(streamOf(gz.subarray(0, gz.length - 100)), path.join(base, `${mode}-bad`), DELETE), { message: /not a valid gzip stream|not a valid tar archive/ });
    } finally {
      delete process.env.ROOST_GUNZIP;
    }
  }
  t.is(results[0]!.result.diffId, `sha256:${sha256(tar)}`);
  t.is(results[1]!.result.diffId, results[0]!.result.diffId);
  t.deepEqual(results[1]!.files, results[0]!.files);
});

/** Type, mode, mtime, content or link target, and hard-link groups of every path under `root`. */
function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      const base = `${(st.mode & 0o7777).toString(8)} ${Math.floor(st.mtimeMs / 1000)}`;
      if (st.isDirectory()) {
        out[r] = `dir ${base}`;
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `symlink -> ${fs.readlinkSync(p)}`;
      else if (!st.isFile()) out[r] = `special ${base}`;
      else {
        const first = inodes.get(st.ino);
        if (first === undefined) inodes.set(st.ino, r);
        out[r] = `file ${base} ${fs.readFileSync(p, 'utf8')}${first ? ` (same file as ${first})` : ''}`;
      }
    }
  };
  walk('');
  return out;
}

test.serial('writer threads: a layer comes out the same as with every file written in order, whatever follows a file still in flight', async (t) => {
  const entries: Entry[] = [{ name: 'd/', type: 'directory', mode: 0o755, mtime: T(1_000_000) }];
  for (let i = 0; i < 300; i++) entries.push({ name: `d/f${i}`, content: `content ${i}`, mode: i % 2 ? 0o644 : 0o4755, mtime: T(2_000_000 + i) });
  entries.push(
    { name: 'd/link', type: 'link', linkname: 'd/f299' }, // a hard link to the file just written
    { name: 'd/f5', content: 'second', mode: 0o600 }, // a duplicate: the later one wins
    { name: 'd/f9', type: 'directory', mode: 0o750, mtime: T(3_000_000) }, // a directory replaces a file
    { name: 'd/f9/inner', content: 'inner' },
    { name: 'd/f11', type: 'symlink', linkname: 'elsewhere' }, // a symlink replaces a file
    { name: 'd/f13/', type: 'directory', mode: 0o755 },
    { name: 'e/', type: 'directory', mode: 0o711, mtime: T(4_000_000) },
    { name: 'e/big', content: Buffer.alloc(300 * 1024, 'b'), mode: 0o640 }, // written by this thread, in a directory in flight
    { name: 'e/x/y/z', content: 'deep' }, // implicit directories below one in flight
    { name: 'e/fifo', type: 'fifo', mode: 0o600 },
  );
  const tar = await makeTar(entries);
  const trees: Array<Record<string, string>> = [];
  const saved = process.env.ROOST_LAYER_WRITERS;
  try {
    for (const writers of ['0', '2']) {
      process.env.ROOST_LAYER_WRITERS = writers;
      const { root } = await sandbox(t);
      await applyLayer(streamOf(tar), root, DELETE);
      trees.push(describeTree(root));
    }
    // A file still in flight is no directory: the same one-line refusal as when it is on disk.
    for (const writers of ['0', '2']) {
      process.env.ROOST_LAYER_WRITERS = writers;
      const { root } = await sandbox(t);
      await rejectsInvalid(t, applyLayer(streamOf(await makeTar([{ name: 'a', content: 'file' }, { name: 'a/b', content: 'x' }])), root, DELETE), /needs "a" to be a directory/);
      const other = await sandbox(t);
      await rejectsInvalid(t, applyLayer(streamOf(await makeTar([{ name: 'l', type: 'symlink', linkname: other.outside }, { name: 'l/planted', content: 'x' }])), other.root, DELETE), /traverses a symlink at "l"/);
      t.false(fs.existsSync(path.join(other.outside, 'planted')));
    }
  } finally {
    if (saved === undefined) delete process.env.ROOST_LAYER_WRITERS;
    else process.env.ROOST_LAYER_WRITERS = saved;
  }
  const [sequential, parallel] = trees as [Record<string, string>, Record<string, string>];
  // Directories no entry names get the time they were made.
  for (const tree of trees) for (const implicit of ['e/x', 'e/x/y']) tree[implicit] = tree[implicit]!.replace(/ \d+$/, '');
  t.deepEqual(parallel, sequential);
  t.is(parallel['e/x/y'], 'dir 755');
  t.regex(parallel['d/f5']!, /^file 600 \d+ second$/);
  t.regex(parallel['d/link']!, /content 299 \(same file as d\/f299\)$/);
  t.regex(parallel['d/f8']!, /^file 4755 2000008 content 8$/);
  t.regex(parallel['d/f9']!, /^dir 750 3000000$/);
  t.is(parallel['d/f11'], 'symlink -> elsewhere');
  t.is(Object.keys(parallel).filter((k) => /^d\/f\d+$/.test(k)).length, 300);
  t.regex(parallel['e']!, /^dir 711 4000000$/);
  t.regex(parallel['e/big']!, /^file 640 \d+ b{307200}$/);
  t.regex(parallel['e/x/y/z']!, /^file 644 \d+ deep$/);
});
