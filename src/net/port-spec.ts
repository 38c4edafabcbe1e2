import { invalid } from '../util/errors.js';
import type { PortBinding } from '../engine/container-types.js';

export interface PublishedPorts {
  /** Docker's ExposedPorts keys, e.g. "80/tcp". */
  exposed: Record<string, object>;
  bindings: Record<string, PortBinding[]>;
}

function parsePortRange(text: string, what: string, spec: string): [number, number] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!match) throw invalid(`invalid ${what} in port spec ${JSON.stringify(spec)}`);
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  if (start < 1 || end > 65535 || end < start) throw invalid(`invalid ${what} in port spec ${JSON.stringify(spec)}: out of range`);
  return [start, end];
}

/** Parses `-p [ip:][hostPort:]containerPort[/tcp|udp]`, with ranges, into Docker's shapes. */
export function parsePublish(specs: string[]): PublishedPorts {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const spec of specs) {
    let rest = spec;
    let proto = 'tcp';
    const slash = rest.lastIndexOf('/');
    if (slash >= 0) {
      proto = rest.slice(slash + 1);
      rest = rest.slice(0, slash);
      if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw invalid(`invalid protocol in port spec ${JSON.stringify(spec)}`);
    }
    let hostIp = '';
    const bracket = /^\[([0-9a-fA-F:]+)\]:(.*)$/.exec(rest);
    if (bracket) {
      hostIp = bracket[1]!;
      rest = bracket[2]!;
    }
    const parts = rest.split(':');
    if (parts.length > 3 || (bracket && parts.length > 2)) throw invalid(`invalid port spec ${JSON.stringify(spec)}`);
    let hostPart = '';
    let containerPart: string;
    if (parts.length === 3) {
      [hostIp, hostPart, containerPart] = parts as [string, string, string];
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(hostIp) && hostIp !== '') throw invalid(`invalid IP address in port spec ${JSON.stringify(spec)}`);
    } else if (parts.length === 2) {
      [hostPart, containerPart] = parts as [string, string];
    } else {
      containerPart = parts[0]!;
    }
    const [cStart, cEnd] = parsePortRange(containerPart, 'container port', spec);
    const hostRange = hostPart === '' ? undefined : parsePortRange(hostPart, 'host port', spec);
    if (hostRange && hostRange[1] - hostRange[0] !== cEnd - cStart && hostRange[0] !== hostRange[1]) {
      throw invalid(`port ranges must be the same size in ${JSON.stringify(spec)}`);
    }
    for (let port = cStart; port <= cEnd; port++) {
      const key = `${port}/${proto}`;
      exposed[key] = {};
      const hostPort = hostRange ? String(hostRange[0] === hostRange[1] ? hostRange[0] : hostRange[0] + (port - cStart)) : '';
      (bindings[key] ??= []).push({ HostIp: hostIp, HostPort: hostPort });
    }
  }
  return { exposed, bindings };
}
