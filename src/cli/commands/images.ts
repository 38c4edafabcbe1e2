import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { EngineError, invalid } from '../../util/errors.js';
import { formatFlag, type Command } from '../command.js';
import { parseFilterFlags } from '../filters.js';
import { formatOne, formatRows } from '../format.js';
import { forEachName } from '../each-name.js';
import { humanSize, timeAgo as ago } from '../../util/human.js';

interface ImageSummary { Id: string; RepoTags: string[]; RepoDigests: string[]; Created: number; Size: number }

const images: Command = {
  name: 'images', synopsis: '[OPTIONS] [REPOSITORY[:TAG]]', description: 'List images',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all images (default hides intermediate images)' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
    { name: 'digests', type: 'bool', help: 'Show digests' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'filter', short: 'f', type: 'list', help: 'Filter output based on conditions provided' },
    formatFlag,
  ],
  maxArgs: 1,
  async run(ctx) {
    const f = ctx.args.flags;
    const filters = parseFilterFlags(f.filter as string[] | undefined);
    if (ctx.args.positionals[0]) (filters.reference ??= []).push(ctx.args.positionals[0]);
    const list = await (await ctx.client()).json<ImageSummary[]>('/images/json', { query: { all: Boolean(f.all), filters: JSON.stringify(filters) } });
    const noTrunc = Boolean(f['no-trunc']);
    const shortId = (id: string) => (noTrunc ? id : id.slice(7, 19));
    if (f.quiet) {
      process.stdout.write([...new Set(list.map((i) => shortId(i.Id)))].map((id) => `${id}\n`).join(''));
      return 0;
    }
    const rows = list.flatMap((image) => {
      const tags = image.RepoTags.length ? image.RepoTags : ['<none>:<none>'];
      return tags.map((tag) => {
        const colon = tag.lastIndexOf(':');
        const repository = tag.slice(0, colon);
        const digest = image.RepoDigests.find((d) => d.startsWith(`${repository}@`))?.split('@')[1] ?? '<none>';
        return { Repository: repository, Tag: tag.slice(colon + 1), ID: shortId(image.Id), Digest: digest, CreatedSince: ago(image.Created), CreatedAt: new Date(image.Created * 1000).toISOString(), Size: humanSize(image.Size) };
      });
    });
    const defaultTable = f.digests
      ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
    process.stdout.write(formatRows(f.format as string | undefined, rows, {
      defaultTable, minWidth: 10,
      headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE' },
    }));
    return 0;
  },
};

const load: Command = {
  name: 'load', synopsis: '[OPTIONS]', description: 'Load an image from a tar archive or STDIN',
  flags: [
    { name: 'input', short: 'i', type: 'string', help: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the load output' },
  ],
  maxArgs: 0,
  async run(ctx) {
    const input = ctx.args.flags.input as string | undefined;
    if (input === undefined && process.stdin.isTTY) throw invalid('requested load from stdin, but stdin is empty', 'use -i FILE or pipe an archive in');
    let upload: NodeJS.ReadableStream;
    if (input !== undefined) {
      try {
        fs.accessSync(input, fs.constants.R_OK);
      } catch {
        throw invalid(`open ${input}: no such file or readable`);
      }
      upload = fs.createReadStream(input);
    } else upload = process.stdin;
    const client = await ctx.client();
    for await (const message of client.jsonLines<{ stream?: string; error?: string }>('/images/load', { method: 'POST', upload: upload as import('node:stream').Readable, query: { quiet: Boolean(ctx.args.flags.quiet) } })) {
      if (message.error) throw new EngineError('invalid_argument', message.error);
      if (message.stream && !ctx.args.flags.quiet) process.stdout.write(message.stream);
    }
    return 0;
  },
};

const save: Command = {
  name: 'save', synopsis: '[OPTIONS] IMAGE [IMAGE...]', description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  flags: [
    { name: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT' },
    { name: 'format', type: 'string', help: 'docker-archive or oci-archive (Roost writes one archive that is both)' },
  ],
  minArgs: 1,
  async run(ctx) {
    const output = ctx.args.flags.output as string | undefined;
    const format = ctx.args.flags.format as string | undefined;
    if (format !== undefined && format !== 'docker-archive' && format !== 'oci-archive') throw invalid(`unsupported save format ${JSON.stringify(format)}: use docker-archive or oci-archive`);
    if (output === undefined && process.stdout.isTTY) throw invalid('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const res = await (await ctx.client()).request('/images/get', { query: { names: ctx.args.positionals } });
    if (output !== undefined) {
      const tmp = `${output}.tmp-${process.pid}`;
      await pipeline(res, fs.createWriteStream(tmp));
      fs.renameSync(tmp, output);
    } else await pipeline(res, process.stdout);
    return 0;
  },
};

const importCmd: Command = {
  name: 'import', synopsis: '[OPTIONS] file|- [REPOSITORY[:TAG]]', description: 'Import the contents from a tarball to create a filesystem image',
  flags: [
    { name: 'change', short: 'c', type: 'list', help: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', help: 'Set commit message for imported image' },
  ],
  minArgs: 1, maxArgs: 2,
  async run(ctx) {
    const [source, name] = ctx.args.positionals as [string, string | undefined];
    const { applyChanges } = await import('../../image/changes.js');
    applyChanges({}, (ctx.args.flags.change as string[] | undefined) ?? []); // a bad --change fails before the upload
    const upload = source === '-' ? process.stdin : fs.createReadStream(source);
    if (source !== '-' && !fs.existsSync(source)) throw invalid(`open ${source}: no such file or directory`);
    const [repo, tag] = name ? splitTag(name) : [undefined, undefined];
    const result = await (await ctx.client()).json<{ status: string }>('/images/create', { method: 'POST', upload: upload as import('node:stream').Readable, query: { fromSrc: '-', repo, tag, changes: (ctx.args.flags.change as string[] | undefined) ?? [], message: ctx.args.flags.message as string | undefined } });
    process.stdout.write(`${result.status}\n`);
    return 0;
  },
};

function splitTag(name: string): [string, string | undefined] {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? [name.slice(0, colon), name.slice(colon + 1)] : [name, undefined];
}

const tag: Command = {
  name: 'tag', synopsis: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  flags: [], minArgs: 2, maxArgs: 2,
  async run(ctx) {
    const [source, target] = ctx.args.positionals as [string, string];
    const [repo, tagName] = splitTag(target);
    await (await ctx.client()).call(`/images/${encodeURIComponent(source)}/tag`, { query: { repo, tag: tagName ?? 'latest' } });
    return 0;
  },
};

const rmi: Command = {
  name: 'rmi', synopsis: '[OPTIONS] IMAGE [IMAGE...]', description: 'Remove one or more images',
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', help: 'Do not delete untagged parents' },
  ],
  minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (name) => {
      const report = await client.json<Array<{ Untagged?: string; Deleted?: string }>>(`/images/${encodeURIComponent(name)}`, { method: 'DELETE', query: { force: Boolean(ctx.args.flags.force) } });
      for (const line of report) process.stdout.write(line.Untagged ? `Untagged: ${line.Untagged}\n` : `Deleted: ${line.Deleted}\n`);
    });
  },
};

const imageInspect: Command = {
  name: 'image inspect', synopsis: '[OPTIONS] IMAGE [IMAGE...]', description: 'Display detailed information on one or more images',
  flags: [{ ...formatFlag, short: 'f' }], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    const results = [];
    for (const name of ctx.args.positionals) results.push(await client.json(`/images/${encodeURIComponent(name)}/json`));
    const format = ctx.args.flags.format as string | undefined;
    process.stdout.write(format ? results.map((r) => formatOne(format, r)).join('') : `${JSON.stringify(results, null, 4)}\n`);
    return 0;
  },
};

const history: Command = {
  name: 'history', synopsis: '[OPTIONS] IMAGE', description: 'Show the history of an image',
  flags: [formatFlag, { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' }, { name: 'no-trunc', type: 'bool', help: "Don't truncate output" }], minArgs: 1, maxArgs: 1,
  async run(ctx) {
    const rows = await (await ctx.client()).json<Array<{ Id: string; Created: number; CreatedBy: string; Size: number; Comment: string }>>(`/images/${encodeURIComponent(ctx.args.positionals[0]!)}/history`);
    if (ctx.args.flags.quiet) {
      process.stdout.write(rows.map((r) => `${r.Id === '<missing>' ? r.Id : r.Id.slice(7, 19)}\n`).join(''));
      return 0;
    }
    const noTrunc = Boolean(ctx.args.flags['no-trunc']);
    const view = rows.map((r) => ({
      ID: r.Id === '<missing>' || noTrunc ? r.Id : r.Id.slice(7, 19), CreatedSince: ago(r.Created),
      CreatedBy: noTrunc || r.CreatedBy.length <= 45 ? r.CreatedBy : `${r.CreatedBy.slice(0, 44)}…`, Size: humanSize(r.Size), Comment: r.Comment,
    }));
    process.stdout.write(formatRows(ctx.args.flags.format as string | undefined, view, {
      defaultTable: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}', minWidth: 10,
      headers: { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' },
    }));
    return 0;
  },
};

const imagePrune: Command = {
  name: 'image prune', synopsis: '[OPTIONS]', description: 'Remove unused images',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images, not just dangling ones' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx) {
    const filters = ctx.args.flags.all ? { dangling: ['false'] } : { dangling: ['true'] };
    const result = await (await ctx.client()).json<{ ImagesDeleted: Array<{ Deleted?: string; Untagged?: string }> }>('/images/prune', { method: 'POST', query: { filters: JSON.stringify(filters) } });
    process.stdout.write(`Deleted Images:\n${result.ImagesDeleted.map((d) => (d.Deleted ? `deleted: ${d.Deleted}\n` : `untagged: ${d.Untagged}\n`)).join('')}`);
    return 0;
  },
};

const commit: Command = {
  name: 'commit', synopsis: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]', description: "Create a new image from a container's changes",
  flags: [
    { name: 'author', short: 'a', type: 'string', help: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', type: 'list', help: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', help: 'Commit message' },
    { name: 'pause', short: 'p', type: 'bool', help: 'Pause container during commit (default true; needs a delegated cgroup, see roost info)' },
  ],
  minArgs: 1, maxArgs: 2,
  async run(ctx) {
    const [container, name] = ctx.args.positionals as [string, string | undefined];
    const { applyChanges } = await import('../../image/changes.js');
    const changes = (ctx.args.flags.change as string[] | undefined) ?? [];
    applyChanges({}, changes);
    const [repo, tagName] = name ? splitTag(name) : [undefined, undefined];
    const result = await (await ctx.client()).json<{ Id: string }>('/commit', {
      method: 'POST',
      query: { container, repo, tag: tagName, pause: String(ctx.args.flags.pause !== false), comment: ctx.args.flags.message as string | undefined, author: ctx.args.flags.author as string | undefined, changes },
    });
    process.stdout.write(`${result.Id}\n`);
    return 0;
  },
};

export const imageCommands: Command[] = [images, load, save, importCmd, tag, rmi, imageInspect, history, imagePrune, commit];
