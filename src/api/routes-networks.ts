import type { NetworkRecord } from '../net/user-networks.js';
import { ipv6Of, predefinedNetworks, type CreateNetworkRequest } from '../net/user-networks.js';
import { conflict, invalid } from '../util/errors.js';
import { readJsonBody, sendJson } from './http-util.js';
import type { Router } from './router.js';
import type { Engine } from '../engine/engine.js';
import { bridgeGateway, bridgeName, bridgeSubnet } from '../net/shared-bridge.js';

/**
 * The predefined networks, shown as Docker shows them. `bridge`, where it is the shared bridge, has its
 * subnet and lists its running containers with their addresses.
 */
function predefined(engine: Engine, name: string) {
  const shared = name === 'bridge' && engine.networks.sharedBridge;
  const containers: Record<string, unknown> = {};
  if (shared) {
    for (const record of engine.containers.list()) {
      if (record.bridgeAddress && record.State.Running) containers[record.Id] = { Name: record.Name.slice(1), EndpointID: '', MacAddress: '', IPv4Address: `${record.bridgeAddress}/${bridgeSubnet.split('/')[1]}`, IPv6Address: '' };
    }
  }
  return {
    Name: name, Id: `${name}`.padEnd(64, '0'), Created: '0001-01-01T00:00:00Z', Scope: 'local',
    Driver: name === 'bridge' ? 'bridge' : name === 'host' ? 'host' : 'null', EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: shared ? [{ Subnet: bridgeSubnet, Gateway: bridgeGateway }] : [] }, Internal: false, Attachable: false, Ingress: false,
    ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: containers, Options: shared ? { 'com.docker.network.bridge.name': bridgeName } : {}, Labels: {},
  };
}

function view(record: NetworkRecord) {
  const containers: Record<string, unknown> = {};
  const v6 = ipv6Of(record);
  for (const e of Object.values(record.endpoints)) {
    containers[e.ContainerId] = { Name: e.Name, EndpointID: e.EndpointID, MacAddress: '', IPv4Address: `${e.IPv4}/${record.IPAM.Config[0]!.Subnet.split('/')[1]}`, IPv6Address: e.IPv6 && v6 ? `${e.IPv6}/${v6.Subnet.split('/')[1]}` : '' };
  }
  return {
    Name: record.Name, Id: record.Id, Created: record.Created, Scope: record.Scope, Driver: record.Driver, EnableIPv6: Boolean(record.EnableIPv6),
    IPAM: { Driver: 'default', Options: {}, Config: record.IPAM.Config }, Internal: record.Internal, Attachable: false, Ingress: false,
    ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: containers, Options: record.Options, Labels: record.Labels,
  };
}

function matches(record: { Name: string; Id: string; Driver: string; Labels: Record<string, string> }, filters: Record<string, string[]>): boolean {
  return Object.entries(filters).every(([key, values]) => values.some((v) => {
    switch (key) {
      case 'name': return record.Name.includes(v);
      case 'id': return record.Id.startsWith(v);
      case 'driver': return record.Driver === v;
      case 'label': { const [k, val] = v.split('=', 2) as [string, string | undefined]; return k in record.Labels && (val === undefined || record.Labels[k] === val); }
      case 'type': return v === 'custom' ? !predefinedNetworks.includes(record.Name) : v === 'builtin' ? predefinedNetworks.includes(record.Name) : false;
      default: throw invalid(`invalid filter '${key}'`);
    }
  }));
}

/** The network endpoints of the Docker Engine API. */
export function networkRoutes(router: Router): void {
  router.add('GET', '/networks', async (ctx) => {
    const filters = ctx.query.filters();
    const all = [...predefinedNetworks.map((name) => predefined(ctx.engine, name)), ...ctx.engine.userNetworks.list().map((r) => view(r))];
    sendJson(ctx.res!, 200, all.filter((n) => matches(n, filters)));
  });

  router.add('POST', '/networks/create', async (ctx) => {
    const body = await readJsonBody<CreateNetworkRequest & { CheckDuplicate?: boolean; Attachable?: boolean }>(ctx.req);
    const record = await ctx.engine.userNetworks.create(body);
    ctx.engine.events.emit('network', 'create', record.Id, { name: record.Name, type: record.Driver });
    sendJson(ctx.res!, 201, { Id: record.Id, Warning: '' });
  });

  router.add('POST', '/networks/prune', async (ctx) => {
    const deleted: string[] = [];
    for (const record of ctx.engine.userNetworks.list()) {
      if (Object.keys(record.endpoints).length || ctx.engine.containers.networkUsers(record.Id).length) continue;
      await ctx.engine.userNetworks.remove(record.Id);
      ctx.engine.events.emit('network', 'destroy', record.Id, { name: record.Name, type: record.Driver });
      deleted.push(record.Name);
    }
    sendJson(ctx.res!, 200, { NetworksDeleted: deleted });
  });

  router.add('GET', '/networks/{id}', async (ctx) => {
    const id = ctx.params.id!;
    if (predefinedNetworks.includes(id)) return sendJson(ctx.res!, 200, predefined(ctx.engine, id));
    sendJson(ctx.res!, 200, view(ctx.engine.userNetworks.get(id)));
  });

  router.add('DELETE', '/networks/{id}', async (ctx) => {
    const id = ctx.params.id!;
    if (predefinedNetworks.includes(id)) throw conflict(`${id} is a pre-defined network and cannot be removed`);
    const record = ctx.engine.userNetworks.get(id);
    const users = ctx.engine.containers.networkUsers(record.Id);
    if (users.length) throw conflict(`error while removing network: network ${record.Name} id ${record.Id} has active endpoints (${users.join(', ')})`);
    await ctx.engine.userNetworks.remove(record.Id);
    ctx.engine.events.emit('network', 'destroy', record.Id, { name: record.Name, type: record.Driver });
    ctx.res!.writeHead(204).end();
  });

  router.add('POST', '/networks/{id}/connect', async (ctx) => {
    const body = await readJsonBody<{ Container?: string; EndpointConfig?: { Aliases?: string[] | null; IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null } | null }>(ctx.req);
    if (!body.Container) throw invalid('no container given (Container)');
    await ctx.engine.containers.connectNetwork(body.Container, ctx.params.id!, {
      aliases: body.EndpointConfig?.Aliases ?? undefined, ip: body.EndpointConfig?.IPAMConfig?.IPv4Address || undefined,
      ip6: body.EndpointConfig?.IPAMConfig?.IPv6Address || undefined,
    });
    ctx.res!.writeHead(200).end();
  });

  router.add('POST', '/networks/{id}/disconnect', async (ctx) => {
    const body = await readJsonBody<{ Container?: string; Force?: boolean }>(ctx.req);
    if (!body.Container) throw invalid('no container given (Container)');
    await ctx.engine.containers.disconnectNetwork(body.Container, ctx.params.id!, { force: Boolean(body.Force) });
    ctx.res!.writeHead(200).end();
  });
}
