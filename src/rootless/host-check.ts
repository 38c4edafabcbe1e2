import fs from 'node:fs';
import { findDelegation, usableLimitControllers } from './cgroup-delegation.js';
import { limitControllers } from './cgroup-limits.js';
import { decompressTool } from '../fs/decompress.js';
import { findExecutable } from '../util/find-executable.js';
import os from 'node:os';
import { findSubIdRange } from './subid.js';

/** One thing Roost checked about the host, with what it falls back to and how to fix it. */
export interface HostFinding {
  name: string;
  ok: boolean;
  detail: string;
  remedy?: string;
}


function canOpen(device: string): boolean {
  try {
    fs.closeSync(fs.openSync(device, 'r+'));
    return true;
  } catch {
    return false;
  }
}

/** cgroup v1 with a v2 "unified" mount beside it is "hybrid"; crun 1.8 refuses to run there. */
export function cgroupLayout(mounts = fs.readFileSync('/proc/self/mounts', 'utf8')): 'v2' | 'hybrid' | 'v1' {
  if (/ \/sys\/fs\/cgroup cgroup2 /.test(mounts)) return 'v2';
  return / cgroup2 /.test(mounts) ? 'hybrid' : 'v1';
}

/** With hugetlb mounted as a v1 hierarchy, crun 1.8 no longer finds it on v2 and runs. */
function hugetlbOnV1(mounts: string): boolean {
  return / \/sys\/fs\/cgroup\/hugetlb cgroup /.test(mounts);
}

export interface RuntimeChoice {
  name: 'crun' | 'runc';
  path: string;
  reason: string;
}

/** crun where it can run; runc where crun refuses (hybrid cgroups without hugetlb on v1) or is missing. */
export function chooseRuntime(env: NodeJS.ProcessEnv = process.env, mounts = fs.readFileSync('/proc/self/mounts', 'utf8'),
  find: (name: string) => string | undefined = findExecutable): RuntimeChoice | undefined {
  const crun = find('crun');
  const runc = find('runc');
  const wanted = env.ROOST_RUNTIME;
  if (wanted === 'runc' && runc) return { name: 'runc', path: runc, reason: 'chosen by ROOST_RUNTIME' };
  if (wanted === 'crun' && crun) return { name: 'crun', path: crun, reason: 'chosen by ROOST_RUNTIME' };
  const crunRefuses = cgroupLayout(mounts) === 'hybrid' && !hugetlbOnV1(mounts);
  if (crun && !crunRefuses) return { name: 'crun', path: crun, reason: 'preferred runtime' };
  if (runc) return { name: 'runc', path: runc, reason: crun ? 'crun refuses hybrid cgroups on this host' : 'crun is not installed' };
  if (crun) return { name: 'crun', path: crun, reason: 'only runtime installed' };
  return undefined;
}

/** Everything `roost info` and the daemon's start-up explain about this host. */
export function checkHost(): HostFinding[] {
  const findings: HostFinding[] = [];
  const user = os.userInfo();
  const maxUserNs = Number(fs.readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim());
  let unprivClone = '1';
  try { unprivClone = fs.readFileSync('/proc/sys/kernel/unprivileged_userns_clone', 'utf8').trim(); } catch { /* not a Debian-patched kernel */ }
  const userns = maxUserNs > 0 && unprivClone === '1';
  findings.push({
    name: 'user namespaces', ok: userns,
    detail: userns ? `enabled (max ${maxUserNs})` : 'disabled',
    remedy: userns ? undefined : 'sudo sysctl -w user.max_user_namespaces=28633 kernel.unprivileged_userns_clone=1',
  });
  const newuidmap = findExecutable('newuidmap');
  const subuid = findSubIdRange('/etc/subuid', user.username, user.uid);
  const subgid = findSubIdRange('/etc/subgid', user.username, user.uid);
  findings.push({
    name: 'newuidmap', ok: Boolean(newuidmap), detail: newuidmap ?? 'not found: single-id mapping only',
    remedy: newuidmap ? undefined : 'sudo apt-get install uidmap',
  });
  findings.push({
    name: 'subordinate ids', ok: Boolean(subuid && subgid),
    detail: subuid && subgid ? `uids ${subuid.start}+${subuid.count}, gids ${subgid.start}+${subgid.count}` : `no range for ${user.username} in /etc/subuid or /etc/subgid: every file is owned by you (single-id mapping); images whose files need other owners still run, with squashed ownership`,
    remedy: subuid && subgid ? undefined : `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user.username}`,
  });
  const runtime = chooseRuntime();
  findings.push({
    name: 'OCI runtime', ok: Boolean(runtime),
    detail: runtime ? `${runtime.name} (${runtime.reason})` : 'neither crun nor runc is installed',
    remedy: runtime ? (runtime.name === 'runc' && findExecutable('crun') ? 'crun 1.8 needs the hugetlb v1 hierarchy on hybrid cgroups: sudo mkdir -p /sys/fs/cgroup/hugetlb && sudo mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb' : undefined) : 'sudo apt-get install crun runc',
  });
  const fuse = canOpen('/dev/fuse');
  findings.push({
    name: '/dev/fuse', ok: fuse, detail: fuse ? 'usable' : 'not usable by this user: the fuse-overlayfs driver cannot work (native overlay, else copy, is used)',
    remedy: fuse ? undefined : 'sudo chmod 0666 /dev/fuse (distributions ship it 0666)',
  });
  const tun = canOpen('/dev/net/tun');
  const pasta = findExecutable('pasta');
  const slirp = findExecutable('slirp4netns');
  findings.push({
    name: 'network uplink', ok: tun && Boolean(pasta || slirp),
    detail: !tun ? '/dev/net/tun is not usable by this user: containers get no uplink (use --network none or host)'
      : slirp ? `slirp4netns (${slirp})${pasta ? '; ROOST_UPLINK=pasta shows services the clients\' addresses, at ~29 MiB per container' : ''}`
        : pasta ? `pasta (${pasta}; slirp4netns would take less memory per container)` : 'neither slirp4netns nor pasta is installed',
    remedy: !tun ? 'sudo chmod 0666 /dev/net/tun (distributions ship it 0666)' : pasta || slirp ? undefined : 'sudo apt-get install slirp4netns',
  });
  const layout = cgroupLayout();
  const delegation = findDelegation();
  const limits = usableLimitControllers(delegation);
  const undelegated = limitControllers.filter((c) => !limits.includes(c));
  findings.push({
    name: 'cgroups', ok: 'dir' in delegation && undelegated.length === 0,
    detail: `${layout}; ${'dir' in delegation ? `${delegation.dir} is delegated to you: pause works` : `${delegation.reason}: pause cannot work`}; `
      + `resource limits: ${limits.length ? `${limits.join(', ')} applied` : 'none applied'}${undelegated.length ? ` (${undelegated.join(', ')}: not delegated, such limits are ignored with a warning)` : ''}`,
    remedy: !('dir' in delegation) ? delegation.remedy
      : undelegated.length ? `delegate ${undelegated.join(', ')} to your user (systemd: Delegate=${undelegated.join(' ')} in a user@.service drop-in; on v1 hierarchies: cgcreate -a USER -t USER)` : undefined,
  });
  const gzip = decompressTool('gzip');
  const missing = (['zstd', 'xz', 'bzip2'] as const).filter((kind) => !decompressTool(kind));
  findings.push({
    name: 'decompressors', ok: Boolean(gzip) && missing.length === 0,
    detail: `gzip: ${gzip ? gzip.path : "Node's zlib (about 6× slower than igzip)"}${missing.length ? `; no program for ${missing.join(', ')}: such layers and archives are refused` : '; zstd, xz, bzip2: installed'}`,
    remedy: gzip && !missing.length ? undefined : `sudo apt-get install ${[gzip ? '' : 'isal', ...missing.map((k) => ({ zstd: 'zstd', xz: 'xz-utils', bzip2: 'bzip2' })[k])].filter(Boolean).join(' ')}`,
  });
  return findings;
}
