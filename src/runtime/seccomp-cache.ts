import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * crun turns a spec's seccomp rules into a BPF program with libseccomp on every create (about 10 ms for
 * the default profile here) and keeps the result in its state directory as `seccomp.bpf`. Its own cache
 * of those programs is not used by the crun this engine runs, so the engine keeps one: after the first
 * container with a given filter is created, the program is copied here, and later containers hand it to
 * crun ready-made through the `run.oci.seccomp_bpf_data` annotation. The key covers the filter, the
 * runtime binary and the kernel, so a changed one of them compiles afresh. The cache lives in the run
 * directory (a tmpfs), so it starts empty after a reboot.
 */
export class SeccompBpfCache {
  constructor(private readonly dir: string, private readonly runtimePath: string, private readonly runtimeRoot: string) {}

  static readonly annotation = 'run.oci.seccomp_bpf_data';

  /** Adds the cached program to the spec when there is one; returns the key to `remember` with otherwise. */
  prepare(spec: { linux?: { seccomp?: unknown }; annotations?: Record<string, string> }): string | undefined {
    if (!spec.linux?.seccomp || path.basename(this.runtimePath) !== 'crun') return undefined;
    const key = this.key(spec.linux.seccomp);
    try {
      const program = fs.readFileSync(path.join(this.dir, key));
      spec.annotations = { ...spec.annotations, [SeccompBpfCache.annotation]: program.toString('base64') };
      return undefined;
    } catch {
      return key;
    }
  }

  /** Keeps the program crun compiled for container `id` (call after create, while its state exists). */
  async remember(key: string, id: string): Promise<void> {
    const temp = path.join(this.dir, `.${key}.${process.pid}`);
    try {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fsp.copyFile(path.join(this.runtimeRoot, id, 'seccomp.bpf'), temp);
      await fsp.rename(temp, path.join(this.dir, key));
    } catch {
      await fsp.rm(temp, { force: true });
    }
  }

  private key(seccomp: unknown): string {
    const st = fs.statSync(this.runtimePath);
    return crypto.createHash('sha256')
      .update(JSON.stringify(seccomp)).update(`\0${this.runtimePath}\0${st.size}\0${st.mtimeMs}\0${os.release()}`)
      .digest('hex');
  }
}
