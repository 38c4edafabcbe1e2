import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { unavailable } from '../util/errors.js';
import { findExecutable } from '../util/find-executable.js';

/** The address slirp4netns --configure gives the container (the target of its published ports). */
export const slirpGuestAddress = '10.0.2.100';

/**
 * The default uplink: slirp4netns attaches a tap device to the container's network namespace (10.0.2.100,
 * gateway 10.0.2.2). Published ports are not its: roost-portfwd forwards them (startUplink). The host's
 * loopback stays out of reach unless `hostLoopback` (a container that asked for
 * `--add-host NAME:host-gateway`): then the gateway address leads to it.
 */
export async function startSlirp(nsFile: string, pidFile: string, logFile: string, hostLoopback = false): Promise<number> {
  const slirp = findExecutable('slirp4netns');
  if (!slirp) throw unavailable('slirp4netns is not installed: the default network needs it (or ROOST_UPLINK=pasta)', 'sudo apt-get install slirp4netns, or run with --network none|host');
  const logFd = fs.openSync(logFile, 'a', 0o600);
  const child = spawn(slirp, ['--configure', '--mtu=65520', ...(hostLoopback ? [] : ['--disable-host-loopback']), '--netns-type=path', '--ready-fd=3', nsFile, 'tap0'], {
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
  return child.pid!;
}
