import test from 'ava';
import tar from 'tar-stream';
import { TarScanError, type TarEntryRecord, type TarScanEngine } from '../../src/wasm/tar-format.js';
import { TarScanJs } from '../../src/wasm/tar-scan-js.js';
import { TarScanWasm } from '../../src/wasm/tar-scan.js';
import { scanTar, TarScanner } from '../../src/wasm/tar-scanner.js';
import { archive, type EntrySpec } from '../helpers/tar-build.js';
import { fuzzTarScan, rng, run } from '../helpers/tar-fuzz.js';

const engines: Array<() => TarScanEngine> = [() => new TarScanWasm(), () => new TarScanJs()];

async function packed(entries: Array<{ header: Parameters<tar.Pack['entry']>[0]; body?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry(e.header, e.body ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

for (const make of engines) {
  const engineName = make().name;

  test(`${engineName}: reads what tar-stream writes, pax long names and xattrs included`, async (t) => {
    const longName = `deep/${'d'.repeat(120)}/file.txt`;
    const bytes = await packed([
      { header: { name: './', type: 'directory', mode: 0o755 } },
      { header: { name: 'etc/hostname', mode: 0o644, uid: 1000, gid: 100, mtime: new Date(1_700_000_000_000) }, body: 'roost\n' },
      { header: { name: longName, mode: 0o600 }, body: 'x' },
      { header: { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' } },
      { header: { name: 'bin/ash', type: 'link', linkname: 'bin/sh' } },
      { header: { name: 'usr/bin/ping', mode: 0o4755, pax: { 'SCHILY.xattr.security.capability': 'caps' } }, body: 'elf' },
    ]);
    const records = scanTar(make(), bytes);
    t.deepEqual(records.map((r) => [r.type, r.name, r.linkname, r.mode, r.size]), [
      ['5', '', '', 0o755, 0],
      ['0', 'etc/hostname', '', 0o644, 6],
      ['0', longName, '', 0o600, 1],
      ['2', 'bin/sh', '/bin/busybox', 0o644, 0],
      ['1', 'bin/ash', 'bin/sh', 0o644, 0],
      ['0', 'usr/bin/ping', '', 0o4755, 3],
    ]);
    const hostname = records[1]!;
    t.is(bytes.toString('utf8', hostname.offset, hostname.offset + hostname.size), 'roost\n');
    t.deepEqual([hostname.uid, hostname.gid, hostname.mtime], [1000, 100, 1_700_000_000]);
    t.deepEqual(records[5]!.xattrs, [['security.capability', Buffer.from('caps')]]);
    t.is(bytes.toString('utf8', records[5]!.offset, records[5]!.offset + 3), 'elf');
  });

  test(`${engineName}: GNU long names and links, base-256 sizes, pax overrides and fractional mtimes`, (t) => {
    const name = `g/${'n'.repeat(200)}`;
    const records = scanTar(make(), archive([
      { name: 'ignored', longName: name, format: 'gnu', data: 'abc' },
      { name: 'hl', type: '1', linkname: 'x', longLink: name, format: 'gnu' },
      { name: 'big', data: 'hello', base256Size: true },
      { name: 'p', data: 'zz', pax: { path: '/abs/./p//q', uid: '4294967296', gid: '7', mtime: '1700000000.123456789123' } },
      { name: 'old', pax: { mtime: '-5.5' } },
    ]));
    t.deepEqual(records.map((r) => r.name), [name, 'hl', 'big', 'abs/p/q', 'old']);
    t.is(records[1]!.linkname, name);
    t.is(records[2]!.size, 5);
    t.deepEqual([records[3]!.uid, records[3]!.gid, records[3]!.mtime, records[3]!.mtimeNs], [4294967296, 7, 1_700_000_000, 123456789]);
    t.deepEqual([records[4]!.mtime, records[4]!.mtimeNs], [-5, 500000000]);
  });

  // The hostile shapes: each must be refused with its own code, by kernel and twin alike.
  const hostile: Array<[string, EntrySpec[] | Uint8Array, number]> = [
    ['a name climbing out with ..', [{ name: 'a/../../etc/passwd' }], 9],
    ['a pax path climbing out', [{ name: 'ok', pax: { path: '../x' } }], 9],
    ['a GNU long name climbing out', [{ name: 'ok', longName: 'x/../../y', format: 'gnu' }], 9],
    ['a NUL byte in a pax path', [{ name: 'ok', pax: { path: 'a\0b' } }], 8],
    ['a NUL byte inside a GNU long name', [{ name: 'ok', longName: 'a\0b', format: 'gnu' }], 8],
    ['a hard link to outside the layer', [{ name: 'h', type: '1', linkname: '../../etc/shadow' }], 10],
    ['a hard link with an empty target', [{ name: 'h', type: '1', linkname: '' }], 10],
    ['a symlink with an empty target', [{ name: 's', type: '2', linkname: '' }], 10],
    ['a bad header checksum', [{ name: 'f', badChecksum: true }], 1],
    ['a negative base-256 size', (() => { const b = archive([{ name: 'f' }]); b[124] = 0xff; fixChecksum(b); return b; })(), 3],
    ['a size above 2^53', [{ name: 'f', pax: { size: '9007199254740992' } }], 4],
    ['a non-octal size', (() => { const b = archive([{ name: 'f' }]); b[130] = 0x39; fixChecksum(b); return b; })(), 2],
    ['an unsupported entry type (GNU sparse)', [{ name: 'f', type: 'S' }], 5],
    ['a malformed pax record', (() => { const b = archive([{ name: 'f', pax: { path: 'p' } }]); b[512] = 0x78; return b; })(), 7],
    ['an empty file name', [{ name: './' }], 11],
    ['a payload cut short', archive([{ name: 'f', data: 'x'.repeat(1000) }], { end: false }).subarray(0, 1024), 6],
    ['a header cut short', archive([{ name: 'f' }]).subarray(0, 300), 6],
    ['an extension header followed by the end', Buffer.concat([archive([{ name: 'f', pax: { path: 'p' } }], { end: false }).subarray(0, 1024), new Uint8Array(1024)]), 12],
    ['five extension headers before one entry', Buffer.concat([...Array.from({ length: 5 }, () => archive([{ name: 'f', pax: { path: 'p' } }], { end: false }).subarray(0, 1024)), archive([{ name: 'f' }])]), 12],
  ];
  for (const [what, input, code] of hostile) {
    test(`${engineName}: refuses ${what}`, (t) => {
      const bytes = input instanceof Uint8Array ? input : archive(input);
      const err = t.throws(() => scanTar(make(), bytes), { instanceOf: TarScanError });
      t.is(err?.scanCode, code, err?.message);
      t.is(err?.code, 'invalid_argument');
      t.notRegex(err?.message ?? '', /\n/);
    });
  }

  test(`${engineName}: an absolute name is re-rooted, not refused`, (t) => {
    t.deepEqual(scanTar(make(), archive([{ name: '/etc/passwd' }, { name: '/' , type: '5' }])).map((r) => r.name), ['etc/passwd', '']);
  });

  test(`${engineName}: the same records whatever the chunking`, (t) => {
    const bytes = archive(Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, data: 'y'.repeat(i * 97), pax: i % 3 ? undefined : { path: `p/${i}` } })));
    const whole = scanTar(make(), bytes);
    t.is(whole.length, 40);
    for (let size = 1; size < 3000; size += 337) {
      const scanner = new TarScanner(make());
      const records: TarEntryRecord[] = [];
      for (let off = 0; off < bytes.length; off += size) records.push(...scanner.push(bytes.subarray(off, off + size)));
      records.push(...scanner.end());
      t.deepEqual(records, whole, `chunks of ${size}`);
    }
  });
}

function fixChecksum(b: Uint8Array): void {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.set(new TextEncoder().encode(sum.toString(8).padStart(6, '0')), 148);
  b[154] = 0;
}

test('kernel and twin agree on 10,000 fuzzed archives (fixed seed), with both acceptances and rejections', (t) => {
  const summary = fuzzTarScan(new TarScanWasm(), new TarScanJs(), 1, 10_000);
  t.deepEqual(summary.disagreements, []);
  t.is(summary.disagreed, 0);
  t.true(summary.accepted > 1000, `accepted ${summary.accepted}`);
  t.true(summary.rejected > 1000, `rejected ${summary.rejected}`);
});

test('the differential check notices a scanner that differs (it can fail)', (t) => {
  class Lenient extends TarScanJs {
    override scan(input: Uint8Array, base: number, final: boolean) {
      const out = super.scan(input, base, final);
      return { ...out, records: out.records.map((r) => ({ ...r, mode: r.mode | 1 })) };
    }
  }
  const summary = fuzzTarScan(new TarScanJs(), new Lenient(), 1, 200);
  t.true(summary.disagreed > 0);
  const r = rng(3);
  t.notDeepEqual(run(new TarScanJs(), archive([{ name: 'a', mode: 0o644 }]), r), run(new Lenient(), archive([{ name: 'a', mode: 0o644 }]), r));
});

test('wasm: streams scanned at the same time keep their own state (one kernel instance serves them all)', (t) => {
  const a = archive(Array.from({ length: 30 }, (_, i) => ({ name: `a${i}`, data: 'a'.repeat(700 * i) })));
  const b = archive(Array.from({ length: 30 }, (_, i) => ({ name: `b${i}`, data: 'b'.repeat(300 * i + 1) })));
  const sa = new TarScanner(new TarScanWasm());
  const sb = new TarScanner(new TarScanWasm());
  const ra: TarEntryRecord[] = [];
  const rb: TarEntryRecord[] = [];
  for (let off = 0; off < Math.max(a.length, b.length); off += 1000) {
    if (off < a.length) ra.push(...sa.push(a.subarray(off, off + 1000)));
    if (off < b.length) rb.push(...sb.push(b.subarray(off, off + 1000)));
  }
  ra.push(...sa.end());
  rb.push(...sb.end());
  t.deepEqual(ra, scanTar(new TarScanJs(), a));
  t.deepEqual(rb, scanTar(new TarScanJs(), b));
});
