import anyTest, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { e2eUnavailable, retry, RoostEnv, roostBin } from '../helpers/roost-env.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: daemon (skipped)', (t) => { t.log(skip); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('daemon');
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => { await t.context.roost?.destroy(); });

e2e('the socket is 0600 under $XDG_RUNTIME_DIR/roost and the store is 0700', async (t) => {
  const { roost } = t.context;
  t.is(fs.statSync(roost.socket).mode & 0o777, 0o600);
  t.is(fs.statSync(path.dirname(roost.socket)).mode & 0o777, 0o700);
  t.is(fs.statSync(path.join(roost.env.XDG_DATA_HOME!, 'roost')).mode & 0o777, 0o700);
});

e2e('a second daemon for the same user refuses with a clear message', async (t) => {
  const { roost } = t.context;
  const second = await execa(process.execPath, ['--', roostBin, 'daemon'], { env: roost.env, reject: false, timeout: 20_000 });
  t.not(second.exitCode, 0);
  t.regex(second.stderr, /already running/);
  t.is((await roost.roost(['ps'])).exitCode, 0, 'the first daemon still answers');
});

/** The engines (`roost daemon --in-namespace`) serving this test's run directory. */
function enginesFor(runDir: string): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!args.includes('--in-namespace')) return false;
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`ROOST_RUN_DIR=${runDir}`);
    } catch {
      return false;
    }
  });
}

/** The namespace holders (`sleep infinity` under unshare) started for this test's runtime directory. */
function pauseProcessesFor(runtimeDir: string): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== 'sleep\0infinity\0') return false;
      return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`XDG_RUNTIME_DIR=${runtimeDir}`);
    } catch {
      return false;
    }
  });
}

e2e('first CLI calls at the same moment start one daemon and one set of namespaces between them, and all are answered', async (t) => {
  const { roost } = t.context;
  const runDir = path.join(roost.env.XDG_RUNTIME_DIR!, 'roost');
  for (let round = 0; round < 4; round++) {
    const pid = roost.daemonPid();
    process.kill(pid, 'SIGTERM');
    await retry(async () => enginesFor(runDir), (pids) => pids.length === 0);
    // Every other round without the namespaces too (no container runs here): the calls must make them once.
    if (round % 2 === 0) {
      for (const pause of pauseProcessesFor(roost.env.XDG_RUNTIME_DIR!)) process.kill(pause, 'SIGKILL');
      await retry(async () => pauseProcessesFor(roost.env.XDG_RUNTIME_DIR!), (pids) => pids.length === 0);
    }
    const calls = await Promise.all(Array.from({ length: 5 }, () => roost.roost(['ps', '-q'])));
    for (const call of calls) t.is(call.exitCode, 0, call.stderr);
    await new Promise((r) => setTimeout(r, 500));
    t.deepEqual(enginesFor(runDir), [roost.daemonPid()], `round ${round}: one engine, the one that answers`);
    t.deepEqual(pauseProcessesFor(roost.env.XDG_RUNTIME_DIR!), [Number(fs.readFileSync(path.join(runDir, 'pause.pid'), 'utf8'))], `round ${round}: one namespace holder`);
  }
});

e2e('after kill -9 of the daemon, running containers keep running and ps, logs -f, exec, stop work on them', async (t) => {
  const { roost } = t.context;
  const run = await roost.roost(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.2; done']);
  t.is(run.exitCode, 0, run.stderr);
  await retry(() => roost.roost(['logs', 'survivor']), (r) => r.stdout.includes('tick2'));
  const oldPid = roost.daemonPid();
  process.kill(oldPid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 600));
  const ps = await roost.roost(['ps', '--format', '{{.Names}} {{.State}}']);
  t.is(ps.stdout, 'survivor running\n', ps.stderr);
  t.not(roost.daemonPid(), oldPid, 'the CLI started a new daemon');
  const logs = await roost.roost(['logs', 'survivor']);
  const ticks = logs.stdout.trim().split('\n');
  t.true(ticks.length >= 4, 'output written while no daemon ran is in the log');
  t.deepEqual(ticks.slice(0, 3), ['tick1', 'tick2', 'tick3']);
  const exec = await roost.roost(['exec', 'survivor', 'echo', 'alive']);
  t.is(exec.stdout, 'alive\n', exec.stderr);
  const follow = roost.spawnRoost(['logs', '-f', '--tail', '1', 'survivor']);
  await new Promise((r) => setTimeout(r, 700));
  const stop = await roost.roost(['stop', '-t', '1', 'survivor']);
  t.is(stop.exitCode, 0, stop.stderr);
  const followed = await follow;
  t.is(followed.exitCode, 0);
  t.true(String(followed.stdout).trim().split('\n').length >= 3, 'logs -f saw new lines and ended when the container stopped');
  const state = await roost.roost(['inspect', '-f', '{{.State.Status}}', 'survivor']);
  t.is(state.stdout, 'exited\n');
  await roost.roost(['rm', 'survivor']);
});

e2e('a container that exits while no daemon runs is seen as exited with its status', async (t) => {
  const { roost } = t.context;
  await roost.roost(['run', '-d', '--name', 'quick', 'busybox', 'sh', '-c', 'sleep 0.5; exit 7']);
  process.kill(roost.daemonPid(), 'SIGKILL');
  await new Promise((r) => setTimeout(r, 1200));
  const state = await roost.roost(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'quick']);
  t.is(state.stdout, 'exited 7\n', state.stderr);
  await roost.roost(['rm', 'quick']);
});

e2e('info names the storage driver, runtime, id mapping and every host check', async (t) => {
  const info = await t.context.roost.roost(['info']);
  t.is(info.exitCode, 0, info.stderr);
  t.regex(info.stdout, /Storage Driver: (overlay|fuse-overlayfs|copy) \(/);
  t.regex(info.stdout, /Runtime: (crun|runc) \(/);
  t.regex(info.stdout, /ID mapping: (subordinate id ranges|single id)/);
  for (const check of ['user namespaces', 'newuidmap', 'subordinate ids', 'OCI runtime', '/dev/fuse', 'network uplink', 'cgroups']) {
    t.regex(info.stdout, new RegExp(`(ok  |WARN) ${check.replace('/', '\\/')}:`), check);
  }
  const json = await t.context.roost.roost(['info', '--format', '{{.Driver}} {{.Swarm.LocalNodeState}}']);
  t.regex(json.stdout, /^(overlay|fuse-overlayfs|copy) inactive\n$/);
});

(skip || !fs.existsSync('/usr/bin/skopeo') ? test.skip : test.serial)('the image store is an OCI layout that skopeo reads', async (t) => {
  const { roost } = t.context;
  const store = path.join(roost.env.XDG_DATA_HOME!, 'roost', 'storage');
  const out = path.join(roost.base, 'skopeo-copy');
  const copy = await execa('skopeo', ['copy', `oci:${store}:docker.io/library/busybox:latest`, `dir:${out}`], { reject: false, env: { ...process.env, HOME: roost.base } });
  t.is(copy.exitCode, 0, copy.stderr);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  const inspect = await roost.roost(['image', 'inspect', '-f', '{{.Id}}', 'busybox']);
  t.is(manifest.config.digest + '\n', inspect.stdout);
});

e2e('kill -9 of the daemon in the middle of a load loses nothing stored and leaves nothing half-written', async (t) => {
  const { roost } = t.context;
  const before = (await roost.roost(['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).stdout;
  // A big archive, so the daemon is surely still staging or unpacking it when it is killed.
  const big = path.join(roost.base, 'big.tar');
  const { createHash, randomBytes } = await import('node:crypto');
  const tar = (await import('tar-stream')).default;
  const layerPack = tar.pack();
  for (let i = 0; i < 40; i++) layerPack.entry({ name: `blob${i}` }, randomBytes(2 * 1024 * 1024));
  layerPack.finalize();
  const layerChunks: Buffer[] = [];
  for await (const c of layerPack) layerChunks.push(c as Buffer);
  const layer = Buffer.concat(layerChunks);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(layer).digest('hex')}`] } });
  const outer = tar.pack();
  outer.entry({ name: 'c.json' }, config);
  outer.entry({ name: 'l/layer.tar' }, layer);
  outer.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: 'c.json', RepoTags: ['big:1'], Layers: ['l/layer.tar'] }]));
  outer.finalize();
  const { pipeline } = await import('node:stream/promises');
  await pipeline(outer, fs.createWriteStream(big));
  const loading = roost.spawnRoost(['load', '-i', big]);
  await new Promise((r) => setTimeout(r, 250));
  process.kill(roost.daemonPid(), 'SIGKILL');
  const interrupted = await loading;
  t.not(interrupted.exitCode, 0, 'the interrupted load reports a failure');
  t.is((await roost.roost(['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).stdout, before);
  const data = path.join(roost.env.XDG_DATA_HOME!, 'roost');
  t.deepEqual(fs.readdirSync(path.join(data, 'tmp')).filter((n) => n.startsWith('load-')), [], 'staging swept at start');
  t.deepEqual(fs.readdirSync(path.join(data, 'storage', 'snapshots')).filter((n) => n.includes('.tmp-')), [], 'no half snapshot');
  const again = await roost.roost(['load', '-i', big]);
  t.is(again.stdout, 'Loaded image: big:1\n', again.stderr);
  t.is((await roost.roost(['run', '--rm', 'busybox', 'echo', 'intact'])).stdout, 'intact\n');
  await roost.roost(['rmi', 'big:1']);
});
