import test from 'ava';
import { TarOut } from '../../src/fs/tar-out.js';
import { xattrsFromPax } from '../../src/fs/pax-xattrs.js';
import { readTar } from '../helpers/tar-read.js';

async function read(out: TarOut): Promise<Array<Record<string, unknown>>> {
  return (await readTar(out.stream)).map(({ header: h, content }) =>
    ({ name: h.name, type: h.type, mode: h.mode, uid: h.pax?.uid ?? h.uid, size: h.size, linkname: h.linkname ?? undefined, content: content.toString(), mtime: h.mtime?.getTime() }));
}

test('TarOut writes what tar readers read back: long and non-ASCII names, links, large ids, PAX records', async (t) => {
  const out = new TarOut();
  const long = `${'d'.repeat(120)}/ü/${'f'.repeat(90)}`;
  const mtime = new Date(1_700_000_000_000);
  const writing = (async () => {
    await out.entry({ name: 'dir/', type: 'directory', mode: 0o750, mtime });
    await out.entry({ name: 'dir/small', type: 'file', mode: 0o4755, size: 5, mtime }, [Buffer.from('he'), Buffer.from('llo')]);
    await out.entry({ name: long, type: 'file', size: 3, mtime }, [Buffer.from('abc')]);
    await out.entry({ name: 'link', type: 'symlink', linkname: 'l'.repeat(150), mtime });
    await out.entry({ name: 'hard', type: 'link', linkname: long, mtime });
    await out.entry({ name: 'big-ids', type: 'file', size: 0, mtime, uid: 100000000, pax: { uid: '100000000' } });
    await out.entry({ name: 'x', type: 'file', size: 1, mtime }, [Buffer.from('x')], [['user.bin', Buffer.from([0, 255, 10])]]);
    await out.end();
  })();
  const got = await read(out);
  await writing;
  t.deepEqual(got.map((e) => [e.name, e.type, e.content]), [
    ['dir/', 'directory', ''], ['dir/small', 'file', 'hello'], [long, 'file', 'abc'], ['link', 'symlink', ''], ['hard', 'link', ''], ['big-ids', 'file', ''], ['x', 'file', 'x'],
  ]);
  t.is(got[0]!.mode, 0o750);
  t.is(got[1]!.mode, 0o4755);
  t.is(got[1]!.mtime, mtime.getTime());
  t.is(got[3]!.linkname, 'l'.repeat(150));
  t.is(got[4]!.linkname, long);
  t.is(got[5]!.uid, '100000000', 'in a PAX record (the ustar field cannot hold it)');
});

test('TarOut: xattrs keep their bytes; content of the wrong size fails the stream', async (t) => {
  const out = new TarOut();
  void (async () => {
    await out.entry({ name: 'x', type: 'file', size: 1 }, [Buffer.from('x')], [['user.bin', Buffer.from([0, 255, 10])]]);
    await out.end();
  })();
  const chunks: Buffer[] = [];
  for await (const chunk of out.stream) chunks.push(chunk as Buffer);
  const tar = Buffer.concat(chunks);
  t.is(tar.toString('latin1', 156, 157), 'x', 'a PAX header first');
  const size = parseInt(tar.toString('latin1', 124, 135), 8);
  t.deepEqual(xattrsFromPax(tar.subarray(512, 512 + size)), [['user.bin', Buffer.from([0, 255, 10])]]);

  const bad = new TarOut();
  void bad.entry({ name: 'short', type: 'file', size: 10 }, [Buffer.from('abc')]).catch((err: unknown) => bad.fail(err));
  await t.throwsAsync(async () => { for await (const _ of bad.stream) { /* read */ } }, { message: 'tar entry "short": 3 bytes of content for a size of 10' });
});
