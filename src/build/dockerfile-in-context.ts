import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { parseDockerignore } from './dockerignore.js';
import type { BuildContext } from './build-context.js';

/**
 * Docker's rule for the Dockerfile and the .dockerignore a context carries: once the Dockerfile is read, each
 * of the two that the context's .dockerignore excludes is removed, so that no COPY sees it. Docker's CLI (and
 * Roost's) relies on it for a Dockerfile from outside the context or from stdin: it adds the file under a
 * random name (`.dockerfile.<hex>`) that it lists in .dockerignore.
 */
export function removeIgnoredBuildFiles(context: Pick<BuildContext, 'readFile' | 'remove'>, dockerfile: string): void {
  const text = context.readFile('.dockerignore');
  if (text === undefined) return;
  const rules = parseDockerignore(text.toString('utf8'));
  for (const rel of [dockerfile, '.dockerignore']) {
    if (rules.excluded(rel)) context.remove(rel);
  }
}

/** The name messages give the Dockerfile: a random name a CLI chose is just "Dockerfile" to the user. */
export function shownDockerfileName(dockerfile: string): string {
  const base = path.posix.basename(dockerfile);
  return /^\.dockerfile\.[0-9a-f]+$/.test(base) ? 'Dockerfile' : base;
}

/**
 * The context tar padded to a whole block and followed by two zero blocks. The docker CLI's tar with an added
 * Dockerfile ends without its end-of-archive blocks and without the last entry's padding (moby's
 * `ReplaceFileTarWrapper` closes the pipe before the tar writer); the zeros complete it. After a complete tar
 * they are ignored. A gzip context is left
 * as it is (the docker CLI sends them uncompressed).
 */
export function terminatedTar(body: Readable): Readable {
  let gzip: boolean | undefined;
  let length = 0;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      gzip ??= chunk[0] === 0x1f && chunk[1] === 0x8b;
      length += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      callback(null, gzip ? undefined : Buffer.alloc(((512 - (length % 512)) % 512) + 1024));
    },
  });
  body.on('error', (err) => out.destroy(err));
  return body.pipe(out);
}
