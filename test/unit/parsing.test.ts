import test from 'ava';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { familiar, normalizeName, parseReference } from '../../src/image/reference.js';
import { parsePublish } from '../../src/net/port-spec.js';
import { parseArgs } from '../../src/cli/args.js';
import { readEnvFile, buildCreateBody, createFlags } from '../../src/cli/create-options.js';
import { findSubIdRange } from '../../src/rootless/subid.js';
import { EngineError } from '../../src/util/errors.js';
import { chainIds } from '../../src/image/chain.js';
import { runtimeMessage, parseSignal } from '../../src/engine/containers.js';

test('references resolve as Docker resolves them', (t) => {
  t.is(normalizeName('busybox'), 'docker.io/library/busybox:latest');
  t.is(normalizeName('user/app:1.2'), 'docker.io/user/app:1.2');
  t.is(normalizeName('localhost:5000/team/app'), 'localhost:5000/team/app:latest');
  t.is(normalizeName('localhost/app:v1'), 'localhost/app:v1');
  t.is(normalizeName('quay.io/org/app@sha256:' + 'a'.repeat(64)), `quay.io/org/app@sha256:${'a'.repeat(64)}`);
  t.is(familiar('docker.io/library/busybox:latest'), 'busybox:latest');
  t.is(familiar('docker.io/user/app:1'), 'user/app:1');
  t.deepEqual(parseReference('127.0.0.1:5000/x:tag'), { domain: '127.0.0.1:5000', path: 'x', tag: 'tag', digest: undefined });
  for (const bad of ['', 'upper/CASE', 'a b', 'busybox:bad tag', 'x@sha256:123']) {
    t.throws(() => parseReference(bad), { instanceOf: EngineError }, bad);
  }
});

test('-p specs become Docker port bindings, with ranges and protocols', (t) => {
  t.deepEqual(parsePublish(['127.0.0.1:8080:80']).bindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] });
  t.deepEqual(parsePublish(['53:53/udp']).bindings, { '53/udp': [{ HostIp: '', HostPort: '53' }] });
  t.deepEqual(parsePublish(['80']).bindings, { '80/tcp': [{ HostIp: '', HostPort: '' }] });
  t.deepEqual(Object.keys(parsePublish(['8000-8002:9000-9002']).bindings), ['9000/tcp', '9001/tcp', '9002/tcp']);
  t.is(parsePublish(['8000-8002:9000-9002']).bindings['9002/tcp']![0]!.HostPort, '8002');
  for (const bad of ['abc', '99999:80', '80/icmp', '1.2.3:80:80', '8000-8001:9000-9005', '0:80']) {
    const err = t.throws(() => parsePublish([bad]), { instanceOf: EngineError }, bad);
    t.is(err?.code, 'invalid_argument');
  }
});

test('the flag parser takes Docker\'s forms and stops at the image for run', (t) => {
  const specs = createFlags;
  const parsed = parseArgs(['-it', '-e', 'A=1', '--env=B=2', '-p8080:80', '--rm', 'busybox', 'sh', '-c', 'echo -e hi'], specs, { stopAtPositional: true, command: 'run' });
  t.true(parsed.flags.interactive as boolean);
  t.true(parsed.flags.tty as boolean);
  t.deepEqual(parsed.flags.env, ['A=1', 'B=2']);
  t.deepEqual(parsed.flags.publish, ['8080:80']);
  t.deepEqual(parsed.positionals, ['busybox', 'sh', '-c', 'echo -e hi']);
  t.throws(() => parseArgs(['--nope'], specs, { command: 'run' }), { message: 'unknown flag: --nope' });
  t.throws(() => parseArgs(['-Z'], specs, { command: 'run' }), { message: /unknown shorthand flag: 'Z'/ });
  t.throws(() => parseArgs(['--name'], specs, { command: 'run' }), { message: 'flag needs an argument: --name' });
  t.throws(() => parseArgs(['--stop-timeout', 'x'], specs, { command: 'run' }), { message: /not an integer/ });
});

test('create bodies carry image defaults to the engine and reject bad input', (t) => {
  const { body, name } = buildCreateBody(parseArgs(['--name', 'n1', '-l', 'a=b', '--entrypoint', '', '-P', 'img', 'x'], createFlags, { stopAtPositional: true, command: 'run' }));
  t.is(name, 'n1');
  t.deepEqual(body.Entrypoint, []);
  t.deepEqual(body.Cmd, ['x']);
  t.deepEqual(body.Labels, { a: 'b' });
  t.true((body.HostConfig as { PublishAllPorts: boolean }).PublishAllPorts);
  t.throws(() => buildCreateBody(parseArgs(['--pull', 'sometimes', 'img'], createFlags, { stopAtPositional: true, command: 'run' })), { message: /invalid pull option/ });
});

test('env files: comments, KEY=VALUE, bare KEY from the environment, and a clear error', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envf-'));
  const file = path.join(dir, 'a.env');
  process.env.ROOST_TEST_INHERITED = 'yes';
  fs.writeFileSync(file, '# c\n\nA=1\nB= spaced value \nROOST_TEST_INHERITED\nUNSET_VAR_XYZ\n');
  t.deepEqual(readEnvFile(file), ['A=1', 'B= spaced value ', 'ROOST_TEST_INHERITED=yes']);
  fs.writeFileSync(file, 'OK=1\nBAD KEY=2\n');
  t.throws(() => readEnvFile(file), { message: /line 2: variable 'BAD KEY' contains whitespaces/ });
  t.throws(() => readEnvFile(path.join(dir, 'missing.env')), { message: /no such file or directory/ });
});

test('subordinate id ranges are found by user name or uid', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'subid-'));
  const file = path.join(dir, 'subuid');
  fs.writeFileSync(file, 'alice:100000:65536\n1001:200000:1000\nbob:0:0\n');
  t.deepEqual(findSubIdRange(file, 'alice', 1000), { start: 100000, count: 65536 });
  t.deepEqual(findSubIdRange(file, 'carol', 1001), { start: 200000, count: 1000 });
  t.is(findSubIdRange(file, 'bob', 1002), undefined, 'an empty range is no range');
  t.is(findSubIdRange(path.join(dir, 'none'), 'alice', 1000), undefined);
});

test('chain IDs follow the OCI definition', (t) => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  const chains = chainIds([a, b]);
  t.is(chains[0], a);
  t.is(chains[1], 'sha256:' + createHash('sha256').update(`${a} ${b}`).digest('hex'));
});

test('runtime errors keep the runtime\'s own message, signals are parsed like docker kill -s', (t) => {
  t.is(runtimeMessage('time="x" level=warning msg="unable to get oom kill count" time="y" level=error msg="runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"'),
    'exec: "nope": executable file not found in $PATH');
  t.is(runtimeMessage('executable file `nope` not found in $PATH: No such file or directory'), 'exec: "nope": executable file not found in $PATH');
  t.is(runtimeMessage('open executable: Permission denied'), 'open executable: permission denied');
  t.is(parseSignal('SIGTERM'), 'TERM');
  t.is(parseSignal('9'), 'KILL');
  t.is(parseSignal('hup'), 'HUP');
  t.throws(() => parseSignal('SIGNOPE'), { message: 'invalid signal: SIGNOPE' });
});

test('errors map to one HTTP status and one exit code', (t) => {
  t.is(new EngineError('not_found', 'x').httpStatus, 404);
  t.is(new EngineError('conflict', 'x').httpStatus, 409);
  t.is(new EngineError('invalid_argument', 'x').exitCode, 125);
  t.is(EngineError.fromHttp(409, 'name in use').code, 'conflict');
  t.is(EngineError.fromHttp(418, 'teapot').code, 'internal');
});

test('crun is preferred, but runc is chosen on hybrid cgroups without the hugetlb v1 hierarchy', async (t) => {
  const { chooseRuntime, cgroupLayout } = await import('../../src/rootless/host-check.js');
  const hybrid = 'tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n';
  const hybridFixed = `${hybrid}cgroup /sys/fs/cgroup/hugetlb cgroup rw,hugetlb 0 0\n`;
  const v2 = 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n';
  const both = (name: string) => `/usr/bin/${name}`;
  t.is(cgroupLayout(hybrid), 'hybrid');
  t.is(cgroupLayout(v2), 'v2');
  t.is(chooseRuntime({}, v2, both)?.name, 'crun');
  t.is(chooseRuntime({}, hybrid, both)?.name, 'runc');
  t.regex(chooseRuntime({}, hybrid, both)!.reason, /crun refuses hybrid cgroups/);
  t.is(chooseRuntime({}, hybridFixed, both)?.name, 'crun');
  t.is(chooseRuntime({}, hybrid, (n) => (n === 'crun' ? '/usr/bin/crun' : undefined))?.name, 'crun');
  t.is(chooseRuntime({ ROOST_RUNTIME: 'runc' }, v2, both)?.name, 'runc');
  t.is(chooseRuntime({}, v2, () => undefined), undefined);
});

test('--change instructions set an imported image\'s defaults, and unsupported ones are refused', async (t) => {
  const { applyChanges } = await import('../../src/image/changes.js');
  const config = applyChanges({ Env: ['A=1'] }, [
    'CMD ["/bin/app", "--serve"]', 'ENTRYPOINT /entry.sh', 'ENV A=2 B="two words"', 'WORKDIR /srv', 'USER 1000:1000',
    'EXPOSE 80 53/udp', 'LABEL org.example.team=core', 'STOPSIGNAL SIGINT', 'VOLUME /data',
  ]);
  t.deepEqual(config.Cmd, ['/bin/app', '--serve']);
  t.deepEqual(config.Entrypoint, ['/bin/sh', '-c', '/entry.sh']);
  t.deepEqual(config.Env, ['A=2', 'B=two words']);
  t.is(config.WorkingDir, '/srv');
  t.is(config.User, '1000:1000');
  t.deepEqual(Object.keys(config.ExposedPorts!), ['80/tcp', '53/udp']);
  t.deepEqual(config.Labels, { 'org.example.team': 'core' });
  t.is(config.StopSignal, 'SIGINT');
  t.deepEqual(Object.keys(config.Volumes!), ['/data']);
  t.throws(() => applyChanges({}, ['RUN echo hi']), { message: /RUN is not supported by --change/ });
  t.throws(() => applyChanges({}, ['CMD ["unclosed"']), { message: /invalid JSON array/ });
  t.throws(() => applyChanges({}, ['EXPOSE eighty']), { message: /invalid port eighty/ });
});

test('detach keys: ctrl-p,ctrl-q by default, held back until they complete, lost bytes none', async (t) => {
  const { DetachKeyScanner, parseDetachKeys } = await import('../../src/api/detach-keys.js');
  t.deepEqual([...parseDetachKeys(undefined)], [0x10, 0x11]);
  t.deepEqual([...parseDetachKeys('ctrl-a,x')], [0x01, 0x78]);
  t.throws(() => parseDetachKeys('ctrl-'), { message: /invalid detach keys/ });
  const scanner = new DetachKeyScanner(parseDetachKeys(undefined));
  t.deepEqual(scanner.push(Buffer.from('ls\n')), { forward: Buffer.from('ls\n'), detach: false });
  t.deepEqual(scanner.push(Buffer.from([0x61, 0x10])), { forward: Buffer.from('a'), detach: false }, 'a possible start is held');
  t.deepEqual(scanner.push(Buffer.from([0x62])), { forward: Buffer.from([0x10, 0x62]), detach: false }, 'and released when it was not the sequence');
  t.deepEqual(scanner.push(Buffer.from([0x10, 0x10])), { forward: Buffer.from([0x10]), detach: false });
  t.deepEqual(scanner.push(Buffer.from([0x11, 0x7a])), { forward: Buffer.alloc(0), detach: true });
});

test('keep-id maps the user\'s id to the namespace root and the rest around it', async (t) => {
  const { keepIdMappings } = await import('../../src/runtime/oci-spec.js');
  t.deepEqual(keepIdMappings(1000, 65537), [
    { containerID: 1000, hostID: 0, size: 1 }, { containerID: 0, hostID: 1, size: 1000 }, { containerID: 1001, hostID: 1001, size: 64536 },
  ]);
  t.deepEqual(keepIdMappings(0, 65537), [{ containerID: 0, hostID: 0, size: 1 }, { containerID: 1, hostID: 1, size: 65536 }]);
  t.deepEqual(keepIdMappings(1000, 1), [{ containerID: 1000, hostID: 0, size: 1 }], 'single-id mapping: only the user');
});

test('owners cross a keep-id mapping both ways; ids outside it are the overflow id', async (t) => {
  const { keepIdMappings } = await import('../../src/runtime/oci-spec.js');
  const { toContainerOwner, toEngineOwner } = await import('../../src/runtime/id-maps.js');
  const maps = { uidMappings: keepIdMappings(1000, 65537), gidMappings: keepIdMappings(100, 65537) };
  // The engine's root is the user (1000:100 inside); engine id 1 is the container's root; ids above the user's stay.
  t.deepEqual(toContainerOwner({ uid: 0, gid: 0 }, maps), { uid: 1000, gid: 100 });
  t.deepEqual(toContainerOwner({ uid: 1, gid: 1 }, maps), { uid: 0, gid: 0 });
  t.deepEqual(toContainerOwner({ uid: 34, gid: 35 }, maps), { uid: 33, gid: 34 });
  t.deepEqual(toContainerOwner({ uid: 2000, gid: 2000 }, maps), { uid: 2000, gid: 2000 });
  t.deepEqual(toContainerOwner({ uid: 70000, gid: 0 }, maps), { uid: 65534, gid: 100 });
  for (const owner of [{ uid: 0, gid: 0 }, { uid: 33, gid: 34 }, { uid: 1000, gid: 100 }, { uid: 999, gid: 99 }, { uid: 1001, gid: 101 }]) {
    t.deepEqual(toContainerOwner(toEngineOwner(owner, maps), maps), owner);
  }
});

test('restart policies follow Docker\'s rules and back-off', async (t) => {
  const { shouldRestart, startsWithEngine, restartDelayMs, parseRestartFlag } = await import('../../src/engine/restart-policy.js');
  t.true(shouldRestart({ Name: 'always' }, 0, 5, false));
  t.false(shouldRestart({ Name: 'always' }, 0, 0, true), 'stopped by hand');
  t.true(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 2 }, 1, 1, false));
  t.false(shouldRestart({ Name: 'on-failure', MaximumRetryCount: 2 }, 1, 2, false), 'retries used up');
  t.false(shouldRestart({ Name: 'on-failure' }, 0, 0, false), 'a clean exit is no failure');
  t.false(shouldRestart({ Name: 'no' }, 1, 0, false));
  t.true(startsWithEngine({ Name: 'always' }, true));
  t.false(startsWithEngine({ Name: 'unless-stopped' }, true));
  t.is(restartDelayMs(0, 50), 100);
  t.is(restartDelayMs(100, 50), 200);
  t.is(restartDelayMs(40_000, 50), 60_000);
  t.is(restartDelayMs(6400, 12_000), 100, 'a run of 10 s starts the back-off over');
  t.deepEqual(parseRestartFlag('on-failure:5'), { Name: 'on-failure', MaximumRetryCount: 5 });
  t.throws(() => parseRestartFlag('always:2'), { message: /cannot be used with restart policy 'always'/ });
});

test('--label and --opt flags: KEY=VALUE, a bare KEY is empty, an empty key is refused', async (t) => {
  const { parseKeyValueFlags } = await import('../../src/cli/key-values.js');
  t.deepEqual(parseKeyValueFlags(['a=1', 'b', 'c=x=y'], 'label'), { a: '1', b: '', c: 'x=y' });
  t.throws(() => parseKeyValueFlags(['=v'], 'label'), { message: 'invalid label: =v' });
});
