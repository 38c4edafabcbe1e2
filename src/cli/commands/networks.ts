import { EngineError } from '../../util/errors.js';
import { formatFlag, type Command } from '../command.js';
import { forEachName } from '../each-name.js';
import { parseFilterFlags } from '../filters.js';
import { formatOne, formatRows } from '../format.js';
import { parseKeyValueFlags } from '../key-values.js';

interface Network { Name: string; Id: string; Driver: string; Scope: string; Internal: boolean; Labels: Record<string, string>; Created: string }

/**
 * --subnet, --gateway and --ip-range as Docker's CLI pairs them: a gateway or range goes with the subnet of
 * its address family (the first subnet when there is no subnet of it, which the engine then refuses).
 */
export function ipamConfigs(subnets: string[], gateways: string[], ipRange?: string): Array<{ Subnet?: string; Gateway?: string; IPRange?: string }> {
  const v6 = (s: string) => s.includes(':');
  const configs: Array<{ Subnet?: string; Gateway?: string; IPRange?: string }> = subnets.map((Subnet) => ({ Subnet }));
  const attach = (address: string, key: 'Gateway' | 'IPRange') => {
    const config = configs.find((c) => c.Subnet !== undefined && v6(c.Subnet) === v6(address) && c[key] === undefined);
    if (config) config[key] = address;
    else configs.push({ [key]: address });
  };
  for (const gateway of gateways) attach(gateway, 'Gateway');
  if (ipRange) attach(ipRange, 'IPRange');
  return configs;
}

const create: Command = {
  name: 'network create', synopsis: '[OPTIONS] NETWORK', description: 'Create a network',
  flags: [
    { name: 'driver', short: 'd', type: 'string', help: 'Driver to manage the Network (bridge)' },
    { name: 'subnet', type: 'list', help: 'Subnet in CIDR format that represents a network segment (one IPv4, one IPv6)' },
    { name: 'gateway', type: 'list', help: 'IPv4 or IPv6 Gateway for the master subnet' },
    { name: 'internal', type: 'bool', help: 'Restrict external access to the network' },
    { name: 'label', type: 'list', help: 'Set metadata on a network' },
    { name: 'ip-range', type: 'string', help: 'Allocate container ip from a sub-range' },
    { name: 'ipv6', type: 'bool', help: 'Enable IPv6 networking' },
    { name: 'opt', short: 'o', type: 'list', help: 'Set driver specific options (com.docker.network.driver.mtu=N)' },
  ],
  minArgs: 1, maxArgs: 1,
  async run(ctx) {
    const f = ctx.args.flags;
    const config = ipamConfigs((f.subnet as string[] | undefined) ?? [], (f.gateway as string[] | undefined) ?? [], f['ip-range'] as string | undefined);
    const result = await (await ctx.client()).json<{ Id: string }>('/networks/create', {
      method: 'POST',
      body: { Name: ctx.args.positionals[0], Driver: (f.driver as string | undefined) ?? 'bridge', Internal: Boolean(f.internal), EnableIPv6: Boolean(f.ipv6), Labels: parseKeyValueFlags(f.label as string[], 'label'), Options: parseKeyValueFlags(f.opt as string[], 'opt'), IPAM: { Driver: 'default', Config: config } },
    });
    process.stdout.write(`${result.Id}\n`);
    return 0;
  },
};

const ls: Command = {
  name: 'network ls', synopsis: '[OPTIONS]', description: 'List networks',
  flags: [
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display network IDs' },
    { name: 'filter', short: 'f', type: 'list', help: 'Provide filter values (e.g. driver=bridge, name=x, label=k=v)' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate the output' },
    formatFlag,
  ],
  maxArgs: 0,
  async run(ctx) {
    const f = ctx.args.flags;
    const networks = await (await ctx.client()).json<Network[]>('/networks', { query: { filters: JSON.stringify(parseFilterFlags(f.filter as string[] | undefined)) } });
    const rows = networks.map((n) => ({ ...n, ID: f['no-trunc'] ? n.Id : n.Id.slice(0, 12), Labels: Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') }));
    if (f.quiet) {
      process.stdout.write(rows.map((n) => `${n.ID}\n`).join(''));
      return 0;
    }
    process.stdout.write(formatRows(f.format as string | undefined, rows, { defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', headers: { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE' }, minWidth: 10 }));
    return 0;
  },
};

const inspect: Command = {
  name: 'network inspect', synopsis: '[OPTIONS] NETWORK [NETWORK...]', description: 'Display detailed information on one or more networks',
  flags: [{ ...formatFlag, short: 'f' }], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    const found: Network[] = [];
    let failed = false;
    for (const name of ctx.args.positionals) {
      try {
        found.push(await client.json<Network>(`/networks/${encodeURIComponent(name)}`));
      } catch (err) {
        if (!(err instanceof EngineError) || err.code !== 'not_found') throw err;
        failed = true;
        process.stderr.write(`roost: ${err.message}\n`);
      }
    }
    const format = ctx.args.flags.format as string | undefined;
    process.stdout.write(format ? found.map((n) => formatOne(format, n)).join('') : `${JSON.stringify(found, null, 4)}\n`);
    return failed ? 1 : 0;
  },
};

const rm: Command = {
  name: 'network rm', synopsis: 'NETWORK [NETWORK...]', description: 'Remove one or more networks', flags: [], minArgs: 1,
  async run(ctx) {
    const client = await ctx.client();
    return forEachName(ctx.args.positionals, async (name) => {
      await client.call(`/networks/${encodeURIComponent(name)}`, { method: 'DELETE' });
      process.stdout.write(`${name}\n`);
    });
  },
};

const prune: Command = {
  name: 'network prune', synopsis: '[OPTIONS]', description: 'Remove all unused networks',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' }], maxArgs: 0,
  async run(ctx) {
    const result = await (await ctx.client()).json<{ NetworksDeleted: string[] | null }>('/networks/prune', { method: 'POST' });
    const deleted = result.NetworksDeleted ?? [];
    process.stdout.write(deleted.length ? `Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}` : '');
    return 0;
  },
};

const connect: Command = {
  name: 'network connect', synopsis: '[OPTIONS] NETWORK CONTAINER', description: 'Connect a container to a network (a running one at once)',
  flags: [
    { name: 'alias', type: 'list', help: 'Add network-scoped alias for the container' },
    { name: 'ip', type: 'string', help: 'IPv4 address (e.g., 10.89.1.10)' },
    { name: 'ip6', type: 'string', help: 'IPv6 address on an --ipv6 network (e.g., fd00:1::10)' },
  ],
  minArgs: 2, maxArgs: 2,
  async run(ctx) {
    const [network, container] = ctx.args.positionals as [string, string];
    const f = ctx.args.flags;
    const ipam = { ...(f.ip ? { IPv4Address: f.ip as string } : {}), ...(f.ip6 ? { IPv6Address: f.ip6 as string } : {}) };
    const endpoint = { Aliases: (f.alias as string[] | undefined) ?? [], ...(f.ip || f.ip6 ? { IPAMConfig: ipam } : {}) };
    await (await ctx.client()).call(`/networks/${encodeURIComponent(network)}/connect`, { method: 'POST', body: { Container: container, EndpointConfig: endpoint } });
    return 0;
  },
};

const disconnect: Command = {
  name: 'network disconnect', synopsis: '[OPTIONS] NETWORK CONTAINER', description: 'Disconnect a container from a network (a running one at once)',
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the container to disconnect from a network' }],
  minArgs: 2, maxArgs: 2,
  async run(ctx) {
    const [network, container] = ctx.args.positionals as [string, string];
    await (await ctx.client()).call(`/networks/${encodeURIComponent(network)}/disconnect`, { method: 'POST', body: { Container: container, Force: Boolean(ctx.args.flags.force) } });
    return 0;
  },
};

export const networkCommands: Command[] = [create, ls, inspect, rm, prune, connect, disconnect];
