import { isIP } from 'node:net';
import { invalid } from '../util/errors.js';

/**
 * A container's name-service settings, Docker's HostConfig fields: `--add-host` (ExtraHosts), `--dns`,
 * `--dns-search`, `--dns-option`. Checked once here for the CLI and for API bodies alike; turned into the
 * container's /etc/hosts lines and /etc/resolv.conf.
 */
export interface DnsSettings {
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  ExtraHosts?: string[] | null;
}

/** `--add-host NAME:IP|host-gateway`: the address of the host as the container reaches it. */
export const hostGateway = 'host-gateway';

/**
 * `name:ip` or `name=ip` (split at the first separator, so IPv6 addresses need no brackets, though
 * `[::1]` is taken too), as Docker reads --add-host and HostConfig.ExtraHosts.
 */
export function parseExtraHost(spec: string): { name: string; address: string } {
  const eq = spec.indexOf('=');
  const colon = spec.indexOf(':');
  const at = eq >= 0 ? eq : colon;
  if (at <= 0) throw invalid(`bad format for add-host: ${JSON.stringify(spec)} (expected NAME:IP or NAME:host-gateway)`);
  const name = spec.slice(0, at);
  let address = spec.slice(at + 1);
  if (/\s|#/.test(name)) throw invalid(`bad format for add-host: ${JSON.stringify(spec)}: the name may not contain spaces or #`);
  if (address.length > 2 && address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  if (address !== hostGateway && !isIP(address)) throw invalid(`invalid IP address in add-host: ${JSON.stringify(address)}`);
  return { name, address };
}

const domainLabel = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const domainPattern = new RegExp(`^(?:${domainLabel}\\.)*${domainLabel}$`);

/** Throws a one-line invalid_argument error for the first bad value; returns nothing when all are well. */
export function checkDnsSettings(settings: DnsSettings): void {
  for (const server of settings.Dns ?? []) {
    if (typeof server !== 'string' || !isIP(server)) throw invalid(`invalid DNS server ${JSON.stringify(server)}: not an IP address`);
  }
  for (const domain of settings.DnsSearch ?? []) {
    if (domain === '.') continue;
    const bare = typeof domain === 'string' ? domain.replace(/\.$/, '') : '';
    if (bare.length === 0 || bare.length > 253 || !domainPattern.test(bare)) throw invalid(`invalid DNS search domain ${JSON.stringify(domain)}`);
  }
  for (const option of settings.DnsOptions ?? []) {
    if (typeof option !== 'string' || option === '' || /\s/.test(option)) throw invalid(`invalid DNS option ${JSON.stringify(option)}: expected one word such as ndots:2`);
  }
  for (const spec of settings.ExtraHosts ?? []) {
    if (typeof spec !== 'string') throw invalid(`bad format for add-host: ${JSON.stringify(spec)}`);
    parseExtraHost(spec);
  }
}

/** /etc/hosts lines for --add-host, in the order given; `gateway` stands for host-gateway. */
export function extraHostsLines(extraHosts: string[] | null | undefined, gateway: string | undefined): string[] {
  return (extraHosts ?? []).map(parseExtraHost).map(({ name, address }) => `${address === hostGateway ? gateway : address}\t${name}`);
}

export function wantsHostGateway(extraHosts: string[] | null | undefined): boolean {
  return (extraHosts ?? []).some((spec) => parseExtraHost(spec).address === hostGateway);
}

/** The parts of a resolv.conf Docker carries over: nameservers, search domains, options. */
export function parseResolvConf(text: string): { nameservers: string[]; search: string[]; options: string[] } {
  const out = { nameservers: [] as string[], search: [] as string[], options: [] as string[] };
  for (const raw of text.split('\n')) {
    const [key, ...values] = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (key === 'nameserver' && values[0]) out.nameservers.push(values[0]);
    // The last search/domain line wins, as in the resolver.
    else if (key === 'search' || key === 'domain') out.search = values;
    else if (key === 'options') out.options.push(...values);
  }
  return out;
}

/**
 * The container's resolv.conf. Each of --dns, --dns-search and --dns-option replaces the host's line of its
 * kind, as in Docker (`--dns-search .` means none). With an embedded DNS server (a user-defined network) the
 * only nameserver is that server, which forwards to the --dns servers; `ndots:0` is added as Docker does
 * so that short names are asked as they are before any search domain.
 */
export function resolvConfContent(hostText: string, settings: DnsSettings, opts: { embeddedServer?: string; hostNetwork?: boolean } = {}): string {
  const host = parseResolvConf(hostText);
  const { embeddedServer } = opts;
  // The host's loopback resolvers (systemd-resolved's 127.0.0.53) are only reachable from the host's namespace.
  const nameservers = embeddedServer ? [embeddedServer]
    : settings.Dns?.length ? settings.Dns
    : host.nameservers.filter((ns) => opts.hostNetwork || (!/^127\./.test(ns) && ns !== '::1'));
  const search = settings.DnsSearch?.length ? settings.DnsSearch.filter((d) => d !== '.') : host.search;
  const options = settings.DnsOptions?.length ? [...settings.DnsOptions] : host.options;
  if (embeddedServer && !options.some((o) => o.startsWith('ndots:'))) options.push('ndots:0');
  return [
    ...nameservers.map((ns) => `nameserver ${ns}`),
    ...(search.length ? [`search ${search.join(' ')}`] : []),
    ...(options.length ? [`options ${options.join(' ')}`] : []),
  ].map((line) => `${line}\n`).join('');
}
