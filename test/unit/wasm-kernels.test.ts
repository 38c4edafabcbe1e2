import test from 'ava';
import { randomBytes } from 'node:crypto';
import tar from 'tar-stream';
import { tarHeaderChecksumJs, tarHeaderChecksumWasm } from '../../src/wasm/kernels.js';

test('the tar header checksum kernel matches its JS twin on random headers', (t) => {
  for (let i = 0; i < 2000; i++) {
    const header = randomBytes(512);
    t.is(tarHeaderChecksumWasm(header), tarHeaderChecksumJs(header));
  }
});

test('the tar header checksum kernel agrees with the checksum a real tar writer stored', async (t) => {
  const pack = tar.pack();
  pack.entry({ name: 'hello.txt', size: 5, mode: 0o644, uid: 1000, gid: 1000 }, 'hello');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  const header = Buffer.concat(chunks).subarray(0, 512);
  const stored = parseInt(header.subarray(148, 156).toString('ascii').replace(/\0.*$/, '').trim(), 8);
  t.is(tarHeaderChecksumWasm(header), stored);
});
