import net from 'node:net';

/**
 * Whether this host takes a dual-stack listening socket on `[::]` (IPv6 present and not disabled): where
 * it does, a port published on 0.0.0.0 answers on IPv6 too, and Docker lists it twice (`0.0.0.0` and `::`).
 */
export function listensDualStack(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '::', port: 0, ipv6Only: false }, () => server.close(() => resolve(true)));
  });
}

/** A container's published ports as Docker shows them: a binding on every address once per family where the host has both. */
export function withIPv6Bindings(ports: Record<string, Array<{ HostIp: string; HostPort: string }>>, dualStack: boolean): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  if (!dualStack) return ports;
  return Object.fromEntries(Object.entries(ports).map(([key, list]) => [key, list.flatMap((b) => (b.HostIp === '0.0.0.0' ? [b, { HostIp: '::', HostPort: b.HostPort }] : [b]))]));
}
