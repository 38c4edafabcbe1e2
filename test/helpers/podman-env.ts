// Rootless podman with storage, config and runtime state of its own under a temp dir, so a test never reads or
// changes the user's real podman storage, and never pulls: images come in by `load` only.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';

export const PODMAN = '/usr/bin/podman';

export class PodmanEnv {
  private readonly env: Record<string, string>;
  private readonly globalFlags: string[];

  constructor(readonly base: string) {
    const dir = (name: string, mode = 0o755) => {
      const full = path.join(base, name);
      fs.mkdirSync(full, { recursive: true, mode });
      return full;
    };
    // HOME and the XDG dirs keep podman's config, its pause process's pid file and its events out of the user's.
    this.env = { HOME: dir('home'), XDG_CONFIG_HOME: dir('config'), XDG_DATA_HOME: dir('data'), XDG_RUNTIME_DIR: dir('run', 0o700) };
    this.globalFlags = ['--root', dir('root'), '--runroot', dir('runroot'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  }

  podman(args: string[], timeout = 120_000) {
    return execa(PODMAN, [...this.globalFlags, ...args], { env: this.env, extendEnv: true, reject: false, timeout, stripFinalNewline: false });
  }

  /** `podman run --rm` of a loaded image: never pulls, no network (nothing here needs one). */
  run(flags: string[], image: string, command: string[]) {
    return this.podman(['run', '--rm', '--pull=never', '--network', 'none', ...flags, image, ...command]);
  }

  /** Removes the storage (its files belong to subordinate ids: from inside podman's user namespace), then ends podman's pause process. */
  async destroy(): Promise<void> {
    await this.podman(['unshare', 'rm', '-rf', path.join(this.base, 'root'), path.join(this.base, 'runroot')]);
    try {
      process.kill(Number(fs.readFileSync(path.join(this.env.XDG_RUNTIME_DIR!, 'libpod', 'tmp', 'pause.pid'), 'utf8').trim()), 'SIGKILL');
    } catch { /* never started */ }
    await execa('rm', ['-rf', this.base], { reject: false });
  }
}
