import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const roostBin = path.join(repoRoot, 'bin', 'roost.js');

/** Why end-to-end tests cannot run here, or undefined when they can. */
export function e2eUnavailable(): string | undefined {
  if (process.getuid?.() === 0) return 'end-to-end tests run as an unprivileged user (npm test as root switches to one)';
  if (!fs.existsSync(path.join(repoRoot, 'native', 'build', 'roost-monitor'))) return 'native/build/roost-monitor is not built (npm run build)';
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'cli.cjs'))) return 'dist/ is not built (npm run build)';
  for (const tool of ['/usr/bin/unshare', '/usr/bin/nsenter']) if (!fs.existsSync(tool)) return `${tool} is missing`;
  if (!fs.existsSync('/usr/sbin/runc') && !fs.existsSync('/usr/bin/crun')) return 'no OCI runtime (crun or runc)';
  if (!fs.existsSync('/bin/busybox')) return 'busybox-static is not installed';
  return undefined;
}

/**
 * One isolated Roost installation per test file: its own runtime dir, data dir and daemon,
 * so files run in parallel without sharing state.
 */
export class RoostEnv {
  readonly base: string;
  readonly env: Record<string, string>;
  readonly socket: string;

  constructor(name: string) {
    this.base = fs.mkdtempSync(path.join(os.tmpdir(), `re-${name.slice(0, 6)}-`));
    const runtimeDir = path.join(this.base, 'run');
    fs.mkdirSync(runtimeDir, { mode: 0o700 });
    this.env = {
      XDG_RUNTIME_DIR: runtimeDir,
      XDG_DATA_HOME: path.join(this.base, 'data'),
      XDG_CONFIG_HOME: path.join(this.base, 'config'),
      DOCKER_HOST: `unix://${runtimeDir}/roost/roost.sock`,
      DOCKER_CONFIG: path.join(this.base, 'docker-config'),
    };
    this.socket = path.join(runtimeDir, 'roost', 'roost.sock');
    // Tests never reach Docker Hub: a name that would be pulled from it fails at once, without a DNS query.
    fs.mkdirSync(path.join(this.env.XDG_CONFIG_HOME!, 'roost'), { recursive: true });
    fs.writeFileSync(path.join(this.env.XDG_CONFIG_HOME!, 'roost', 'registries.json'), JSON.stringify({ blocked: ['docker.io'] }));
  }

  roost(args: string[], opts: { input?: string | Buffer; timeout?: number; inputFile?: string } = {}) {
    return execa(process.execPath, ['--', roostBin, ...args], {
      env: this.env, reject: false, timeout: opts.timeout ?? 60_000,
      ...(opts.inputFile ? { inputFile: opts.inputFile } : { input: opts.input ?? '' }),
      stripFinalNewline: false,
    });
  }

  spawnRoost(args: string[]): ResultPromise {
    return execa(process.execPath, ['--', roostBin, ...args], { env: this.env, reject: false, buffer: true, stdin: 'ignore' });
  }

  docker(args: string[], opts: { input?: string; timeout?: number } = {}) {
    return execa('docker', args, { env: this.env, reject: false, timeout: opts.timeout ?? 60_000, input: opts.input ?? '', stripFinalNewline: false });
  }

  busyboxArchive(name = 'busybox:latest'): string {
    const file = path.join(this.base, `${name.replace(/[/:]/g, '_')}.tar`);
    if (!fs.existsSync(file)) execaSyncScript(file, name);
    return file;
  }

  async loadBusybox(t: ExecutionContext, name = 'busybox:latest'): Promise<void> {
    const result = await this.roost(['load', '-i', this.busyboxArchive(name)]);
    t.is(result.exitCode, 0, result.stderr);
  }

  daemonPid(): number {
    return Number(fs.readFileSync(path.join(this.env.XDG_RUNTIME_DIR!, 'roost', 'daemon.pid'), 'utf8').trim());
  }

  /** Stops every container and the daemon, and ends the pause process; removes the files. */
  async destroy(): Promise<void> {
    const ids = (await this.roost(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await this.roost(['rm', '-f', ...ids]);
    const pid = (file: string): number | undefined => {
      try { return Number(fs.readFileSync(path.join(this.env.XDG_RUNTIME_DIR!, 'roost', file), 'utf8').trim()) || undefined; } catch { return undefined; }
    };
    // Only a real pid: kill(0) would signal this test's own process group, kill(-1) every process of the user.
    const kill = (target: number | undefined) => {
      if (target && target > 1) try { process.kill(target, 'SIGKILL'); } catch { /* gone */ }
    };
    kill(pid('daemon.pid'));
    // The daemon's spare network namespace keeps its uplink running (a next daemon would reuse or end it).
    const pool = path.join(this.env.XDG_RUNTIME_DIR!, 'roost', 'netpool');
    for (const entry of fs.existsSync(pool) ? fs.readdirSync(pool) : []) kill(pid(path.join('netpool', entry, 'uplink.pid')));
    // And the default network's bridge keeps its uplink for containers a next daemon would find.
    kill(pid('bridge-uplink.pid'));
    const pause = pid('pause.pid');
    // Files owned by subordinate ids can only be removed from inside the user namespace.
    if (pause) await execa('nsenter', ['-t', String(pause), '-U', '-m', '--', 'rm', '-rf', path.join(this.base, 'data')], { reject: false });
    kill(pause);
    await execa('rm', ['-rf', this.base], { reject: false });
  }
}

function execaSyncScript(file: string, name: string): void {
  const result = execaSync(path.join(repoRoot, 'scripts', 'make-busybox-image.sh'), [file, name]);
  if (result.exitCode !== 0) throw new Error(`make-busybox-image failed: ${result.stderr}`);
}

import { execaSync } from 'execa';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as import('node:net').AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function retry<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}
