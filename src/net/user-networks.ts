import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../fs/atomic.js';
import { EngineError, conflict, invalid } from '../util/errors.js';
import { runCommand } from '../util/exec.js';
import { createNetns } from './uplink.js';
import { defaultUpstreams, EmbeddedDns, parseUpstream, type DnsClient, type Upstream } from './embedded-dns.js';
import { socketsInNetns } from './netns-sockets.js';
import { addressesOf } from './network-names.js';
import { bigIntToIPv6, freeAddress6, gateway6, ipv6ToBigInt, isIPv6Cidr, overlaps6, parseSubnet6, randomUlaSubnet } from './ipv6-subnet.js';
import { isMountPoint } from '../fs/mounter.js';

/**
 * User-defined networks (`network create`): one Linux bridge per network inside a network namespace the
 * engine holds for them all. A container on a network gets a veth pair: one end in its own namespace
 * with an address from the network's subnet, the other on the bridge. Bridges are not routed to each
 * other, so containers on different networks cannot reach each other. The container's own uplink
 * (slirp4netns or pasta, as on the default network) stays its way out and the target of its published
 * ports, except on an --internal network, which has no way out. Names resolve through /etc/hosts, which
 * the engine rewrites on every container that shares a network when one joins or leaves, and through an
 * embedded DNS server on port 53 of every bridge's gateway address (the container's nameserver), which
 * answers from the records as they are at each query (names as `network-names.ts` matches them) and forwards other names.
 */

export interface Endpoint {
  ContainerId: string;
  Name: string;
  Aliases: string[];
  IPv4: string;
  /** Its address on an IPv6 network (`--ipv6`). */
  IPv6?: string;
  /** Interface name inside the container. */
  ifname: string;
  EndpointID: string;
  /** The container's --dns servers: its other names are forwarded there instead of the host's resolvers. */
  dns?: string[];
}

export interface NetworkRecord {
  Id: string;
  Name: string;
  Created: string;
  Driver: 'bridge';
  Scope: 'local';
  Internal: boolean;
  /** `--ipv6`: the second IPAM config is the IPv6 subnet. */
  EnableIPv6?: boolean;
  Labels: Record<string, string>;
  /** IPRange: automatic addresses come from this part of the subnet only (`--ip-range`). */
  IPAM: { Driver: 'default'; Config: Array<{ Subnet: string; Gateway: string; IPRange?: string }> };
  Options: Record<string, string>;
  bridge: string;
  endpoints: Record<string, Endpoint>;
}

export interface CreateNetworkRequest {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  EnableIPv6?: boolean;
  Labels?: Record<string, string> | null;
  IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string; IPRange?: string }> | null } | null;
  Options?: Record<string, string> | null;
}

/** Docker's driver option for the MTU of a network's interfaces. */
export const mtuOption = 'com.docker.network.driver.mtu';

/**
 * The MTU of a network's bridge and veths. Docker's default, 1500, is for traffic that leaves the host;
 * a Roost network's traffic never does (the way out is each container's uplink, itself at 65520), and
 * with 65520 container-to-container iperf3 measured 1.4-1.7x the throughput of 1500 here.
 */
export function networkMtu(options: Record<string, string> | null | undefined): number {
  const value = options?.[mtuOption];
  if (value === undefined) return 65520;
  const mtu = Number(value);
  if (!/^\d+$/.test(value) || mtu < 68 || mtu > 65535) throw invalid(`invalid ${mtuOption} ${JSON.stringify(value)}: an integer from 68 to 65535`);
  return mtu;
}

/** The networks every engine has, as Docker lists them. */
export const predefinedNetworks = ['bridge', 'host', 'none'];

const namePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw invalid(`invalid IPv4 address ${JSON.stringify(ip)}`);
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}
export const intToIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

export function parseSubnet(cidr: string): { base: number; prefix: number; size: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw invalid(`invalid subnet ${JSON.stringify(cidr)}: expected an IPv4 CIDR such as 10.90.0.0/24`);
  const prefix = Number(m[2]);
  if (prefix < 8 || prefix > 30) throw invalid(`invalid subnet ${cidr}: the prefix length must be between 8 and 30`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const base = (ipToInt(m[1]!) & mask) >>> 0;
  if (base !== ipToInt(m[1]!)) throw invalid(`invalid subnet ${cidr}: host bits are set (did you mean ${intToIp(base)}/${prefix}?)`);
  return { base, prefix, size: 2 ** (32 - prefix) };
}

/** The IPv6 subnet and gateway of a network created with --ipv6. */
export function ipv6Of(record: NetworkRecord): { Subnet: string; Gateway: string } | undefined {
  return record.EnableIPv6 ? record.IPAM.Config.find((c) => isIPv6Cidr(c.Subnet)) : undefined;
}

const overlaps = (a: string, b: string) => {
  const x = parseSubnet(a);
  const y = parseSubnet(b);
  return x.base < y.base + y.size && y.base < x.base + x.size;
};

export class UserNetworks {
  private readonly records = new Map<string, NetworkRecord>();
  private readonly dir: string;
  readonly holder: string;
  private dns: EmbeddedDns | undefined;
  private holderQueue: Promise<void> = Promise.resolve();
  /** Why the DNS server could not start (names then resolve through /etc/hosts only). */
  dnsFailure: string | undefined;

  constructor(dataDir: string, runDir: string) {
    this.dir = path.join(dataDir, 'networks');
    this.holder = path.join(runDir, 'networks-netns');
  }

  /** Loads the networks; after a reboot (no holder namespace) makes the namespace and the bridges again. */
  async open(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const file of await fsp.readdir(this.dir)) {
      const record = await readJsonIfExists<NetworkRecord>(path.join(this.dir, file));
      if (record) this.records.set(record.Id, record);
    }
    if (this.records.size > 0) await this.ensureHolder();
  }

  /** Makes the networks' namespace (and the bridges of the networks on record) when it is missing. */
  ensureHolder(): Promise<void> {
    // One at a time: the default network's bridge and a network create may both ask at once.
    const next = this.holderQueue.then(() => this.ensureHolderNow());
    this.holderQueue = next.catch(() => {});
    return next;
  }

  private async ensureHolderNow(): Promise<void> {
    const exists = fs.existsSync(this.holder) && isMountPoint(this.holder);
    if (!exists) {
      await createNetns(this.holder);
      await this.inHolder(['link', 'set', 'lo', 'up']);
      for (const record of this.records.values()) {
        record.endpoints = {};
        await this.addBridge(record);
        await this.save(record);
      }
    }
    await this.startDns();
  }

  /**
   * One UDP and one TCP socket on 0.0.0.0:53 of the networks' namespace serve every bridge, present and
   * future: a query reaches the gateway address of the asking container's bridge. A restarted daemon
   * opens them again (the old ones went with the old process).
   */
  private async startDns(): Promise<void> {
    if (this.dns) return;
    try {
      const { udp, tcp } = await socketsInNetns(this.holder, 53);
      this.dns = new EmbeddedDns((address) => this.dnsClient(address));
      this.dns.serveUdp(udp);
      this.dns.serveTcp(tcp);
      this.dnsFailure = undefined;
    } catch (err) {
      this.dnsFailure = (err as Error).message;
      // Into the daemon's log: containers then get the host's resolvers and find each other through /etc/hosts only.
      process.stderr.write(`${new Date().toISOString()} ${this.dnsFailure} (names on user-defined networks resolve through /etc/hosts only)\n`);
    }
  }

  /** The embedded DNS server's address for a container on `network`, when the server runs. */
  nameserverFor(network: NetworkRecord): string | undefined {
    return this.dns ? network.IPAM.Config[0]!.Gateway : undefined;
  }

  /** The container behind a source address, as the DNS server sees it. */
  private dnsClient(address: string): DnsClient | undefined {
    const own = this.list().flatMap((r) => Object.values(r.endpoints)).find((e) => e.IPv4 === address);
    if (!own) return undefined;
    const networks = this.of(own.ContainerId);
    const peers = networks.flatMap((r) => Object.values(r.endpoints));
    // An --internal network has no way out, and neither have its names.
    const upstreams: Upstream[] = networks.every((r) => r.Internal) ? []
      : own.dns?.length ? own.dns.map((s) => parseUpstream(s)).filter((u): u is Upstream => Boolean(u))
      : defaultUpstreams();
    return {
      lookup: (name) => addressesOf(name, networks),
      lookup6: (name) => addressesOf(name, networks, 'IPv6') ?? [],
      reverse: (ip) => peers.find((e) => e.IPv4 === ip || e.IPv6 === ip)?.Name,
      get upstreams() { return upstreams; },
    };
  }

  /** Daemon shutdown: the DNS sockets close (containers keep their endpoints). */
  close(): void {
    this.dns?.close();
    this.dns = undefined;
  }

  private inHolder(args: string[]): Promise<unknown> {
    return runCommand('nsenter', [`--net=${this.holder}`, '--', 'ip', ...args]);
  }

  private async addBridge(record: NetworkRecord): Promise<void> {
    const { Subnet, Gateway } = record.IPAM.Config[0]!;
    await this.inHolder(['link', 'add', record.bridge, 'type', 'bridge']).catch(() => {});
    // A bridge without an address of its own takes the lowest of its ports', so it would change as
    // containers come and go, and containers would keep sending to the gateway's old one (their DNS
    // queries lost) until their ARP entry expires. A fixed, locally administered address from the ID.
    await this.inHolder(['link', 'set', record.bridge, 'address', `02:${record.Id.slice(0, 10).match(/../g)!.join(':')}`]);
    await this.inHolder(['addr', 'replace', `${Gateway}/${parseSubnet(Subnet).prefix}`, 'dev', record.bridge]);
    const v6 = ipv6Of(record);
    // nodad: the address is the network's own, and usable at once (no duplicate detection delay).
    if (v6) await this.inHolder(['-6', 'addr', 'replace', `${v6.Gateway}/${parseSubnet6(v6.Subnet).prefix}`, 'dev', record.bridge, 'nodad']);
    await this.inHolder(['link', 'set', record.bridge, 'mtu', String(networkMtu(record.Options)), 'up']);
  }

  private save(record: NetworkRecord): Promise<void> {
    return writeJsonAtomic(path.join(this.dir, `${record.Id}.json`), record, false);
  }

  list(): NetworkRecord[] {
    return [...this.records.values()];
  }

  /** By name, full ID or unique ID prefix. */
  find(idOrName: string): NetworkRecord | undefined {
    const byName = [...this.records.values()].find((r) => r.Name === idOrName);
    if (byName) return byName;
    if (this.records.has(idOrName)) return this.records.get(idOrName);
    const matches = [...this.records.values()].filter((r) => idOrName.length >= 3 && r.Id.startsWith(idOrName));
    return matches.length === 1 ? matches[0] : undefined;
  }

  get(idOrName: string): NetworkRecord {
    const record = this.find(idOrName);
    if (!record) throw new EngineError('not_found', `network ${idOrName} not found`);
    return record;
  }

  async create(request: CreateNetworkRequest): Promise<NetworkRecord> {
    const name = request.Name ?? '';
    if (!namePattern.test(name)) throw invalid(`invalid network name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (predefinedNetworks.includes(name)) throw conflict(`network with name ${name} already exists (it is predefined)`);
    if (this.find(name)?.Name === name) throw conflict(`network with name ${name} already exists`);
    if (request.Driver && request.Driver !== 'bridge') throw invalid(`network driver ${JSON.stringify(request.Driver)} is not supported: use bridge`);
    networkMtu(request.Options);
    const configs = request.IPAM?.Config ?? [];
    const family6 = configs.filter((c) => isIPv6Cidr(c.Subnet ?? c.Gateway ?? ''));
    const family4 = configs.filter((c) => !family6.includes(c));
    if (family4.length > 1 || family6.length > 1) throw invalid('only one IPv4 and one IPv6 subnet per network are supported');
    const [ipam] = family4;
    const [ipam6] = family6;
    if (ipam6 && !request.EnableIPv6) throw invalid(`IPv6 subnet ${ipam6.Subnet ?? ipam6.Gateway} given without --ipv6 (EnableIPv6)`);
    let subnet6: string | undefined;
    let gw6: string | undefined;
    if (request.EnableIPv6) {
      if (ipam6?.Gateway && !ipam6.Subnet) throw invalid('a gateway needs a subnet (--subnet)');
      if (ipam6?.IPRange) throw invalid('--ip-range is not supported for IPv6 subnets');
      subnet6 = ipam6?.Subnet ?? randomUlaSubnet();
      parseSubnet6(subnet6);
      const clash6 = this.list().map((r) => ({ r, v6: ipv6Of(r) })).find(({ v6 }) => v6 && overlaps6(v6.Subnet, subnet6!));
      if (clash6) throw conflict(`invalid pool request: subnet ${subnet6} overlaps with network ${clash6.r.Name} (${clash6.v6!.Subnet})`);
      gw6 = gateway6(subnet6, ipam6?.Gateway);
    }
    if (ipam?.Gateway && !ipam.Subnet) throw invalid('a gateway needs a subnet (--subnet)');
    let subnet = ipam?.Subnet;
    if (subnet) {
      parseSubnet(subnet);
      const clash = this.list().find((r) => overlaps(r.IPAM.Config[0]!.Subnet, subnet!));
      if (clash) throw conflict(`invalid pool request: subnet ${subnet} overlaps with network ${clash.Name} (${clash.IPAM.Config[0]!.Subnet})`);
    } else {
      for (let n = 1; n < 255 && !subnet; n++) {
        const candidate = `10.89.${n}.0/24`;
        if (!this.list().some((r) => overlaps(r.IPAM.Config[0]!.Subnet, candidate))) subnet = candidate;
      }
      if (!subnet) throw conflict('no free subnet left in 10.89.0.0/16: give one with --subnet');
    }
    const { base, size } = parseSubnet(subnet);
    const gateway = ipam?.Gateway ?? intToIp(base + 1);
    const gw = ipToInt(gateway);
    if (gw <= base || gw >= base + size - 1) throw invalid(`gateway ${gateway} is not in subnet ${subnet}`);
    if (ipam?.IPRange) {
      if (!ipam.Subnet) throw invalid('an IP range needs a subnet (--subnet)');
      const range = parseSubnet(ipam.IPRange);
      if (range.base < base || range.base + range.size > base + size) throw invalid(`IP range ${ipam.IPRange} is not in subnet ${subnet}`);
    }
    const id = randomBytes(32).toString('hex');
    const record: NetworkRecord = {
      Id: id, Name: name, Created: new Date().toISOString(), Driver: 'bridge', Scope: 'local', Internal: Boolean(request.Internal),
      ...(subnet6 ? { EnableIPv6: true } : {}),
      Labels: request.Labels ?? {},
      IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: gateway, ...(ipam?.IPRange ? { IPRange: ipam.IPRange } : {}) }, ...(subnet6 ? [{ Subnet: subnet6, Gateway: gw6! }] : [])] }, Options: { ...request.Options },
      bridge: `rb-${id.slice(0, 12)}`, endpoints: {},
    };
    await this.ensureHolder();
    try {
      await this.addBridge(record);
    } catch (err) {
      await this.inHolder(['link', 'del', record.bridge]).catch(() => {});
      throw new EngineError('internal', `cannot create the bridge of network ${name}: ${(err as Error).message}`);
    }
    this.records.set(id, record);
    await this.save(record);
    return record;
  }

  async remove(idOrName: string): Promise<NetworkRecord> {
    const record = this.get(idOrName);
    const users = Object.values(record.endpoints).map((e) => e.Name);
    if (users.length) throw conflict(`error while removing network: network ${record.Name} id ${record.Id} has active endpoints (${users.join(', ')})`);
    await this.inHolder(['link', 'del', record.bridge]).catch(() => {});
    this.records.delete(record.Id);
    await fsp.rm(path.join(this.dir, `${record.Id}.json`), { force: true });
    return record;
  }

  /**
   * The address a container gets on a network: `requested` if it is free and in the subnet, else the
   * lowest free one. Throws the one-line errors for a bad or taken address.
   */
  allocateAddress(idOrName: string, containerId: string, requested?: string): string {
    const record = this.get(idOrName);
    const { Subnet, Gateway, IPRange } = record.IPAM.Config[0]!;
    const { base, size } = parseSubnet(Subnet);
    const used = new Set([Gateway, ...Object.values(record.endpoints).filter((e) => e.ContainerId !== containerId).map((e) => e.IPv4)]);
    if (requested) {
      const n = ipToInt(requested);
      if (n <= base || n >= base + size - 1) throw invalid(`address ${requested} is not in the subnet ${Subnet} of network ${record.Name}`);
      if (used.has(requested)) throw conflict(`address ${requested} is already in use on network ${record.Name}`);
      return requested;
    }
    // Automatic addresses from the --ip-range if there is one (a requested --ip may be anywhere in the subnet).
    const pool = IPRange ? parseSubnet(IPRange) : { base, size };
    const first = Math.max(pool.base, base + 2);
    const last = Math.min(pool.base + pool.size, base + size - 1);
    for (let n = first; n < last; n++) if (!used.has(intToIp(n))) return intToIp(n);
    throw conflict(`no free address left on network ${record.Name} (${IPRange ? `range ${IPRange}` : Subnet})`);
  }

  /**
   * The IPv6 address a container gets on an --ipv6 network (undefined on others): `requested` (--ip6) if
   * it is free and in the subnet, else the lowest free one. Throws the one-line errors.
   */
  allocateAddress6(idOrName: string, containerId: string, requested?: string): string | undefined {
    const record = this.get(idOrName);
    const v6 = ipv6Of(record);
    if (!v6) {
      if (requested) throw invalid(`address ${requested}: network ${record.Name} has no IPv6 subnet (create it with --ipv6)`);
      return undefined;
    }
    const taken = [v6.Gateway, ...Object.values(record.endpoints).filter((e) => e.ContainerId !== containerId && e.IPv6).map((e) => e.IPv6!)];
    if (requested) {
      const { base, size } = parseSubnet6(v6.Subnet);
      const n = ipv6ToBigInt(requested);
      if (n <= base || n >= base + size) throw invalid(`address ${requested} is not in the subnet ${v6.Subnet} of network ${record.Name}`);
      const address = bigIntToIPv6(n);
      if (taken.includes(address)) throw conflict(`address ${address} is already in use on network ${record.Name}`);
      return address;
    }
    const free = freeAddress6(v6.Subnet, taken);
    if (!free) throw conflict(`no free IPv6 address left on network ${record.Name} (${v6.Subnet})`);
    return free;
  }

  /** Puts a container's namespace on a network: a veth pair, an address, the subnet's route. */
  async connect(idOrName: string, container: { id: string; name: string; aliases: string[]; nsFile: string; ifname: string; ip?: string; ip6?: string; dns?: string[] }): Promise<Endpoint> {
    const record = this.get(idOrName);
    const { prefix } = parseSubnet(record.IPAM.Config[0]!.Subnet);
    const ip = this.allocateAddress(record.Id, container.id, container.ip);
    const v6 = ipv6Of(record);
    const ip6 = this.allocateAddress6(record.Id, container.id, container.ip6);
    const hostSide = `rv${randomBytes(5).toString('hex')}`;
    // Taken before the first await, so that two containers starting at once never get the same address.
    const endpoint: Endpoint = { ContainerId: container.id, Name: container.name, Aliases: container.aliases, IPv4: ip, ...(ip6 ? { IPv6: ip6 } : {}), ifname: container.ifname, EndpointID: hostSide, ...(container.dns?.length ? { dns: container.dns } : {}) };
    record.endpoints[container.id] = endpoint;
    const inContainer = (args: string[]) => runCommand('nsenter', [`--net=${container.nsFile}`, '--', 'ip', ...args]);
    try {
      const mtu = String(networkMtu(record.Options));
      await inContainer(['link', 'add', container.ifname, 'mtu', mtu, 'type', 'veth', 'peer', 'name', hostSide, 'mtu', mtu, 'netns', this.holder]);
      try {
        await this.inHolder(['link', 'set', hostSide, 'master', record.bridge, 'up']);
        await inContainer(['addr', 'add', `${ip}/${prefix}`, 'dev', container.ifname]);
        if (ip6) await inContainer(['-6', 'addr', 'add', `${ip6}/${parseSubnet6(v6!.Subnet).prefix}`, 'dev', container.ifname, 'nodad']);
        await inContainer(['link', 'set', container.ifname, 'up']);
        await inContainer(['link', 'set', 'lo', 'up']);
      } catch (err) {
        // No half-made endpoint: deleting one end of a veth pair deletes both.
        await this.inHolder(['link', 'del', hostSide]).catch(() => {});
        throw err;
      }
    } catch (err) {
      if (record.endpoints[container.id] === endpoint) delete record.endpoints[container.id];
      throw err;
    }
    await this.save(record);
    return endpoint;
  }

  /** Takes a running container off one network: its veth pair goes (both ends), and its endpoint. */
  async disconnect(idOrName: string, containerId: string): Promise<NetworkRecord> {
    const record = this.get(idOrName);
    const endpoint = record.endpoints[containerId];
    if (!endpoint) return record;
    await this.inHolder(['link', 'del', endpoint.EndpointID]).catch(() => {});
    delete record.endpoints[containerId];
    await this.save(record);
    return record;
  }

  /** Forgets a container's endpoints (its namespace, and with it the veth, goes with the container). */
  async release(containerId: string): Promise<NetworkRecord[]> {
    const touched: NetworkRecord[] = [];
    for (const record of this.records.values()) {
      const endpoint = record.endpoints[containerId];
      if (!endpoint) continue;
      delete record.endpoints[containerId];
      await this.inHolder(['link', 'del', endpoint.EndpointID]).catch(() => {});
      await this.save(record);
      touched.push(record);
    }
    return touched;
  }

  /** After an engine start: forgets the endpoints of containers that are gone or no longer running. */
  async retain(running: Set<string>): Promise<void> {
    for (const record of this.records.values()) {
      const stale = Object.keys(record.endpoints).filter((id) => !running.has(id));
      if (!stale.length) continue;
      for (const id of stale) delete record.endpoints[id];
      await this.save(record);
    }
  }

  /** Networks a container is on. */
  of(containerId: string): NetworkRecord[] {
    return this.list().filter((r) => r.endpoints[containerId]);
  }

  /** /etc/hosts lines for the peers a container can reach by name. */
  hostsFor(containerId: string): string[] {
    const lines: string[] = [];
    for (const record of this.of(containerId)) {
      for (const e of Object.values(record.endpoints)) {
        const names = [...new Set([e.Name, ...e.Aliases, e.ContainerId.slice(0, 12)])].join(' ');
        lines.push(`${e.IPv4}\t${names}`);
        if (e.IPv6) lines.push(`${e.IPv6}\t${names}`);
      }
    }
    return lines;
  }
}
