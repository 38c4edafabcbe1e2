import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { EngineError, invalid } from '../../util/errors.js';
import type { Command } from '../command.js';
import { parseKeyValueFlags } from '../key-values.js';
import { tarTools } from '../tar-loader.js';
import { parseDockerignore } from '../../build/dockerignore.js';
import { humanSize } from '../../util/human.js';
import { encodeSecrets, secretsHeader } from '../../api/build-secrets.js';
import { stepsHeader } from '../../api/build-steps.js';
import type { StepEvent } from '../../build/step-events.js';
import { BuildProgress, progressMode } from '../build-progress.js';

/**
 * The context as a tar: a directory, a tar on stdin (`-`), or a Dockerfile on stdin (`-`, no context). `-f` is
 * relative to the current directory, as with Docker; a Dockerfile outside the context (or `-f -`, read from
 * stdin) is added to the tar as Docker's CLI adds it: under a random name that the context's .dockerignore
 * lists, so that the daemon reads it and then removes it from the context (`dockerfile-in-context.ts`).
 */
async function contextTar(source: string, dockerfile: string | undefined): Promise<{ tar: Readable; dockerfileName: string }> {
  const tools = await tarTools();
  if (source === '-') {
    if (dockerfile === '-') throw invalid('cannot use stdin for both the build context and the Dockerfile');
    const data = await readStdin();
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
  const contextDir = fs.realpathSync(source);
  let dockerfileName = 'Dockerfile';
  let added: Buffer | undefined;
  let ignoreBeside: string | undefined;
  if (dockerfile === '-') added = await readStdin();
  else {
    const file = dockerfile === undefined ? path.join(contextDir, 'Dockerfile') : path.resolve(dockerfile);
    let real: string;
    try {
      real = fs.realpathSync(file);
      if (!fs.statSync(real).isFile()) throw new Error('not a file');
    } catch {
      throw invalid(`unable to prepare context: cannot locate specified Dockerfile: ${dockerfile ?? 'Dockerfile'}`);
    }
    const rel = path.relative(contextDir, real);
    if (rel.startsWith('..') || path.isAbsolute(rel)) added = fs.readFileSync(real);
    else dockerfileName = rel.split(path.sep).join('/');
    ignoreBeside = `${file}.dockerignore`;
  }
  // <Dockerfile>.dockerignore beside the Dockerfile wins over the context's .dockerignore, as with BuildKit.
  const contextIgnore = path.join(contextDir, '.dockerignore');
  const ignoreFile = [ignoreBeside, contextIgnore].find((f) => f !== undefined && fs.existsSync(f));
  const rules = ignoreFile ? parseDockerignore(fs.readFileSync(ignoreFile, 'utf8')) : undefined;
  const keep = new Set(added ? ['.dockerignore'] : [dockerfileName, '.dockerignore']);
  const skip = rules && ((entryName: string, isDir: boolean) => {
    const rel = entryName.replace(/^\.\//, '');
    if (keep.has(rel) || !rules.excluded(rel)) return undefined;
    return isDir && rules.mayInclude(rel) ? 'self' as const : 'all' as const;
  });
  const tar = tools.tarHostPath(contextDir, undefined, '.', skip);
  if (!added) return { tar, dockerfileName };
  const { randomBytes } = await import('node:crypto');
  const randomName = `.dockerfile.${randomBytes(10).toString('hex')}`;
  // The user's .dockerignore gets one more line; one made here lists itself too, so the context stays theirs.
  const ignore = fs.existsSync(contextIgnore) ? `${fs.readFileSync(contextIgnore, 'utf8')}\n${randomName}\n` : `${randomName}\n.dockerignore\n`;
  const withDockerfile = tools.rewriteTar(tar, (h) => (h.name.replace(/^\.\//, '') === '.dockerignore' ? undefined : h), [
    { name: randomName, content: added }, { name: '.dockerignore', content: Buffer.from(ignore) },
  ]);
  return { tar: withDockerfile, dockerfileName: randomName };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * `--secret id=x,src=file` (or `env=VAR`; `id=x` alone reads the variable x, as buildx does): read here
 * and sent in a request header, so the bytes never travel in the context tar.
 */
function readSecrets(specs: string[]): Record<string, Buffer> {
  const secrets: Record<string, Buffer> = {};
  for (const spec of specs) {
    const opts = Object.fromEntries(spec.split(',').map((kv) => { const eq = kv.indexOf('='); return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)]; }));
    const id = opts.id;
    if (!id) throw invalid(`invalid --secret ${JSON.stringify(spec)}: id= is required`);
    if (opts.type && opts.type !== 'file' && opts.type !== 'env') throw invalid(`invalid --secret ${JSON.stringify(spec)}: type must be file or env`);
    const src = opts.src ?? opts.source;
    const env = opts.env ?? (src === undefined ? id : undefined);
    let data: Buffer;
    if (src !== undefined) {
      try {
        data = fs.readFileSync(src);
      } catch (err) {
        throw invalid(`--secret ${id}: cannot read ${src}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    } else if (process.env[env!] !== undefined) data = Buffer.from(process.env[env!]!);
    else throw invalid(`--secret ${id}: give src=FILE (or env=VAR; ${env} is not set)`);
    secrets[id] = data;
  }
  return secrets;
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
    { name: 'secret', type: 'list', help: 'Secret to expose to RUN --mount=type=secret: "id=mysecret,src=/local/secret"' },
    { name: 'ssh', type: 'list', help: 'SSH agent socket or keys to expose (not supported)' },
    { name: 'platform', type: 'string', help: 'Set the target platform (only the host\'s own)' },
    { name: 'cache-from', type: 'list', help: 'Images to consider as cache sources (local images Roost built)' },
    { name: 'progress', type: 'string', help: 'Set type of progress output (auto, plain, tty): steps with their times and cache hits' },
  ],
  minArgs: 1, maxArgs: 1,
  async run(ctx) {
    const f = ctx.args.flags;
    const mode = progressMode(f.progress as string | undefined, Boolean(process.stdout.isTTY));
    if ((f.ssh as string[] | undefined)?.length) throw new EngineError('unavailable', '--ssh is not supported: Roost\'s builder does not forward an SSH agent', { hint: 'use --secret for a key file, or fetch what needs SSH before the build', exitCode: 1 });
    const secrets = readSecrets((f.secret as string[] | undefined) ?? []);
    const secretsValue = encodeSecrets(secrets);
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
    // -q shows nothing but the ID.
    const view = f.quiet ? undefined : new BuildProgress(process.stdout, mode);
    try {
      await streamBuild();
      view?.end();
    } catch (err) {
      view?.fail();
      // docker build exits 1 when the build fails, whatever the cause.
      if (err instanceof EngineError && err.exitCode === 125) throw new EngineError(err.code, err.message, { hint: err.hint, exitCode: 1 });
      throw err;
    }
    if (f.quiet) process.stdout.write(`${id}\n`);
    if (f.iidfile) fs.writeFileSync(f.iidfile as string, id);
    return 0;

    async function streamBuild(): Promise<void> {
    for await (const line of client.jsonLines<{ stream?: string; aux?: { ID?: string }; roostStep?: StepEvent; error?: string; errorDetail?: { message?: string } }>('/build', {
      method: 'POST', upload, headers: { [stepsHeader]: '1', ...(secretsValue ? { [secretsHeader]: secretsValue } : {}) },
      query: {
        t: (f.tag as string[] | undefined) ?? [], dockerfile: dockerfileName, buildargs: JSON.stringify(buildArgs), labels: JSON.stringify(labels),
        target: f.target as string | undefined, platform: f.platform as string | undefined, q: Boolean(f.quiet), pull: Boolean(f.pull), nocache: Boolean(f['no-cache']),
        cachefrom: f['cache-from'] ? JSON.stringify(f['cache-from']) : undefined,
      },
    })) {
      if (line.error || line.errorDetail) throw new EngineError('invalid_argument', line.errorDetail?.message ?? line.error ?? 'build failed', { exitCode: 1 });
      if (line.aux?.ID) id = line.aux.ID;
      if (line.roostStep) view?.step(line.roostStep);
      if (line.stream) view?.text(line.stream);
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
