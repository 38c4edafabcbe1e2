import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { runCommand } from '../util/exec.js';
import { unmount } from '../fs/mounter.js';
import { unavailable } from '../util/errors.js';
import { findExecutable } from '../util/find-executable.js';
import type { PortBinding } from '../engine/container-types.js';
import { forwardedPorts, forwarderPidFile, portForwards, startPortForwarder, type PortForward } from './port-forwarder.js';

/** Asks the kernel for a free port, for `-p 80` (random host port) as Docker does. */
async function freePort(host: string, proto: string): Promise<number> {
  if (proto !== 'tcp') {
    const dgram = await import('node:dgram');
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, host || '0.0.0.0', () => { const { port } = socket.address(); socket.close(() => resolve(port)); });
    });
  }
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host || '0.0.0.0', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Fills in random host ports; returns the bindings as they are really published. */
export async function resolveHostPorts(bindings: Record<string, PortBinding[] | null>): Promise<Record<string, Array<{ HostIp: string; HostPort: string }>>> {
  const resolved: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const [key, list] of Object.entries(bindings)) {
    const proto = key.split('/')[1] ?? 'tcp';
    resolved[key] = [];
    for (const binding of list ?? []) {
      const hostPort = binding.HostPort && binding.HostPort !== '' ? binding.HostPort : String(await freePort(binding.HostIp ?? '', proto));
      resolved[key].push({ HostIp: binding.HostIp || '0.0.0.0', HostPort: hostPort });
    }
  }
  return resolved;
}

function pastaSpecs(bindings: Record<string, Array<{ HostIp: string; HostPort: string }>>, proto: string): string[] {
  return portForwards(bindings, proto).map((port) => `${port.hostIp !== '0.0.0.0' ? `${port.hostIp}/` : ''}${port.hostPort}:${port.containerPort}`);
}

/**
 * A network namespace of the user's own, kept as a bind mount on `nsFile` inside the engine's mount
 * namespace (so it outlives a daemon restart), for the runtime to join by path.
 */
export async function createNetns(nsFile: string): Promise<void> {
  fs.writeFileSync(nsFile, '');
  try {
    await runCommand('unshare', [`--net=${nsFile}`, '--', 'true']);
  } catch (err) {
    fs.rmSync(nsFile, { force: true });
    throw unavailable(`cannot create a network namespace: ${(err as Error).message}`);
  }
}

export async function removeNetns(nsFile: string): Promise<void> {
  if (!fs.existsSync(nsFile)) return;
  await unmount(nsFile, { lazy: true }).catch(() => {});
  fs.rmSync(nsFile, { force: true });
}

/**
 * The per-container uplink: pasta joins the container's network namespace, gives it the host's addresses
 * and routes, and forwards the published ports from the host. It quits by itself when the namespace file
 * goes away. User-defined networks (a shared namespace with a bridge) come with the networks issue.
 */
export async function startPasta(nsFile: string, bindings: Record<string, Array<{ HostIp: string; HostPort: string }>>, pidFile: string): Promise<number> {
  const pasta = findExecutable('pasta');
  if (!pasta) throw unavailable('pasta is not installed (ROOST_UPLINK=pasta)', 'sudo apt-get install passt, or unset ROOST_UPLINK to use slirp4netns');
  const args = ['--config-net', '--quiet', '--pid', pidFile, '-T', 'none', '-U', 'none', '-u', 'none'];
  // TCP through pasta's own (spliced) forwarding; UDP through roost-portfwd (startUplink), as on slirp4netns.
  const tcp = pastaSpecs(bindings, 'tcp');
  for (const spec of tcp.length ? tcp : ['none']) args.push('-t', spec);
  args.push('--netns', nsFile);
  try {
    await runCommand(pasta, args, { timeoutMs: 15_000 });
  } catch (err) {
    const detail = (err as Error).message.replace(/Failed to send \d+ bytes to syslog\s*/g, '');
    const port = /Failed to bind any port for '-[tu] (?:(.+)\/)?(\d+):\d+'/.exec(detail);
    if (port) throw unavailable(`cannot publish ${port[1] ?? '0.0.0.0'}:${port[2]}: the port is already in use (or below net.ipv4.ip_unprivileged_port_start)`);
    throw unavailable(`cannot start the network uplink (pasta): ${detail}`,
      'check that /dev/net/tun is usable by you (distributions ship it 0666), or run with --network none|host');
  }
  return Number(fs.readFileSync(pidFile, 'utf8').trim());
}

/** Ends the network helper (pasta, slirp4netns, roost-portfwd) whose pid is recorded in `pidFile`. */
export function stopUplink(pidFile: string): void {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (pid > 0) process.kill(pid, 'SIGTERM');
  } catch { /* already gone */ }
  fs.rmSync(pidFile, { force: true });
}

export type UplinkName = 'pasta' | 'slirp4netns';

/**
 * slirp4netns where it is installed, else pasta; ROOST_UPLINK overrides. Measured here with one uplink per
 * container: pasta keeps ~29 MiB resident per container against ~0.4 MiB for slirp4netns, and with
 * slirp4netns a start takes as long as with a pre-started pasta. pasta's gain, the client's real source
 * address on published ports, is one ROOST_UPLINK=pasta away.
 */
export function chooseUplink(env: NodeJS.ProcessEnv = process.env): UplinkName {
  if (env.ROOST_UPLINK === 'pasta' || env.ROOST_UPLINK === 'slirp4netns') return env.ROOST_UPLINK;
  return findExecutable('slirp4netns') || !findExecutable('pasta') ? 'slirp4netns' : 'pasta';
}

/**
 * Starts the chosen uplink for a container's network namespace; files go in the container's run dir.
 * `hostLoopback`: the uplink's gateway address must lead to the host's loopback (pasta always does that;
 * slirp4netns only when asked).
 */
export async function startUplink(uplink: UplinkName, nsFile: string, bindings: Record<string, Array<{ HostIp: string; HostPort: string }>>, runDir: string, hostLoopback = false): Promise<void> {
  const pidFile = path.join(runDir, 'uplink.pid');
  let forwarded: PortForward[];
  let target: string;
  if (uplink === 'slirp4netns') {
    const { slirpGuestAddress, startSlirp } = await import('./slirp-uplink.js');
    await startSlirp(nsFile, pidFile, path.join(runDir, 'slirp.log'), hostLoopback);
    // Not slirp4netns's own forwarding: its userspace TCP is several times slower than roost-portfwd's
    // splice, and with --disable-host-loopback its UDP forwarding drops the container's replies.
    forwarded = forwardedPorts(bindings);
    target = slirpGuestAddress;
  } else {
    // pasta forwards the TCP ports itself (spliced); it gives the namespace the host's addresses, so its
    // loopback is the one address known to be the container's.
    await startPasta(nsFile, bindings, pidFile);
    forwarded = portForwards(bindings, 'udp');
    target = '127.0.0.1';
  }
  try {
    if (forwarded.length) await startPortForwarder(nsFile, forwarded, target, forwarderPidFile(runDir));
  } catch (err) {
    stopUplink(pidFile);
    throw err;
  }
}

/**
 * The IPv4 gateway of a namespace's default route (the uplink's side, or a user-defined network's gateway),
 * if it has one: for `--add-host NAME:host-gateway`, and whether a container still has a way out.
 */
export async function uplinkGateway(nsFile: string): Promise<string | undefined> {
  const stdout = await runCommand('nsenter', [`--net=${nsFile}`, '--', 'ip', '-4', 'route', 'show', 'default']);
  return /\bvia (\d+\.\d+\.\d+\.\d+)/.exec(stdout)?.[1];
}
