import { formatFlag, type Command } from '../command.js';
import { parseFilterFlags } from '../filters.js';
import { formatOne, formatRows } from '../format.js';
import { serviceCommands } from './service.js';

interface HostFinding { name: string; ok: boolean; detail: string; remedy?: string }

const info: Command = {
  name: 'info', synopsis: '[OPTIONS]', description: 'Display system-wide information, with what this host lacks and how to fix it',
  flags: [formatFlag], maxArgs: 0,
  async run(ctx) {
    const data = await (await ctx.client()).json<Record<string, any>>('/info');
    const format = ctx.args.flags.format as string | undefined;
    if (format) {
      process.stdout.write(formatOne(format === 'json' ? '{{json .}}' : format, data));
      return 0;
    }
    const roost = data.Roost as { IdMapping: { kind: string; uidMap: string; gidMap: string }; Runtime: string; StorageDriver: string; DefaultNetwork?: string; HotPaths?: Array<{ path: string; implementation: string; reason: string }>; Host: HostFinding[] };
    const lines = [
      'Server:',
      ` Server Version: ${data.ServerVersion}`,
      ` Containers: ${data.Containers} (running ${data.ContainersRunning}, stopped ${data.ContainersStopped})`,
      ` Images: ${data.Images}`,
      ` Storage Driver: ${roost.StorageDriver}`,
      ` Runtime: ${roost.Runtime}`,
      ...(roost.DefaultNetwork ? [` Default network: ${roost.DefaultNetwork}`] : []),
      ` Rootless: true`,
      ` ID mapping: ${roost.IdMapping.kind === 'subid' ? 'subordinate id ranges' : 'single id (no subuid/subgid range)'}`,
      `  uid map: ${roost.IdMapping.uidMap}`,
      `  gid map: ${roost.IdMapping.gidMap}`,
      ` Cgroup Version: ${data.CgroupVersion}`,
      ` Kernel Version: ${data.KernelVersion}`,
      ` Operating System: ${data.OperatingSystem}`,
      ` CPUs: ${data.NCPU}`,
      ` Total Memory: ${(data.MemTotal / 1024 ** 3).toFixed(2)}GiB`,
      ` Root Dir: ${data.DockerRootDir}`,
      ' Hot paths:',
      ...(roost.HotPaths ?? []).map((h) => `  ${h.path}: ${h.implementation} (${h.reason})`),
      ' Host checks:',
    ];
    for (const finding of roost.Host) {
      lines.push(`  ${finding.ok ? 'ok  ' : 'WARN'} ${finding.name}: ${finding.detail}`);
      if (finding.remedy && !finding.ok) lines.push(`       fix: ${finding.remedy}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};

const version: Command = {
  name: 'version', synopsis: '[OPTIONS]', description: 'Show the Roost version information', flags: [formatFlag], maxArgs: 0,
  async run(ctx) {
    const { roostVersion } = await import('../../util/version.js');
    let server: Record<string, unknown> | undefined;
    try {
      server = await (await ctx.client()).json<Record<string, unknown>>('/version');
    } catch (err) {
      process.stderr.write(`roost: ${(err as Error).message}\n`);
    }
    const format = ctx.args.flags.format as string | undefined;
    const data = { Client: { Version: roostVersion, ApiVersion: '1.44', Os: 'linux', Arch: process.arch, NodeVersion: process.versions.node }, Server: server };
    if (format) {
      process.stdout.write(formatOne(format === 'json' ? '{{json .}}' : format, data));
      return server ? 0 : 1;
    }
    process.stdout.write(`Client:\n Version:     ${roostVersion}\n API version: 1.44\n Node:        ${process.versions.node}\n`);
    if (server) process.stdout.write(`\nServer: Roost\n Version:     ${server.Version}\n API version: ${server.ApiVersion} (minimum version ${server.MinAPIVersion})\n Kernel:      ${server.KernelVersion}\n`);
    return server ? 0 : 1;
  },
};

const events: Command = {
  name: 'events', synopsis: '[OPTIONS]', description: 'Get real time events from the server',
  flags: [
    { name: 'filter', short: 'f', type: 'list', help: 'Filter output based on conditions provided' },
    { name: 'since', type: 'string', help: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', help: 'Stream events until this timestamp' },
    formatFlag,
  ],
  maxArgs: 0,
  async run(ctx) {
    const { relativeTime } = await import('./containers.js');
    const f = ctx.args.flags;
    const filters = parseFilterFlags(f.filter as string[] | undefined);
    const format = f.format as string | undefined;
    const query = { filters: JSON.stringify(filters), since: relativeTime(f.since as string | undefined), until: relativeTime(f.until as string | undefined) };
    for await (const event of (await ctx.client()).jsonLines<{ Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number }>('/events', { query })) {
      if (format) {
        process.stdout.write(formatOne(format === 'json' ? '{{json .}}' : format, event));
        continue;
      }
      const time = new Date(event.timeNano / 1e6).toISOString();
      const attrs = Object.entries(event.Actor.Attributes).map(([k, v]) => `${k}=${v}`).join(', ');
      process.stdout.write(`${time} ${event.Type} ${event.Action} ${event.Actor.ID}${attrs ? ` (${attrs})` : ''}\n`);
    }
    return 0;
  },
};

interface DiskUsage {
  Images: Array<{ Id: string; RepoTags: string[]; Size: number; Containers: number }>;
  Containers: Array<{ Id: string; Names: string[]; Image: string; SizeRw: number; State: string }>;
  Volumes: Array<{ Name: string; UsageData: { Size: number; RefCount: number } }>;
}

const df: Command = {
  name: 'system df', synopsis: '[OPTIONS]', description: 'Show disk usage',
  flags: [{ name: 'verbose', short: 'v', type: 'bool', help: 'Show detailed information on space usage' }, formatFlag], maxArgs: 0,
  async run(ctx) {
    const { humanSize } = await import('../../util/human.js');
    const usage = await (await ctx.client()).json<DiskUsage>('/system/df');
    const pct = (part: number, whole: number) => (whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '');
    const imageTotal = usage.Images.reduce((s, i) => s + i.Size, 0);
    const imageFree = usage.Images.filter((i) => i.Containers === 0).reduce((s, i) => s + i.Size, 0);
    const containerTotal = usage.Containers.reduce((s, c) => s + c.SizeRw, 0);
    const containerFree = usage.Containers.filter((c) => c.State !== 'running').reduce((s, c) => s + c.SizeRw, 0);
    const volumeTotal = usage.Volumes.reduce((s, v) => s + v.UsageData.Size, 0);
    const volumeFree = usage.Volumes.filter((v) => v.UsageData.RefCount === 0).reduce((s, v) => s + v.UsageData.Size, 0);
    const rows = [
      { Type: 'Images', TotalCount: String(usage.Images.length), Active: String(usage.Images.filter((i) => i.Containers > 0).length), Size: humanSize(imageTotal), Reclaimable: humanSize(imageFree) + pct(imageFree, imageTotal) },
      { Type: 'Containers', TotalCount: String(usage.Containers.length), Active: String(usage.Containers.filter((c) => c.State === 'running').length), Size: humanSize(containerTotal), Reclaimable: humanSize(containerFree) + pct(containerFree, containerTotal) },
      { Type: 'Local Volumes', TotalCount: String(usage.Volumes.length), Active: String(usage.Volumes.filter((v) => v.UsageData.RefCount > 0).length), Size: humanSize(volumeTotal), Reclaimable: humanSize(volumeFree) + pct(volumeFree, volumeTotal) },
    ];
    process.stdout.write(formatRows(ctx.args.flags.format as string | undefined, rows, {
      defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}', minWidth: 10,
      headers: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
    }));
    if (ctx.args.flags.verbose) {
      process.stdout.write('\nContainers space usage:\n\n');
      process.stdout.write(formatRows(undefined, usage.Containers.map((c) => ({ ID: c.Id.slice(0, 12), Image: c.Image, Size: humanSize(c.SizeRw), Names: c.Names.map((n) => n.slice(1)).join(',') })), { defaultTable: 'table {{.ID}}\t{{.Image}}\t{{.Size}}\t{{.Names}}', minWidth: 10, headers: { ID: 'CONTAINER ID', Image: 'IMAGE', Size: 'SIZE', Names: 'NAMES' } }));
      process.stdout.write('\nLocal Volumes space usage:\n\n');
      process.stdout.write(formatRows(undefined, usage.Volumes.map((v) => ({ Name: v.Name, Links: String(v.UsageData.RefCount), Size: humanSize(v.UsageData.Size) })), { defaultTable: 'table {{.Name}}\t{{.Links}}\t{{.Size}}', minWidth: 10, headers: { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' } }));
    }
    return 0;
  },
};

const prune: Command = {
  name: 'system prune', synopsis: '[OPTIONS]', description: 'Remove stopped containers, dangling (or with -a all unused) images, and with --volumes unused anonymous volumes',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images not just dangling ones' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    { name: 'volumes', type: 'bool', help: 'Prune anonymous volumes' },
  ],
  maxArgs: 0,
  async run(ctx) {
    const client = await ctx.client();
    const containers = await client.json<{ ContainersDeleted: string[] | null }>('/containers/prune', { method: 'POST' });
    const images = await client.json<{ ImagesDeleted: Array<{ Deleted?: string; Untagged?: string }> }>('/images/prune', { method: 'POST', query: { filters: JSON.stringify({ dangling: [ctx.args.flags.all ? 'false' : 'true'] }) } });
    const volumes = ctx.args.flags.volumes ? await client.json<{ VolumesDeleted: string[] | null }>('/volumes/prune', { method: 'POST' }) : { VolumesDeleted: [] };
    const lines: string[] = [];
    if (containers.ContainersDeleted?.length) lines.push('Deleted Containers:', ...containers.ContainersDeleted, '');
    if (volumes.VolumesDeleted?.length) lines.push('Deleted Volumes:', ...volumes.VolumesDeleted, '');
    if (images.ImagesDeleted.length) lines.push('Deleted Images:', ...images.ImagesDeleted.map((d) => (d.Deleted ? `deleted: ${d.Deleted}` : `untagged: ${d.Untagged}`)), '');
    process.stdout.write(lines.length ? `${lines.join('\n')}\n` : 'Nothing to remove\n');
    return 0;
  },
};

export const systemCommands: Command[] = [info, version, events, df, prune, ...serviceCommands];
