/**
 * Which members of a container's networks a DNS name means, as Docker's embedded DNS decides: a member's
 * name, a network-scoped alias or its short ID, alone (any of the asker's networks) or followed by the
 * name of one of them (`web.mynet`: on mynet only). Network names may contain dots, so `a.b.c` is tried
 * as `a.b.c` anywhere, `a.b` on network `c`, and `a` on network `b.c`; the first that matches wins.
 * Case does not matter. The answer is every address (IPv4, or IPv6 for AAAA) those members have on the
 * network(s) looked in: empty when they have none of that family, undefined when no member has the name.
 */
export interface NamedNetwork {
  Name: string;
  endpoints: Record<string, { ContainerId: string; Name: string; Aliases: string[]; IPv4: string; IPv6?: string }>;
}

export function memberNames(e: { ContainerId: string; Name: string; Aliases: string[] }): string[] {
  return [e.Name, ...e.Aliases, e.ContainerId.slice(0, 12)].map((n) => n.toLowerCase());
}

export function addressesOf(name: string, networks: NamedNetwork[], family: 'IPv4' | 'IPv6' = 'IPv4'): string[] | undefined {
  const wanted = name.toLowerCase().replace(/\.$/, '');
  const candidates: Array<{ member: string; network?: string }> = [{ member: wanted }];
  for (let dot = wanted.lastIndexOf('.'); dot > 0; dot = wanted.lastIndexOf('.', dot - 1)) {
    candidates.push({ member: wanted.slice(0, dot), network: wanted.slice(dot + 1) });
  }
  for (const { member, network } of candidates) {
    const searched = network === undefined ? networks : networks.filter((r) => r.Name.toLowerCase() === network);
    const members = searched.flatMap((r) => Object.values(r.endpoints)).filter((e) => memberNames(e).includes(member));
    if (members.length) return [...new Set(members.map((e) => e[family]).filter((a): a is string => Boolean(a)))];
  }
  return undefined;
}
