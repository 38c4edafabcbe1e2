import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack, type Headers } from 'tar-stream';
import { BuildContext } from '../../src/build/build-context.js';
import { readTar } from '../helpers/tar-read.js';

type Entry = Partial<Headers> & { name: string; content?: string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const { content, ...header } of entries) p.entry({ mode: 0o644, ...header }, header.type && header.type !== 'file' ? undefined : (content ?? ''));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let n = 0;
const scratchOf = () => path.join(os.tmpdir(), `build-context-test-${process.pid}-${n++}`);

async function contextOf(t: { teardown(f: () => void): void }, entries: Entry[], budget?: number): Promise<BuildContext> {
  const context = await BuildContext.receive(Readable.from([await tarOf(entries)]), scratchOf(), budget);
  t.teardown(() => context.dispose());
  return context;
}

async function listing(tar: Readable): Promise<string[]> {
  return (await readTar(tar)).map(({ header: h, content }) =>
    `${h.name} ${h.type} ${(h.mode! & 0o7777).toString(8)}${h.type === 'symlink' ? ` -> ${h.linkname}` : ''}${h.type === 'file' ? ` ${content.toString()}` : ''}`);
}

const tree: Entry[] = [
  { name: './', type: 'directory', mode: 0o755 },
  { name: './Dockerfile', content: 'FROM scratch\n' },
  { name: './deps/', type: 'directory', mode: 0o755 },
  { name: './deps/a.bin', content: 'aaa' },
  { name: './deps/b.bin', content: 'bbb', mode: 0o755 },
  { name: './app/f0.txt', content: 'zero' },
];

test('the checksum follows content, mode and the files present; never times', async (t) => {
  const base = await contextOf(t, tree);
  const sum = (c: BuildContext) => c.checksum(['deps']);
  const same = await contextOf(t, tree.map((e) => ({ ...e, mtime: new Date(1_000_000) })));
  t.is(sum(same), sum(base), 'same content, other mtimes: the same key');
  t.is((await contextOf(t, tree, 0)).checksum(['deps']), sum(base), 'spooled or in memory: the same key');
  t.not(sum(await contextOf(t, tree.map((e) => (e.name === './deps/a.bin' ? { ...e, content: 'aab' } : e)))), sum(base), 'changed content');
  t.not(sum(await contextOf(t, tree.map((e) => (e.name === './deps/a.bin' ? { ...e, mode: 0o600 } : e)))), sum(base), 'changed mode');
  t.not(sum(await contextOf(t, [...tree, { name: './deps/c.bin', content: '' }])), sum(base), 'a file added');
  t.not(sum(await contextOf(t, tree.filter((e) => e.name !== './deps/b.bin'))), sum(base), 'a file removed');
  t.is(sum(await contextOf(t, tree.map((e) => (e.name === './app/f0.txt' ? { ...e, content: 'one' } : e)))), sum(base), 'a change elsewhere');
});

test('files come back whole from memory and from the spool file; parents the tar lacks are directories', async (t) => {
  for (const budget of [undefined, 0, 4]) {
    const context = await contextOf(t, tree, budget);
    t.is(context.readFile('deps/b.bin')?.toString(), 'bbb');
    t.is(context.entry('app')?.type, 'directory');
    t.deepEqual(context.list(''), ['Dockerfile', 'app', 'deps']);
    t.deepEqual(await listing(context.tar('deps', 'opt/deps')), ['opt/deps/ directory 755', 'opt/deps/a.bin file 644 aaa', 'opt/deps/b.bin file 755 bbb']);
    const host = context.materialize('deps')!;
    t.deepEqual(fs.readdirSync(host).sort(), ['a.bin', 'b.bin']);
    t.is(fs.readFileSync(path.join(host, 'b.bin'), 'utf8'), 'bbb');
    t.is(fs.statSync(path.join(host, 'b.bin')).mode & 0o777, 0o755);
  }
});

test('symlinks resolve inside the context, never on the host', async (t) => {
  const context = await contextOf(t, [
    ...tree,
    { name: 'etc', type: 'symlink', linkname: '/deps' },
    { name: 'up', type: 'symlink', linkname: '../../../deps' },
    { name: 'loop', type: 'symlink', linkname: 'loop' },
    { name: 'hostile', type: 'symlink', linkname: '/etc/passwd' },
  ]);
  t.is(context.resolve('etc/a.bin', false), 'deps/a.bin', 'an absolute target is relative to the context root');
  t.is(context.resolve('up/b.bin', false), 'deps/b.bin', '.. stops at the context root');
  t.is(context.resolve('etc', false), 'etc', 'the last link is kept unless followed');
  t.is(context.resolve('etc', true), 'deps');
  t.is(context.resolve('hostile', true), undefined, 'the host\'s /etc/passwd is not in the context');
  t.is(context.readFile('hostile'), undefined);
  t.throws(() => context.resolve('loop/x', false), { message: 'too many levels of symbolic links in "loop/x"' });
  t.deepEqual(await listing(context.tar('etc', 'x')), ['x symlink 644 -> /deps']);
});

test('hostile and broken context tars fail with one line', async (t) => {
  const fails = async (entries: Entry[] | Buffer, message: RegExp) => {
    const scratch = scratchOf();
    const tar = Buffer.isBuffer(entries) ? entries : await tarOf(entries);
    const err = await t.throwsAsync(BuildContext.receive(Readable.from([tar]), scratch), { message });
    t.false(err!.message.includes('\n'));
    t.false(fs.existsSync(scratch), 'nothing left behind');
  };
  await fails([{ name: '../../etc/passwd', content: 'x' }], /escapes/);
  await fails([{ name: 'a', type: 'link', linkname: '../../etc/shadow' }], /hard link/);
  await fails([{ name: 'a', type: 'link', linkname: 'missing' }], /hard link "a" points to "missing"/);
  await fails([{ name: 'f', content: 'x' }, { name: 'f/g', content: 'y' }], /"f\/g" is below "f", which is not a directory/);
  const good = await tarOf(tree);
  await fails(good.subarray(0, 700), /ends inside an entry|not a valid tar/);
  // A hard link inside the context is a second copy of its file.
  const context = await contextOf(t, [...tree, { name: 'deps/link', type: 'link', linkname: 'deps/a.bin' }], 0);
  t.is(context.readFile('deps/link')?.toString(), 'aaa');
});

test('a compressed context tar is read too', async (t) => {
  const zlib = await import('node:zlib');
  const context = await BuildContext.receive(Readable.from([zlib.gzipSync(await tarOf(tree))]), scratchOf());
  t.teardown(() => context.dispose());
  t.is(context.readFile('Dockerfile')?.toString(), 'FROM scratch\n');
});
