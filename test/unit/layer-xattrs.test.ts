// Extended attributes through a layer: an overlay upper dir packed by `commit`'s packer, then unpacked by
// each tar parser; what `getfattr` shows on the unpacked files must be what was on the originals.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { applyLayer } from '../../src/fs/layer-apply.js';
import { packOverlayChanges } from '../../src/fs/layer-pack.js';
import { xattrsFromPax } from '../../src/fs/pax-xattrs.js';
import { TarScanJs } from '../../src/wasm/tar-scan-js.js';
import { scanTar } from '../../src/wasm/tar-scanner.js';
import { kernelsAvailable } from '../../src/wasm/instance.js';
import { archive } from '../helpers/tar-build.js';
import type { TarScannerChoice } from '../../src/wasm/choice.js';

const asRoot = process.geteuid?.() === 0;

async function scratch(t: ExecutionContext): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'roost-xattr-test-'));
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

const setfattr = (file: string, name: string, value: string) => execFileSync('setfattr', ['-h', '-n', name, '-v', value, file]);
/** Every attribute of one file as getfattr shows it (hex values), one `name=0x...` per line, sorted. */
function xattrsOf(file: string): string[] {
  const out = execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', file], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes('=0x')).sort();
}

async function packed(upper: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await packOverlayChanges(upper, new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(chunk); done(); } }));
  return Buffer.concat(chunks);
}

const longName = `${'ü'.repeat(60)}-long`; // > 100 bytes and not ASCII: the path must come from our PAX header
const capFile = 'bin/pinger';

/** An upper dir as a container leaves it: files with user and security attributes, and overlayfs' own. */
async function makeUpper(base: string): Promise<string> {
  const upper = path.join(base, 'upper');
  await fsp.mkdir(path.join(upper, 'bin'), { recursive: true });
  await fsp.mkdir(path.join(upper, 'opaque'));
  await fsp.writeFile(path.join(upper, 'plain'), 'p');
  await fsp.writeFile(path.join(upper, 'x'), 'x');
  await fsp.writeFile(path.join(upper, longName), 'l');
  await fsp.writeFile(path.join(upper, 'big'), Buffer.alloc(300 * 1024, 7)); // streamed, not read whole
  await fsp.writeFile(path.join(upper, capFile), 'elf');
  await fsp.chmod(path.join(upper, capFile), 0o755);
  setfattr(path.join(upper, 'x'), 'user.x', '1');
  setfattr(path.join(upper, 'x'), 'user.bin', '0x80ff00fe'); // not UTF-8: tar-stream's text PAX would mangle it
  setfattr(path.join(upper, longName), 'user.long', 'yes');
  setfattr(path.join(upper, 'big'), 'user.big', 'b');
  setfattr(path.join(upper, 'bin'), 'user.dir', 'd');
  setfattr(path.join(upper, 'opaque'), 'user.overlay.opaque', 'y');
  setfattr(path.join(upper, 'plain'), 'user.overlay.origin', '0x00fb');
  // cap_setuid (bit 7) puts a 0x80 byte in the value.
  if (asRoot) execFileSync('setcap', ['cap_setuid,cap_net_raw+ep', path.join(upper, capFile)]);
  return upper;
}

test('commit\'s packer stores xattrs as PAX SCHILY.xattr records, and never overlayfs\' own', async (t) => {
  const base = await scratch(t);
  const tar = await packed(await makeUpper(base));
  const records = scanTar(new TarScanJs(), tar);
  const byName = new Map(records.map((r) => [r.name, r.xattrs.map(([n, v]) => `${n}=${v.toString('hex')}`)]));
  t.deepEqual(byName.get('x'), ['user.bin=80ff00fe', 'user.x=31']);
  t.deepEqual(byName.get(longName), ['user.long=796573']);
  t.deepEqual(byName.get('big'), ['user.big=62']);
  t.deepEqual(byName.get('bin'), ['user.dir=64']);
  t.deepEqual(byName.get('plain'), [], 'user.overlay.origin stays behind');
  t.deepEqual(byName.get('opaque'), [], 'user.overlay.opaque stays behind');
  t.true(byName.has('opaque/.wh..wh..opq'), 'the opaque directory becomes a marker entry instead');
  t.false(tar.includes('overlay.'), 'no overlay attribute anywhere in the layer');
  if (asRoot) t.deepEqual(byName.get(capFile), ['security.capability=0100000280200000000000000000000000000000']);
  const big = records.find((r) => r.name === 'big')!;
  t.true(tar.subarray(big.offset, big.offset + big.size).equals(Buffer.alloc(300 * 1024, 7)));
});

const parsers: TarScannerChoice[] = ['tar-stream', 'typescript', ...(kernelsAvailable() ? ['wasm' as const] : [])];
for (const parser of parsers) {
  test(`${parser}: applying the layer restores every xattr byte for byte`, async (t) => {
    const base = await scratch(t);
    const upper = await makeUpper(base);
    const tar = await packed(upper);
    const target = path.join(base, 'unpacked');
    const result = await applyLayer(Readable.from([tar]), target, { whiteouts: 'delete', ownership: asRoot, tarScanner: parser });
    t.deepEqual(result.refusedXattrs, []);
    const strip = (lines: string[], dir: string) => lines.map((l) => l.replace(dir, ''));
    for (const name of ['x', longName, 'big', 'bin', capFile]) {
      t.deepEqual(xattrsOf(path.join(target, name)), strip(xattrsOf(path.join(upper, name)), upper), name);
    }
    t.deepEqual(xattrsOf(path.join(target, 'plain')), []);
    t.true(xattrsOf(path.join(target, 'x')).includes('user.bin=0x80ff00fe'));
    if (asRoot) {
      t.true(xattrsOf(path.join(target, capFile)).includes('security.capability=0x0100000280200000000000000000000000000000'));
      t.regex(execFileSync('getcap', [path.join(target, capFile)], { encoding: 'utf8' }), /cap_setuid,cap_net_raw[=+]ep/);
    } else {
      t.log('not root: file capabilities not checked');
    }
  });

  test(`${parser}: a layer cannot plant overlayfs attributes in a snapshot`, async (t) => {
    const base = await scratch(t);
    const tar = Buffer.from(archive([
      { name: 'd/', type: '5', mode: 0o755, pax: { 'SCHILY.xattr.user.overlay.redirect': '/elsewhere', 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.ok': 'fine' } },
      { name: 'd/f', data: 'f', pax: { 'SCHILY.xattr.user.overlay.metacopy': '', 'SCHILY.xattr.user.fuseoverlayfs.opaque': 'y' } },
    ]));
    const target = path.join(base, 'unpacked');
    await applyLayer(Readable.from([tar]), target, { whiteouts: 'overlay', ownership: false, tarScanner: parser });
    t.deepEqual(xattrsOf(path.join(target, 'd')), ['user.ok=0x66696e65']);
    t.deepEqual(xattrsOf(path.join(target, 'd/f')), []);
  });
}

test('an attribute the kernel calls invalid fails the layer with one line; one it may not set here is left out', async (t) => {
  const base = await scratch(t);
  if (asRoot) { // without CAP_SETFCAP the kernel refuses any capability, well-formed or not
    const bad = Buffer.from(archive([{ name: 'f', data: 'x', pax: { 'SCHILY.xattr.security.capability': '\x01' } }]));
    const err = await t.throwsAsync(applyLayer(Readable.from([bad]), path.join(base, 'bad'), { whiteouts: 'delete', ownership: false }));
    t.is((err as { code?: string }).code, 'invalid_argument');
    t.is(err?.message, 'the kernel refuses the extended attribute security.capability of "f": Invalid argument');
  }
  // user.* attributes are not allowed on symlinks: refused, reported, and the rest of the layer is there.
  const refused = Buffer.from(archive([
    { name: 'target', data: 'x', pax: { 'SCHILY.xattr.user.ok': '1' } },
    { name: 'link', type: '2', linkname: 'target', pax: { 'SCHILY.xattr.user.no': '1' } },
  ]));
  const result = await applyLayer(Readable.from([refused]), path.join(base, 'refused'), { whiteouts: 'delete', ownership: false });
  t.deepEqual(result.refusedXattrs, [{ path: '/link', name: 'user.no', reason: 'Operation not permitted' }]);
  t.deepEqual(xattrsOf(path.join(base, 'refused', 'target')), ['user.ok=0x31']);
});

test('PAX records are read as bytes, whatever their length field\'s width', (t) => {
  const value = Buffer.from([0, 0x80, 0xff, 0x0a, 0x3d]); // NUL, non-UTF-8, a newline and '=' inside the value
  const body = Buffer.concat([Buffer.from(' SCHILY.xattr.user.v='), value, Buffer.from('\n')]);
  const record = Buffer.concat([Buffer.from(String(body.length + 2)), body]);
  const data = Buffer.concat([Buffer.from('12 path=abc\n'), record]);
  t.deepEqual(xattrsFromPax(data), [['user.v', value]]);
});
