import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { parseResolvConf } from './dns-config.js';
import { buildResponse, errorResponse, parseQuery, queryId, Rcode, reverseIPv4, reverseIPv6, RR, type Answer, type DnsQuery } from './dns-message.js';

/** What the server knows about the container that asks (found by its source address). */
export interface DnsClient {
  /** IPv4 addresses of a name (container name, alias, short ID) on the client's networks; undefined: not ours. */
  lookup(name: string): string[] | undefined;
  /** IPv6 addresses of the same names (on --ipv6 networks); asked only for a name lookup knows. */
  lookup6?(name: string): string[];
  /** The name of an address (IPv4 or IPv6) on the client's networks (PTR). */
  reverse(address: string): string | undefined;
  /** Where other names go; empty: nowhere (an --internal network, or forwarding turned off). */
  upstreams: Upstream[];
}

export interface Upstream { host: string; port: number }

/** `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353`. */
export function parseUpstream(text: string): Upstream | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return net.isIP(bracketed[1]!) ? { host: bracketed[1]!, port: Number(bracketed[2] ?? 53) } : undefined;
  if (net.isIP(text)) return { host: text, port: 53 };
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text);
  return m && net.isIP(m[1]!) && Number(m[2]) > 0 && Number(m[2]) < 65536 ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

/**
 * The resolvers other names are forwarded to when a container has no --dns of its own: ROOST_DNS_UPSTREAM
 * (comma-separated; `none` turns forwarding off, as the tests do), else the host's /etc/resolv.conf. The
 * daemon runs in the host's network namespace, so it asks them as the uplinks would, loopback resolvers
 * (systemd-resolved) included. Read on each forward: a laptop changes networks.
 */
export function defaultUpstreams(env: NodeJS.ProcessEnv = process.env): Upstream[] {
  const configured = env.ROOST_DNS_UPSTREAM;
  if (configured !== undefined && configured !== '') {
    if (configured === 'none') return [];
    return configured.split(',').map((s) => parseUpstream(s.trim())).filter((u): u is Upstream => Boolean(u));
  }
  let text = '';
  try { text = fs.readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* none */ }
  return parseResolvConf(text).nameservers.map((ns) => parseUpstream(ns)).filter((u): u is Upstream => Boolean(u));
}

function forwardUdp(packet: Buffer, upstream: Upstream, timeoutMs: number): Promise<Buffer> {
  // A fresh socket per query: a random source port, and no answer can be mistaken for another's.
  const socket = dgram.createSocket(net.isIP(upstream.host) === 6 ? 'udp6' : 'udp4');
  const id = packet.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const done = (err?: Error, answer?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => done(new Error('timeout')), timeoutMs);
    socket.on('message', (answer, from) => {
      if (answer.length >= 12 && answer.readUInt16BE(0) === id && from.port === upstream.port) done(undefined, answer);
    });
    socket.on('error', (err) => done(err));
    socket.send(packet, upstream.port, upstream.host);
  });
}

function forwardTcp(packet: Buffer, upstream: Upstream, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: upstream.host, port: upstream.port });
    let buffered = Buffer.alloc(0);
    const done = (err?: Error, answer?: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => done(new Error('timeout')), timeoutMs);
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(packet.length);
      socket.write(Buffer.concat([length, packet]));
    });
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) done(undefined, buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
    });
    socket.on('error', (err) => done(err));
    socket.on('end', () => done(new Error('closed')));
  });
}

/**
 * Docker's embedded DNS for user-defined networks: answers the names of the containers on the asking
 * container's networks (A, and AAAA for those on --ipv6 networks; other types get an empty answer), also as NAME.NETWORK, their
 * addresses (PTR), and forwards everything else to the upstream resolvers, or answers REFUSED when the
 * container may not go out. It serves sockets that were opened elsewhere (in the networks' namespace).
 */
export class EmbeddedDns {
  private readonly udp: dgram.Socket[] = [];
  private readonly tcp: net.Server[] = [];

  constructor(private readonly clientOf: (address: string) => DnsClient | undefined, private readonly opts: { ttl?: number; timeoutMs?: number } = {}) {}

  serveUdp(socket: dgram.Socket): void {
    this.udp.push(socket);
    socket.on('message', (packet, from) => {
      void this.answer(packet, from.address, 'udp').then((reply) => {
        if (reply) socket.send(reply, from.port, from.address);
      });
    });
    socket.on('error', () => { /* a send to a vanished client */ });
  }

  serveTcp(server: net.Server): void {
    this.tcp.push(server);
    server.on('connection', (conn) => {
      let buffered = Buffer.alloc(0);
      conn.setTimeout(10_000, () => conn.destroy());
      conn.on('error', () => {});
      conn.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const packet = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
          buffered = buffered.subarray(2 + packet.length);
          void this.answer(packet, conn.remoteAddress?.replace(/^::ffff:/, '') ?? '', 'tcp').then((reply) => {
            if (!reply || conn.destroyed) return;
            const length = Buffer.alloc(2);
            length.writeUInt16BE(reply.length);
            conn.write(Buffer.concat([length, reply]));
          });
        }
      });
    });
  }

  /** The answer to one packet, or undefined to stay silent (not a query). */
  async answer(packet: Buffer, from: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const query = parseQuery(packet);
    if (!query) {
      const id = queryId(packet);
      return id === undefined || (packet.length >= 3 && packet[2]! & 0x80) ? undefined : errorResponse(id, Rcode.FORMERR);
    }
    if (query.opcode !== 0) return buildResponse(query, Rcode.NOTIMP, [], false);
    const client = this.clientOf(from);
    if (!client) return buildResponse(query, Rcode.REFUSED, [], false);
    const local = this.local(query, client);
    if (local) return local;
    if (client.upstreams.length === 0) return buildResponse(query, Rcode.REFUSED, [], false);
    for (const upstream of client.upstreams) {
      try {
        return await (transport === 'udp' ? forwardUdp : forwardTcp)(packet, upstream, this.opts.timeoutMs ?? 2000);
      } catch { /* the next one */ }
    }
    return buildResponse(query, Rcode.SERVFAIL, [], false);
  }

  private local(query: DnsQuery, client: DnsClient): Buffer | undefined {
    const ttl = this.opts.ttl ?? 60;
    const reversed = reverseIPv4(query.name) ?? reverseIPv6(query.name);
    if (reversed !== undefined) {
      const name = client.reverse(reversed);
      if (name === undefined) return undefined;
      return buildResponse(query, Rcode.NOERROR, query.type === RR.PTR ? [{ type: RR.PTR, ttl, data: name }] : []);
    }
    const addresses = client.lookup(query.name);
    if (!addresses) return undefined;
    const answers: Answer[] = [
      ...(query.type === RR.A || query.type === 255 ? addresses.map((data) => ({ type: RR.A, ttl, data })) : []),
      ...(query.type === RR.AAAA || query.type === 255 ? (client.lookup6?.(query.name) ?? []).map((data) => ({ type: RR.AAAA, ttl, data })) : []),
    ];
    return buildResponse(query, Rcode.NOERROR, answers);
  }

  close(): void {
    for (const socket of this.udp.splice(0)) socket.close();
    for (const server of this.tcp.splice(0)) server.close();
  }
}
