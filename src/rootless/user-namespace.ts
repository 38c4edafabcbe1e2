import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError, unavailable } from '../util/errors.js';
import { runCommand } from '../util/exec.js';
import { findExecutable } from '../util/find-executable.js';
import { findSubIdRange } from './subid.js';

export interface IdMapping {
  kind: 'subid' | 'single';
  uidMap: string;
  gidMap: string;
}

function nsInode(pid: number | 'self', ns: string): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

/** The pause process: it holds the user and mount namespaces so a restarted daemon finds its mounts again. */
export class PauseProcess {
  constructor(private readonly pidFile: string) {}

  /** The pid of a live pause process from an earlier start, if any. */
  findExisting(): number | undefined {
    let pid: number;
    try {
      pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim());
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const uidLine = status.split('\n').find((l) => l.startsWith('Uid:')) ?? '';
      const ownUid = String(process.getuid?.());
      if (!cmdline.startsWith('sleep\0') || !uidLine.split(/\s+/).includes(ownUid)) return undefined;
      if (nsInode(pid, 'user') === nsInode('self', 'user')) return undefined;
      return pid;
    } catch {
      return undefined;
    }
  }

  /** Creates the namespaces with `unshare` and maps ids into them. */
  async create(): Promise<{ pid: number; mapping: IdMapping }> {
    const unshare = findExecutable('unshare');
    if (!unshare) throw unavailable('unshare (util-linux) is not installed', 'sudo apt-get install util-linux');
    const child = spawn(unshare, ['--user', '--mount', '--propagation', 'private', '--', 'sleep', 'infinity'], {
      detached: true, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c) => { stderr += c; });
    const pid = child.pid;
    if (pid === undefined) throw unavailable('cannot start the namespace holder');
    const ownNs = nsInode('self', 'user');
    for (let i = 0; i < 200; i++) {
      const ns = nsInode(pid, 'user');
      if (ns && ns !== ownNs) break;
      if (child.exitCode !== null) break;
      await sleep(5);
    }
    if (child.exitCode !== null || nsInode(pid, 'user') === ownNs) {
      throw unavailable(`cannot create a user namespace: ${stderr.trim() || 'unshare failed'}`,
        'enable unprivileged user namespaces: sudo sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=28633');
    }
    let mapping: IdMapping;
    try {
      mapping = await mapIds(pid);
    } catch (err) {
      process.kill(pid, 'SIGKILL');
      throw err;
    }
    child.stderr!.destroy();
    child.unref();
    fs.writeFileSync(this.pidFile, `${pid}\n`, { mode: 0o600 });
    return { pid, mapping };
  }
}

/** Maps the user's subuid/subgid range (newuidmap), or only the user's own id when there is none. */
async function mapIds(pid: number): Promise<IdMapping> {
  const user = os.userInfo();
  const uid = process.getuid!();
  const gid = process.getgid!();
  const subuid = findSubIdRange('/etc/subuid', user.username, uid);
  const subgid = findSubIdRange('/etc/subgid', user.username, uid);
  const newuidmap = findExecutable('newuidmap');
  const newgidmap = findExecutable('newgidmap');
  if (subuid && subgid && newuidmap && newgidmap) {
    try {
      await runCommand(newuidmap, [String(pid), '0', String(uid), '1', '1', String(subuid.start), String(subuid.count)]);
      await runCommand(newgidmap, [String(pid), '0', String(gid), '1', '1', String(subgid.start), String(subgid.count)]);
      return {
        kind: 'subid',
        uidMap: `0 ${uid} 1, 1 ${subuid.start} ${subuid.count}`,
        gidMap: `0 ${gid} 1, 1 ${subgid.start} ${subgid.count}`,
      };
    } catch (err) {
      if (fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim() !== '') throw err;
      // newuidmap refused (e.g. not setuid): fall back to the single-id mapping below.
    }
  }
  try {
    fs.writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    fs.writeFileSync(`/proc/${pid}/uid_map`, `0 ${uid} 1\n`);
    fs.writeFileSync(`/proc/${pid}/gid_map`, `0 ${gid} 1\n`);
  } catch (err) {
    throw new EngineError('unavailable', `cannot map ids into the user namespace: ${(err as Error).message}`, { cause: err });
  }
  return { kind: 'single', uidMap: `0 ${uid} 1`, gidMap: `0 ${gid} 1` };
}

/** Reads the mapping of a running pause process (after a daemon restart). */
export function readMapping(pid: number): IdMapping {
  const read = (file: string) => fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  const uidLines = read('uid_map');
  return { kind: uidLines.length > 1 ? 'subid' : 'single', uidMap: uidLines.join(', '), gidMap: read('gid_map').join(', ') };
}

export function pausePidFile(runDir: string): string {
  return path.join(runDir, 'pause.pid');
}
