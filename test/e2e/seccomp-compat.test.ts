// The default seccomp profile against podman's (issue 7): a static probe tries each call in a list
// (test/fixtures/seccomp-probe.c) in one image, run by `roost run --rm` and by rootless `podman run --rm`, each
// with its default options. Each engine's answers are read against its own run with seccomp=unconfined (same
// capabilities, no filter), so a capability the engines grant differently is not taken for a filter verdict.
import anyTest, { type TestFn } from 'ava';
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { e2eUnavailable, repoRoot, RoostEnv } from '../helpers/roost-env.js';
import { PODMAN, PodmanEnv } from '../helpers/podman-env.js';

const image = 'localhost/seccomp-probe:latest';
const probeSource = path.join(repoRoot, 'test', 'fixtures', 'seccomp-probe.c');

const skip = e2eUnavailable()
  ?? (fs.existsSync(PODMAN) ? undefined : `${PODMAN} is missing (scripts/prepare-host.sh --test installs it)`)
  ?? (fs.existsSync('/usr/bin/gcc') ? undefined : 'gcc is missing (scripts/prepare-host.sh installs gcc and libc6-dev)');
const test = anyTest as TestFn<{ roost: RoostEnv; podman: PodmanEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: seccomp compared with podman (skipped)', (t) => { t.log(skip); t.pass(); });
if (skip && process.env.ROOST_REQUIRE_E2E && !e2eUnavailable()) test('the seccomp comparison can run here', (t) => t.fail(skip));

/**
 * Where Roost's default profile and podman's (containers/common, as shipped with podman 4.3) legitimately give
 * different verdicts: Roost follows Docker's default profile, which podman's relaxes in places.
 */
const nestedContainers = 'podman\'s profile allows the namespace and mount calls without CAP_SYS_ADMIN, for podman and buildah inside a container; Docker\'s allows them only with CAP_SYS_ADMIN';
const knownDifferences: Record<string, { roost: Verdict; podman: Verdict; reason: string }> = {
  clone_newuser: { roost: 'refused', podman: 'allowed', reason: nestedContainers },
  unshare_newuser: { roost: 'refused', podman: 'allowed', reason: nestedContainers },
  setns: { roost: 'refused', podman: 'allowed', reason: nestedContainers },
  mount: { roost: 'refused', podman: 'allowed', reason: nestedContainers },
  umount2: { roost: 'refused', podman: 'allowed', reason: nestedContainers },
  open_tree: { roost: 'refused', podman: 'allowed', reason: nestedContainers },
  mount_setattr: { roost: 'refused', podman: 'allowed', reason: nestedContainers },
  clone3: { roost: 'refused', podman: 'allowed', reason: 'Docker\'s profile answers clone3 with ENOSYS without CAP_SYS_ADMIN, so that libc falls back to clone, whose namespace flags a filter can read; podman\'s allows clone3' },
  keyctl: { roost: 'refused', podman: 'allowed', reason: 'keyrings are not namespaced: Docker\'s profile refuses add_key, request_key and keyctl; podman\'s refuses the first two but allows keyctl' },
  pidfd_getfd: { roost: 'refused', podman: 'allowed', reason: 'taking another process\'s descriptor needs CAP_SYS_PTRACE in Docker\'s profile; podman\'s allows it' },
  get_mempolicy: { roost: 'refused', podman: 'allowed', reason: 'Docker\'s profile allows the NUMA policy calls (get_mempolicy, mbind, set_mempolicy) only with CAP_SYS_NICE; podman\'s allows them' },
  socket_inet_raw: { roost: 'allowed', podman: 'refused', reason: 'not seccomp: podman\'s default capabilities leave out CAP_NET_RAW, Docker\'s (and Roost\'s) include it; refused unconfined too' },
};

type Verdict = 'allowed' | 'refused';

/** name → the probe's answer: "ok", an errno name or "signal N". */
function parseProbe(stdout: string): Map<string, string> {
  return new Map(stdout.trim().split('\n').map((line) => line.split(' ', 2) as [string, string]).map(([name, answer]) => [name, answer ?? '']));
}

/**
 * allowed: the call got the same answer as without any filter, and that answer is not a refusal;
 * refused: the filter changed the answer, or the call is refused anyway (EPERM for a missing capability,
 * ENOSYS from a kernel without it), which is what the container's user sees either way.
 */
function verdict(filtered: string, unconfined: string): Verdict {
  return filtered === unconfined && filtered !== 'EPERM' && filtered !== 'ENOSYS' && !filtered.startsWith('signal') ? 'allowed' : 'refused';
}

test.before(async (t) => {
  if (skip) return;
  t.context.roost = new RoostEnv('seccomp');
  const { roost } = t.context;
  await roost.loadBusybox(t as never);
  const context = fs.mkdtempSync(path.join(roost.base, 'probe-'));
  const gcc = await execa('gcc', ['-static', '-O1', '-o', path.join(context, 'seccomp-probe'), probeSource], { reject: false });
  if (gcc.exitCode !== 0) throw new Error(`gcc -static seccomp-probe.c: ${gcc.stderr.trim()} (scripts/prepare-host.sh installs gcc and libc6-dev)`);
  fs.writeFileSync(path.join(context, 'Dockerfile'), 'FROM busybox:latest\nCOPY seccomp-probe /usr/local/bin/seccomp-probe\n');
  const built = await roost.roost(['build', '-q', '-t', image, context], { timeout: 120_000 });
  if (built.exitCode !== 0) throw new Error(`roost build: ${built.stderr.trim()}`);
  const archive = path.join(roost.base, 'seccomp-probe.tar');
  const saved = await roost.roost(['save', '-o', archive, image]);
  if (saved.exitCode !== 0) throw new Error(`roost save: ${saved.stderr.trim()}`);
  t.context.podman = new PodmanEnv(fs.mkdtempSync(path.join(roost.base, 'podman-')));
  const loaded = await t.context.podman.podman(['load', '-i', archive]);
  if (loaded.exitCode !== 0) throw new Error(`podman load: ${loaded.stderr.trim()}`);
});

test.after.always(async (t) => {
  await t.context.podman?.destroy();
  await t.context.roost?.destroy();
});

e2e('the default seccomp profile gives podman\'s verdicts for a list of system calls, differences named with their reason', async (t) => {
  const { roost, podman } = t.context;
  const answers = async (engine: 'roost' | 'podman', flags: string[]) => {
    const result = engine === 'roost'
      ? await roost.roost(['run', '--rm', ...flags, image, 'seccomp-probe'])
      : await podman.run(flags, image, ['seccomp-probe']);
    t.is(result.exitCode, 0, `${engine} ${flags.join(' ')}: ${result.stderr}`);
    return parseProbe(result.stdout);
  };
  const unconfined = ['--security-opt', 'seccomp=unconfined'];
  const roostDefault = await answers('roost', []);
  const roostOpen = await answers('roost', unconfined);
  const podmanDefault = await answers('podman', []);
  const podmanOpen = await answers('podman', unconfined);

  t.true(roostDefault.size >= 40, `the probe tried ${roostDefault.size} calls`);
  t.deepEqual([...podmanDefault.keys()], [...roostDefault.keys()], 'both ran the same probe');
  // The probe can tell: the filter is what refuses these, unconfined they reach the kernel's argument checks.
  for (const name of ['add_key', 'keyctl', 'bpf', 'perf_event_open', 'mount', 'unshare_newuser']) {
    t.is(verdict(roostDefault.get(name)!, roostOpen.get(name)!), 'refused', `${name} under the default profile`);
    t.is(verdict(roostOpen.get(name)!, roostOpen.get(name)!), 'allowed', `${name} unconfined (${roostOpen.get(name)})`);
  }

  const differences: string[] = [];
  const seen = new Set<string>();
  for (const name of roostDefault.keys()) {
    const ours = verdict(roostDefault.get(name)!, roostOpen.get(name)!);
    const theirs = verdict(podmanDefault.get(name)!, podmanOpen.get(name)!);
    const known = knownDifferences[name];
    const detail = `${name}: roost ${ours} (${roostDefault.get(name)}, unconfined ${roostOpen.get(name)}), podman ${theirs} (${podmanDefault.get(name)}, unconfined ${podmanOpen.get(name)})`;
    t.log(detail);
    if (known) {
      seen.add(name);
      if (known.roost !== ours || known.podman !== theirs) differences.push(`${detail}; the allow-list expects roost ${known.roost}, podman ${known.podman}`);
    } else if (ours !== theirs) differences.push(detail);
  }
  t.deepEqual(differences, [], 'verdicts differ from podman\'s outside the allow-list');
  t.deepEqual(Object.keys(knownDifferences).filter((name) => !seen.has(name)), [], 'every allow-list entry names a probed call');
});
