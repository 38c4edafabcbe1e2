import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unavailable } from '../util/errors.js';

/** One published port: where it listens on the host and the container's port it leads to. */
export interface PortForward {
  hostIp: string;
  hostPort: string;
  containerPort: string;
  proto: string;
}

type ResolvedBindings = Record<string, Array<{ HostIp: string; HostPort: string }>>;

/** The published ports of one protocol ("80/tcp" keys), one entry per host binding. */
export function portForwards(bindings: ResolvedBindings, proto: string): PortForward[] {
  const forwards: PortForward[] = [];
  for (const [key, list] of Object.entries(bindings)) {
    const [containerPort, keyProto] = key.split('/');
    if ((keyProto ?? 'tcp') !== proto) continue;
    for (const binding of list) forwards.push({ hostIp: binding.HostIp || '0.0.0.0', hostPort: binding.HostPort, containerPort: containerPort!, proto });
  }
  return forwards;
}

/** The forwarder built from native/roost-portfwd.c. */
export function portForwarderBinary(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return process.env.ROOST_PORTFWD ?? path.resolve(here, '..', '..', 'native', 'build', 'roost-portfwd');
}

/** Where a namespace's forwarder records its pid: in the directory that holds the namespace's files. */
export function forwarderPidFile(dir: string): string {
  return path.join(dir, 'portfwd.pid');
}

/** The forwarder's argument for one port: HOSTIP:HOSTPORT:PORT[/udp], an IPv6 host address in brackets. */
export function forwardSpec(port: PortForward): string {
  const host = port.hostIp.includes(':') ? `[${port.hostIp}]` : port.hostIp;
  return `${host}:${port.hostPort}:${port.containerPort}${port.proto === 'udp' ? '/udp' : ''}`;
}

/** The ports roost-portfwd forwards (TCP and UDP; SCTP is not forwarded). */
export function forwardedPorts(bindings: ResolvedBindings): PortForward[] {
  return [...portForwards(bindings, 'tcp'), ...portForwards(bindings, 'udp')];
}

/**
 * Starts roost-portfwd for a container's published ports: it listens on the host and splices each TCP
 * connection (relays each UDP client's datagrams) to `target` (the container's address) inside the
 * namespace bound at `nsFile`. It resolves
 * once every port is bound (a port in use fails here, with the forwarder's one line), and runs detached,
 * so the ports keep working while the daemon is down; its pid goes to `pidFile` for `stopUplink`.
 */
export async function startPortForwarder(nsFile: string, ports: PortForward[], target: string, pidFile: string): Promise<void> {
  const binary = portForwarderBinary();
  const child = spawn(binary, ['--netns', nsFile, '--target', target, '--ready-fd', '3', ...ports.map(forwardSpec)], {
    detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  const readyPipe = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve('it did not get ready within 10 s'), 10_000);
    const done = (line: string) => { clearTimeout(timer); resolve(line); };
    readyPipe.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) done(text.split('\n')[0]!);
    });
    readyPipe.on('error', () => {});
    readyPipe.on('end', () => done(text.trim() || 'it exited before it was ready'));
    child.once('error', (err) => done(`${err.message} (run \`npm run build\` to build native/build/roost-portfwd)`));
  });
  readyPipe.destroy();
  if (answer !== 'ok') {
    child.kill('SIGKILL');
    throw unavailable(answer.startsWith('cannot') ? answer : `cannot forward the published ports: ${answer}`);
  }
  fs.writeFileSync(pidFile, `${child.pid}\n`);
  child.unref();
}
