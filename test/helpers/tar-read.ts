import type { Readable } from 'node:stream';
import { extract, type Headers } from 'tar-stream';

/** Every entry of a tar stream with its content, in order (an error of the source fails the read). */
export async function readTar(tar: Readable): Promise<Array<{ header: Headers; content: Buffer }>> {
  const ex = extract();
  tar.on('error', (err) => ex.destroy(err));
  tar.pipe(ex as unknown as NodeJS.WritableStream);
  const entries: Array<{ header: Headers; content: Buffer }> = [];
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    entries.push({ header: entry.header, content: Buffer.concat(chunks) });
  }
  return entries;
}
