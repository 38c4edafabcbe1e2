import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { EngineError, invalid } from '../../util/errors.js';
import type { Command } from '../command.js';
import { parseKeyValueFlags } from '../key-values.js';
import { tarTools } from '../tar-loader.js';
import { parseDockerignore } from '../../build/dockerignore.js';
import { humanSize } from '../../util/human.js';

/** The context as a tar: a directory, a tar on stdin (`-`), or a Dockerfile on stdin (`-`, no context). */
async function contextTar(source: string, dockerfile: string | undefined): Promise<{ tar: Readable; dockerfileName: string }> {
  const tools = await tarTools();
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const data = Buffer.concat(chunks);
    const isTar = data.length > 262 && data.subarray(257, 262).toString() === 'ustar';
    const isGzip = data[0] === 0x1f && data[1] === 0x8b;
    if (isTar || isGzip) return { tar: Readable.from([data]), dockerfileName: dockerfile ?? 'Dockerfile' };
    // A Dockerfile alone: a context holding only it.
    const dir = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'roost-build-'));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), data);
    const tar = tools.tarHostPath(dir, undefined, '.');
    tar.on('end', () => fs.rmSync(dir, { recursive: true, force: true }));
    return { tar, dockerfileName: 'Dockerfile' };
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch {
    throw invalid(`unable to prepare context: path ${JSON.stringify(source)} not found`);
  }
  if (!st.isDirectory()) throw invalid(`unable to prepare context: context must be a directory: ${source}`);
  let dockerfileName = dockerfile ?? 'Dockerfile';
  if (dockerfile && path.isAbsolute(dockerfile)) {
    const rel = path.relative(path.resolve(source), dockerfile);
    if (rel.startsWith('..')) throw invalid(`the Dockerfile (${dockerfile}) must be within the build context (${source})`);
    dockerfileName = rel;
  }
  if (!fs.existsSync(path.join(source, dockerfileName))) throw invalid(`unable to prepare context: cannot locate specified Dockerfile: ${dockerfileName}`);
  // <Dockerfile>.dockerignore beside the Dockerfile wins over the context's .dockerignore, as with BuildKit.
  const ignoreFile = [path.join(source, `${dockerfileName}.dockerignore`), path.join(source, '.dockerignore')].find((f) => fs.existsSync(f));
  const rules = ignoreFile ? parseDockerignore(fs.readFileSync(ignoreFile, 'utf8')) : undefined;
  const keep = new Set([dockerfileName.split(path.sep).join('/'), '.dockerignore']);
  const skip = rules && ((entryName: string, isDir: boolean) => {
    const rel = entryName.replace(/^\.\//, '');
    if (keep.has(rel) || !rules.excluded(rel)) return undefined;
    return isDir && rules.mayInclude(rel) ? 'self' as const : 'all' as const;
  });
  return { tar: tools.tarHostPath(path.resolve(source), undefined, '.', skip), dockerfileName };
}

const build: Command = {
  name: 'build', synopsis: '[OPTIONS] PATH | -', description: 'Build an image from a Dockerfile',
  flags: [
    { name: 'tag', short: 't', type: 'list', help: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'file', short: 'f', type: 'string', help: "Name of the Dockerfile (default: 'PATH/Dockerfile')" },
    { name: 'build-arg', type: 'list', help: 'Set build-time variables' },
    { name: 'label', type: 'list', help: 'Set metadata for an image' },
    { name: 'target', type: 'string', help: 'Set the target build stage to build' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the build output and print image ID on success' },
    { name: 'pull', type: 'bool', help: 'Always attempt to pull a newer version of the image' },
    { name: 'no-cache', type: 'bool', help: 'Do not use cache when building the image' },
    { name: 'iidfile', type: 'string', help: 'Write the image ID to the file' },
  ],
  minArgs: 1, maxArgs: 1,
  async run(ctx) {
    const f = ctx.args.flags;
    const { tar, dockerfileName } = await contextTar(ctx.args.positionals[0]!, f.file as string | undefined);
    const buildArgs = Object.fromEntries(((f['build-arg'] as string[] | undefined) ?? []).map((a) => {
      const eq = a.indexOf('=');
      return eq < 0 ? [a, process.env[a] ?? ''] : [a.slice(0, eq), a.slice(eq + 1)];
    }));
    const labels = parseKeyValueFlags(f.label as string[] | undefined, 'label');
    const client = await ctx.client();
    const upload = new PassThrough();
    tar.on('error', (err) => upload.destroy(err));
    tar.pipe(upload);
    let id = '';
    try {
      await streamBuild();
    } catch (err) {
      // docker build exits 1 when the build fails, whatever the cause.
      if (err instanceof EngineError && err.exitCode === 125) throw new EngineError(err.code, err.message, { hint: err.hint, exitCode: 1 });
      throw err;
    }
    if (f.quiet) process.stdout.write(`${id}\n`);
    if (f.iidfile) fs.writeFileSync(f.iidfile as string, id);
    return 0;

    async function streamBuild(): Promise<void> {
    for await (const line of client.jsonLines<{ stream?: string; aux?: { ID?: string }; error?: string; errorDetail?: { message?: string } }>('/build', {
      method: 'POST', upload,
      query: {
        t: (f.tag as string[] | undefined) ?? [], dockerfile: dockerfileName, buildargs: JSON.stringify(buildArgs), labels: JSON.stringify(labels),
        target: f.target as string | undefined, q: Boolean(f.quiet), pull: Boolean(f.pull), nocache: Boolean(f['no-cache']),
      },
    })) {
      if (line.error || line.errorDetail) throw new EngineError('invalid_argument', line.errorDetail?.message ?? line.error ?? 'build failed', { exitCode: 1 });
      if (line.aux?.ID) id = line.aux.ID;
      if (line.stream && !f.quiet) process.stdout.write(line.stream);
    }
    }
  },
};

const builderPrune: Command = {
  name: 'builder prune', synopsis: '[OPTIONS]', description: 'Remove build cache',
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused build cache (the only kind Roost keeps)' },
  ],
  maxArgs: 0,
  async run(ctx) {
    const result = await (await ctx.client()).json<{ CachesDeleted: string[]; SpaceReclaimed: number }>('/build/prune', { method: 'POST' });
    if (result.CachesDeleted.length) process.stdout.write(`Deleted build cache objects:\n${result.CachesDeleted.map((id) => `${id.slice(7, 19)}\n`).join('')}\n`);
    process.stdout.write(`Total reclaimed space: ${humanSize(result.SpaceReclaimed)}\n`);
    return 0;
  },
};

export const buildCommands: Command[] = [build, builderPrune];
