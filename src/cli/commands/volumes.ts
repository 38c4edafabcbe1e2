import { EngineError, invalid } from '../../util/errors.js';
import { formatFlag, type Command } from '../command.js';
import { parseFilterFlags } from '../filters.js';
import { formatOne, formatRows } from '../format.js';
import { forEachName } from '../each-name.js';
import { parseKeyValueFlags } from '../key-values.js';

interface Volume { Name: string; Driver: string; Mountpoint: string; CreatedAt: string; Labels: Record<string, string>; Options: Record<string, string>; Scope: string }

const create: Command = {
  name: 'volume create', synopsis: '[OPTIONS] [VOLUME]', description: 'Create a volume',
  flags: [
    { name: 'driver', short: 'd', type: 'string', help: 'Specify volume driver name (local)' },
    { name: 'label', type: 'list', help: 'Set metadata for a volume' },
    { name: 'opt', short: 'o', type: 'list', help: 'Set driver specific options (type, device, o)' },
    { name: 'name', type: 'string', help: 'Specify volume name' },
  ],
  maxArgs: 1,
  async run(ctx) {
    const f = ctx.args.flags;
    const name = ctx.args.positionals[0] ?? (f.name as string | undefined);
    if (ctx.args.positionals[0] && f.name && f.name !== ctx.args.positionals[0]) throw invalid('conflicting options: either specify --name or provide positional arg, not both');
    const volume = await (await ctx.client()).json<Volume>('/volumes/create', {
      method: 'POST', body: { Name: name ?? '', Driver: (f.driver as string | undefined) ?? 'local', Labels: parseKeyValueFlags(f.label as string[], 'label'), DriverOpts: parseKeyValueFlags(f.opt as string[], 'option') },
    });
    process.stdout.write(`${volume.Name}\n`);
    return 0;
  },
};

const ls: Command = {
  name: 'volume ls', synopsis: '[OPTIONS]', description: 'List volumes',
  flags: [
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display volume names' },
    { name: 'filter', short: 'f', type: 'list', help: 'Provide filter values (e.g. dangling=true, label=k=v, name=x)' },
    formatFlag,
  ],
  maxArgs: 0,
  async run(ctx) {
    const f = ctx.args.flags;
    const result = await (await ctx.client()).json<{ Volumes: Volume[] }>('/volumes', { query: { filters: JSON.stringify(parseFilterFlags(f.filter as string[] | undefined)) } });
    const volumes = result.Volumes.sort((a, b) => a.Name.localeCompare(b.Name));
    if (f.quiet) {
      process.stdout.write(volumes.map((v) => `${v.Name}\n`).join(''));
      return 0;
    }
    const rows = volumes.map((v) => ({ ...v, Labels: Object.entries(v.Labels).map(([k, val]) => `${k}=${val}`).join(',') }));
    process.stdout.write(formatRows(f.format as string | undefined, rows, { defaultTable: 'table {{.Driver}}\t{{.Name}}', headers: { Driver: 'DRIVER', Name: 'VOLUME NAME', Mountpoint: 'MOUNTPOINT' }, minWidth: 10 }));
    return 0;
  },
};

const inspect: Command = {
  name: 'volume inspect', synopsis: '[OPTIONS] VOLUME [VOLUME...]', description: 'Display detailed information on one or more volumes',
  flags: [{ ...formatFlag, short: 'f' }], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    const found: Volume[] = [];
    let failed = false;
    for (const name of ctx.args.positionals) {
      try {
        found.push(await client.json<Volume>(`/volumes/${encodeURIComponent(name)}`));
      } catch (err) {
        if (!(err instanceof EngineError) || err.code !== 'not_found') throw err;
        failed = true;
        process.stderr.write(`roost: ${err.message}\n`);
      }
    }
    const format = ctx.args.flags.format as string | undefined;
    process.stdout.write(format ? found.map((v) => formatOne(format, v)).join('') : `${JSON.stringify(found, null, 4)}\n`);
    return failed ? 1 : 0;
  },
};

const rm: Command = {
  name: 'volume rm', synopsis: '[OPTIONS] VOLUME [VOLUME...]', description: 'Remove one or more volumes',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the removal of one or more volumes (no error when missing)' }], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (name) => {
      await client.call(`/volumes/${encodeURIComponent(name)}`, { method: 'DELETE', query: { force: Boolean(ctx.args.flags.force) } });
      process.stdout.write(`${name}\n`);
    });
  },
};

const prune: Command = {
  name: 'volume prune', synopsis: '[OPTIONS]', description: 'Remove unused anonymous volumes (all unused with -a)',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused volumes, not just anonymous ones' },
    { name: 'filter', type: 'list', help: 'Provide filter values (e.g. label=<label>)' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx) {
    const filters = parseFilterFlags(ctx.args.flags.filter as string[] | undefined);
    if (ctx.args.flags.all) filters.all = ['true'];
    const result = await (await ctx.client()).json<{ VolumesDeleted: string[] | null }>('/volumes/prune', { method: 'POST', query: { filters: JSON.stringify(filters) } });
    process.stdout.write(`Deleted Volumes:\n${(result.VolumesDeleted ?? []).map((n) => `${n}\n`).join('')}`);
    return 0;
  },
};

export const volumeCommands: Command[] = [create, ls, inspect, rm, prune];
