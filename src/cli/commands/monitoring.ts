import type { ApiClient } from '../../api/client.js';
import { formatFlag, type Command } from '../command.js';
import { formatRows, tabwrite } from '../format.js';
import { humanSize } from '../../util/human.js';
import { forEachName } from '../each-name.js';

const top: Command = {
  name: 'top', synopsis: 'CONTAINER [ps OPTIONS]', description: 'Display the running processes of a container',
  flags: [], stopAtPositional: true, minArgs: 1,
  async run(ctx) {
    const [id, ...psArgs] = ctx.args.positionals as [string, ...string[]];
    const result = await (await ctx.client()).json<{ Titles: string[]; Processes: string[][] }>(`/containers/${encodeURIComponent(id)}/top`, { query: { ps_args: psArgs.join(' ') || undefined } });
    process.stdout.write(tabwrite([result.Titles, ...result.Processes].map((row) => row.join('\t')).join('\n') + '\n', { padding: 3 }));
    return 0;
  },
};

interface StatsJson {
  id: string; name: string;
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number; online_cpus: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number };
  memory_stats: { usage: number; limit: number };
  networks: Record<string, { rx_bytes: number; tx_bytes: number }>;
  blkio_stats: { io_service_bytes_recursive: Array<{ op: string; value: number }> };
  pids_stats: { current: number };
}

/** Docker's CPU %: the container's share of all CPU time between two samples, times the CPU count. */
export function cpuPercent(s: StatsJson): number {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const systemDelta = s.cpu_stats.system_cpu_usage - s.precpu_stats.system_cpu_usage;
  if (s.precpu_stats.system_cpu_usage === 0 || systemDelta <= 0 || cpuDelta < 0) return 0;
  return (cpuDelta / systemDelta) * s.cpu_stats.online_cpus * 100;
}

function row(s: StatsJson) {
  const rx = Object.values(s.networks ?? {}).reduce((sum, n) => sum + n.rx_bytes, 0);
  const tx = Object.values(s.networks ?? {}).reduce((sum, n) => sum + n.tx_bytes, 0);
  const blk = (op: string) => s.blkio_stats.io_service_bytes_recursive.filter((e) => e.op === op).reduce((sum, e) => sum + e.value, 0);
  const mem = s.memory_stats.usage;
  return {
    ID: s.id.slice(0, 12), Container: s.id.slice(0, 12), Name: s.name.replace(/^\//, ''),
    CPUPerc: `${cpuPercent(s).toFixed(2)}%`,
    MemUsage: `${humanSize(mem)} / ${humanSize(s.memory_stats.limit)}`,
    MemPerc: `${((mem / s.memory_stats.limit) * 100).toFixed(2)}%`,
    NetIO: `${humanSize(rx)} / ${humanSize(tx)}`,
    BlockIO: `${humanSize(blk('read'))} / ${humanSize(blk('write'))}`,
    PIDs: String(s.pids_stats.current),
  };
}

const statsHeaders = { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' };
const statsTable = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

async function oneSample(client: ApiClient, id: string): Promise<StatsJson> {
  return client.json<StatsJson>(`/containers/${encodeURIComponent(id)}/stats`, { query: { stream: false } });
}

const stats: Command = {
  name: 'stats', synopsis: '[OPTIONS] [CONTAINER...]', description: 'Display a live stream of container resource usage statistics',
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'no-stream', type: 'bool', help: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    formatFlag,
  ],
  async run(ctx) {
    const client = await ctx.client();
    const f = ctx.args.flags;
    const names = async () => ctx.args.positionals.length
      ? ctx.args.positionals
      : (await client.json<Array<{ Id: string }>>('/containers/json', { query: { all: Boolean(f.all) } })).map((c) => c.Id);
    const render = async () => {
      const samples = await Promise.all((await names()).map((id) => oneSample(client, id)));
      return formatRows(f.format as string | undefined, samples.map(row), { defaultTable: statsTable, headers: statsHeaders, minWidth: 10 });
    };
    if (f['no-stream']) {
      process.stdout.write(await render());
      return 0;
    }
    const tty = process.stdout.isTTY;
    for (;;) {
      const text = await render();
      process.stdout.write(tty ? `\x1b[H\x1b[2J${text}` : text);
      await new Promise((r) => setTimeout(r, 800));
    }
  },
};

const pauseLike = (name: 'pause' | 'unpause'): Command => ({
  name, synopsis: 'CONTAINER [CONTAINER...]', description: name === 'pause' ? 'Pause all processes within one or more containers' : 'Unpause all processes within one or more containers',
  flags: [], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (id) => {
      await client.call(`/containers/${encodeURIComponent(id)}/${name}`);
      process.stdout.write(`${id}\n`);
    });
  },
});

export const monitoringCommands: Command[] = [top, stats, pauseLike('pause'), pauseLike('unpause')];
