import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { unavailable } from '../util/errors.js';
import { findExecutable } from '../util/find-executable.js';
import { forwardedPorts, forwarderPidFile, startPortForwarder } from './port-forwarder.js';

/**
 * The default uplink: slirp4netns attaches a tap device to the container's
 * network namespace (10.0.2.100, gateway 10.0.2.2); published ports: see publishSlirpPorts.
 * The host's loopback stays out of reach unless `hostLoopback` (a container that asked for
 * `--add-host NAME:host-gateway`): then the gateway address leads to it. slirp4netns does not see the
 * client's source address (pasta does).
 */
export async function startSlirp(nsFile: string, bindings: Record<string, Array<{ HostIp: string; HostPort: string }>>, pidFile: string, apiSocket: string, logFile: string, hostLoopback = false): Promise<number> {
  const slirp = findExecutable('slirp4netns');
  if (!slirp) throw unavailable('slirp4netns is not installed: the default network needs it (or ROOST_UPLINK=pasta)', 'sudo apt-get install slirp4netns, or run with --network none|host');
  fs.rmSync(apiSocket, { force: true });
  const logFd = fs.openSync(logFile, 'a', 0o600);
  const child = spawn(slirp, ['--configure', '--mtu=65520', ...(hostLoopback ? [] : ['--disable-host-loopback']), '--netns-type=path', '--api-socket', apiSocket, '--ready-fd=3', nsFile, 'tap0'], {
    detached: true, stdio: ['ignore', logFd, logFd, 'pipe'],
  });
  fs.closeSync(logFd);
  child.unref();
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    const readyPipe = child.stdio[3] as NodeJS.ReadableStream;
    readyPipe.on('data', () => { clearTimeout(timer); resolve(true); });
    readyPipe.on('error', () => {});
    child.once('exit', () => { clearTimeout(timer); resolve(false); });
  });
  (child.stdio[3] as net.Socket).destroy();
  if (!ready) {
    child.kill('SIGKILL');
    const detail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-1)[0] ?? '';
    throw unavailable(`cannot start the network uplink (slirp4netns): ${detail || 'it did not get ready'}`, 'check that /dev/net/tun is usable by you (distributions ship it 0666), or run with --network none|host');
  }
  fs.writeFileSync(pidFile, `${child.pid}\n`);
  try {
    await publishSlirpPorts(apiSocket, nsFile, bindings);
  } catch (err) {
    process.kill(child.pid!, 'SIGKILL');
    throw err;
  }
  return child.pid!;
}

/** The address slirp4netns --configure gives the container (the target of its published ports). */
export const slirpGuestAddress = '10.0.2.100';

/**
 * Publishes ports on a namespace whose slirp4netns runs (at its start, or on a pooled one): TCP and UDP
 * through roost-portfwd, which splices each connection into the namespace instead of passing it through
 * slirp's userspace TCP stack (several times the throughput). Not slirp4netns's own hostfwd for UDP either:
 * with --disable-host-loopback it drops the container's replies (they are addressed to its host address).
 * The forwarder's pid file goes next to the API socket.
 */
export async function publishSlirpPorts(apiSocket: string, nsFile: string, bindings: Record<string, Array<{ HostIp: string; HostPort: string }>>): Promise<void> {
  const ports = forwardedPorts(bindings);
  if (ports.length) await startPortForwarder(nsFile, ports, slirpGuestAddress, forwarderPidFile(path.dirname(apiSocket)));
}
