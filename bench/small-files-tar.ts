// A tar of 200,000 small files (0–600 bytes, 1,000 per directory) written by tar-stream, for the kernels bench.
import fs from 'node:fs';
import tar from 'tar-stream';

/** A deterministic pseudo-random generator (mulberry32); the kernels bench uses it too. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function smallFilesTar(file: string): Promise<void> {
  const pack = tar.pack();
  const out = fs.createWriteStream(file);
  const written = new Promise<void>((resolve, reject) => { out.on('finish', resolve); out.on('error', reject); });
  pack.pipe(out);
  const random = rng(7);
  const dirMtime = new Date(1_700_000_000_000);
  // Every directory has its own entry, so that the unpacked trees (times included) depend on the tar alone.
  pack.entry({ name: 'usr/', type: 'directory', mode: 0o755, mtime: dirMtime });
  pack.entry({ name: 'usr/share/', type: 'directory', mode: 0o755, mtime: dirMtime });
  for (let i = 0; i < 200_000; i++) {
    if (i % 1000 === 0) pack.entry({ name: `usr/share/d${i / 1000}/`, type: 'directory', mode: 0o755, mtime: dirMtime });
    const body = Buffer.alloc(Math.floor(random() * 600), 0x61 + (i % 26));
    pack.entry({ name: `usr/share/d${Math.floor(i / 1000)}/file-${i}.txt`, mode: 0o644, mtime: new Date(1_700_000_000_000) }, body);
    if (i % 5000 === 0) await new Promise((r) => setImmediate(r)); // let the file stream take what is packed
  }
  pack.finalize();
  await written;
}
