import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { BuildContext } from '../../src/build/build-context.js';
import { readTar } from '../helpers/tar-read.js';
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
  return (await readTar(body)).map(({ header, content }) => `${header.name}=${content.toString()}`);
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
  const scratch = path.join(os.tmpdir(), `dic-${process.pid}`);
  const files = { '.dockerfile.0a1b': 'x', Dockerfile: 'x', 'app.txt': 'x' };
  const listed = (c: BuildContext) => c.list('').sort();
  let context = await BuildContext.receive(Readable.from([await tarOf({ ...files, '.dockerignore': 'secret\n.dockerfile.0a1b\n.dockerignore\n' })]), scratch);
  removeIgnoredBuildFiles(context, '.dockerfile.0a1b');
  t.deepEqual(listed(context), ['Dockerfile', 'app.txt']);
  context.dispose();
  context = await BuildContext.receive(Readable.from([await tarOf({ ...files, '.dockerignore': 'secret\n' })]), scratch);
  removeIgnoredBuildFiles(context, 'Dockerfile');
  t.deepEqual(listed(context), ['.dockerfile.0a1b', '.dockerignore', 'Dockerfile', 'app.txt'], 'nothing listed, nothing removed');
  context.dispose();
  t.is(shownDockerfileName('/.dockerfile.0a1b'), 'Dockerfile');
  t.is(shownDockerfileName('/sub/Dockerfile.dev'), 'Dockerfile.dev');
});
