import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';
import { removeIgnoredBuildFiles, shownDockerfileName, terminatedTar } from '../../src/build/dockerfile-in-context.js';

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, content] of Object.entries(files)) p.entry({ name }, content);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function names(body: Readable): Promise<string[]> {
  const found: string[] = [];
  const ex = extract();
  body.pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    found.push(`${entry.header.name}=${Buffer.concat(chunks).toString()}`);
  }
  return found;
}

test('a context tar that stops after its last entry\'s data (the docker CLI with an added Dockerfile) reads whole; a complete one too', async (t) => {
  const complete = await tarOf({ 'app.txt': 'app\n', '.dockerfile.0a1b': 'FROM busybox\n' });
  // What moby's ReplaceFileTarWrapper sends: no padding after the last entry, no end-of-archive blocks.
  const cut = complete.subarray(0, 512 + 512 + 512 + 'FROM busybox\n'.length);
  await t.throwsAsync(names(Readable.from([cut])), { message: 'Unexpected end of data' }, 'tar-stream alone refuses it');
  t.deepEqual(await names(terminatedTar(Readable.from([cut]))), ['app.txt=app\n', '.dockerfile.0a1b=FROM busybox\n']);
  t.deepEqual(await names(terminatedTar(Readable.from([complete]))), ['app.txt=app\n', '.dockerfile.0a1b=FROM busybox\n']);
});

test('the Dockerfile and .dockerignore leave the context when .dockerignore lists them; the random name is shown as Dockerfile', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dic-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const f of ['.dockerfile.0a1b', 'Dockerfile', 'app.txt']) fs.writeFileSync(path.join(dir, f), f);
  fs.writeFileSync(path.join(dir, '.dockerignore'), 'secret\n.dockerfile.0a1b\n.dockerignore\n');
  await removeIgnoredBuildFiles(dir, '.dockerfile.0a1b');
  t.deepEqual(fs.readdirSync(dir).sort(), ['Dockerfile', 'app.txt']);
  fs.writeFileSync(path.join(dir, '.dockerignore'), 'secret\n');
  await removeIgnoredBuildFiles(dir, 'Dockerfile');
  t.deepEqual(fs.readdirSync(dir).sort(), ['.dockerignore', 'Dockerfile', 'app.txt'], 'nothing listed, nothing removed');
  t.is(shownDockerfileName('/.dockerfile.0a1b'), 'Dockerfile');
  t.is(shownDockerfileName('/sub/Dockerfile.dev'), 'Dockerfile.dev');
});
