import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { invalid } from '../util/errors.js';

/**
 * IPv6 subnets of user-defined networks (`network create --ipv6 --subnet fd00:1::/64`): parsing, overlap,
 * and the addresses handed out (the gateway is the subnet's first address, containers get the next free ones).
 */
export interface Subnet6 { base: bigint; prefix: number; size: bigint }

export const isIPv6Cidr = (cidr: string) => cidr.includes(':');

export function ipv6ToBigInt(address: string): bigint {
  if (net.isIPv6(address) !== true || address.includes('.') || address.includes('%')) throw invalid(`invalid IPv6 address ${JSON.stringify(address)}`);
  const [head, tail] = address.includes('::') ? address.split('::') as [string, string] : [address, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g, 16)), 0n);
}

/** The shortest form (RFC 5952): lower case, the longest run of zero groups as `::`. */
export function bigIntToIPv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(16 * (7 - i))) & 0xffffn));
  let best = { at: -1, length: 0 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i > 1) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}

export function parseSubnet6(cidr: string): Subnet6 {
  const m = /^([0-9a-fA-F:]+)\/(\d+)$/.exec(cidr);
  if (!m) throw invalid(`invalid subnet ${JSON.stringify(cidr)}: expected an IPv6 CIDR such as fd00:1::/64`);
  const prefix = Number(m[2]);
  if (prefix < 48 || prefix > 120) throw invalid(`invalid subnet ${cidr}: the prefix length of an IPv6 subnet must be between 48 and 120`);
  const address = ipv6ToBigInt(m[1]!);
  const size = 1n << BigInt(128 - prefix);
  const base = address & ~(size - 1n) & ((1n << 128n) - 1n);
  if (base !== address) throw invalid(`invalid subnet ${cidr}: host bits are set (did you mean ${bigIntToIPv6(base)}/${prefix}?)`);
  return { base, prefix, size };
}

export function overlaps6(a: string, b: string): boolean {
  const x = parseSubnet6(a);
  const y = parseSubnet6(b);
  return x.base < y.base + y.size && y.base < x.base + x.size;
}

/** A unique local /64 (RFC 4193: fd00::/8 and 40 random bits) for `--ipv6` without an IPv6 subnet. */
export function randomUlaSubnet(): string {
  const id = randomBytes(5);
  return `${bigIntToIPv6((0xfdn << 120n) + (BigInt(`0x${id.toString('hex')}`) << 80n))}/64`;
}

/** The gateway (given, or the first address) of an IPv6 subnet; throws if it is outside. */
export function gateway6(subnet: string, given?: string): string {
  const { base, size } = parseSubnet6(subnet);
  if (!given) return bigIntToIPv6(base + 1n);
  const n = ipv6ToBigInt(given);
  if (n <= base || n >= base + size) throw invalid(`gateway ${given} is not in subnet ${subnet}`);
  return bigIntToIPv6(n);
}

/** The lowest free address of the subnet after the gateway's and the taken ones. */
export function freeAddress6(subnet: string, taken: string[]): string | undefined {
  const { base, size } = parseSubnet6(subnet);
  const used = new Set(taken.map((a) => ipv6ToBigInt(a)));
  const limit = size < 65536n ? size : 65536n;
  for (let n = base + 1n; n < base + limit; n++) if (!used.has(n)) return bigIntToIPv6(n);
  return undefined;
}
