import { formatFlag, type Command } from '../command.js';
import { parseFilterFlags } from '../filters.js';
import { formatOne } from '../format.js';

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
    const roost = data.Roost as { IdMapping: { kind: string; uidMap: string; gidMap: string }; Runtime: string; StorageDriver: string; Host: HostFinding[] };
    const lines = [
      'Server:',
      ` Server Version: ${data.ServerVersion}`,
      ` Containers: ${data.Containers} (running ${data.ContainersRunning}, stopped ${data.ContainersStopped})`,
      ` Images: ${data.Images}`,
      ` Storage Driver: ${roost.StorageDriver}`,
      ` Runtime: ${roost.Runtime}`,
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

export const systemCommands: Command[] = [info, version, events];
