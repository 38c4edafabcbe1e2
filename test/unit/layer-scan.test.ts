import test from 'ava';
import { applyScanned } from '../../src/fs/layer-scan.js';
import { TarScanError } from '../../src/wasm/tar-format.js';
import { TarScanJs } from '../../src/wasm/tar-scan-js.js';
import { TarScanWasm } from '../../src/wasm/tar-scan.js';
import { archive } from '../helpers/tar-build.js';

function* chunksOf(bytes: Uint8Array, size: number): Generator<Buffer> {
  for (let off = 0; off < bytes.length; off += size) yield Buffer.from(bytes.subarray(off, off + size));
}

for (const make of [() => new TarScanWasm(), () => new TarScanJs()]) {
  const name = make().name;

  test(`${name}: payloads reach the writer whole and in order, whatever the chunking`, async (t) => {
    const files = Array.from({ length: 50 }, (_, i) => ({ name: `d/f${i}`, data: Buffer.alloc(i * 211, 65 + (i % 26)) }));
    const tar = archive(files);
    for (const size of [1, 100, 512, 4096, 1 << 20]) {
      const seen: Array<[string, number, string]> = [];
      let bytes = 0;
      await applyScanned(chunksOf(tar, size), make(), (chunk) => { bytes += chunk.length; }, async (h, payload) => {
        const parts: Buffer[] = [];
        for await (const part of payload) parts.push(part);
        const body = Buffer.concat(parts);
        seen.push([h.name, body.length, body.subarray(0, 1).toString()]);
      });
      t.is(bytes, tar.length);
      t.deepEqual(seen, files.map((f) => [f.name, f.data.length, f.data.subarray(0, 1).toString()]), `chunks of ${size}`);
    }
  });

  test(`${name}: a layer of empty files does not run far ahead of a slow writer`, async (t) => {
    const tar = archive(Array.from({ length: 5000 }, (_, i) => ({ name: `e${i}` })));
    let headersSeen = 0;
    let written = 0;
    let maxAhead = 0;
    await applyScanned(chunksOf(tar, 512 * 10), make(), (chunk) => { headersSeen += chunk.length / 512; }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      written++;
      maxAhead = Math.max(maxAhead, headersSeen - written);
    });
    t.is(written, 5000);
    t.true(maxAhead < 1100, `ran ${maxAhead} entries ahead`);
  });

  test(`${name}: a hostile entry after good ones rejects, after the writer has finished what it started`, async (t) => {
    const tar = archive([{ name: 'ok', data: 'x'.repeat(3000) }, { name: '../evil' }]);
    const written: string[] = [];
    const err = await t.throwsAsync(applyScanned(chunksOf(tar, 700), make(), () => undefined, async (h, payload) => {
      for await (const _ of payload) await new Promise((resolve) => setImmediate(resolve));
      written.push(h.name);
    }), { instanceOf: TarScanError });
    t.regex(err?.message ?? '', /"\.\.\/evil" escapes the target directory/);
    t.deepEqual(written, ['ok']);
  });
}
