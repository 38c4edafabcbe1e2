import anyTest, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { e2eUnavailable, retry, RoostEnv } from '../helpers/roost-env.js';

const unavailable = e2eUnavailable() ?? (fs.existsSync('/usr/local/bin/docker') || fs.existsSync('/usr/bin/docker') ? undefined : 'the docker CLI is not installed');
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = unavailable ? test.skip : test.serial;
if (unavailable) test('end-to-end: docker CLI (skipped)', (t) => { t.log(unavailable); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('docker');
  // Start Roost's daemon the way a user would: any roost command does it.
  if (!unavailable) await t.context.roost.roost(['info']);
});
test.after.always(async (t) => { await t.context.roost?.destroy(); });

/**
 * Runs a docker command under a pseudo-terminal (as a user at a terminal would). stdin stays open:
 * `script` turns an EOF on its stdin into a NUL typed at the terminal.
 */
async function dockerInPty(roost: RoostEnv, command: string, input?: string) {
  const child = execa('script', ['-qec', `docker ${command}`, '/dev/null'], { env: { ...roost.env, TERM: 'xterm' }, reject: false, timeout: 30_000, stdin: 'pipe' });
  if (input) setTimeout(() => child.stdin?.write(input), 500);
  const result = await child;
  child.stdin?.destroy();
  return result;
}

e2e('docker load, images, run --rm, exit status and inspect through Roost\'s socket', async (t) => {
  const { roost } = t.context;
  const load = await roost.docker(['load', '-i', roost.busyboxArchive()]);
  t.regex(load.stdout, /Loaded image: busybox:latest/, load.stderr);
  const images = await roost.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  t.is(images.stdout, 'busybox:latest\n');
  const run = await roost.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo $((6*7))']);
  t.is(run.stdout, '42\n', run.stderr);
  t.is(run.exitCode, 0);
  const status = await roost.docker(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']);
  t.is(status.exitCode, 3);
  const missing = await roost.docker(['run', '--rm', 'busybox', 'no-such-command']);
  t.is(missing.exitCode, 127, missing.stderr);
  const info = await roost.docker(['info', '--format', '{{.Driver}} {{.ServerVersion}}']);
  t.regex(info.stdout, /^(overlay|fuse-overlayfs|copy) \d+\.\d+\.\d+\n$/);
});

e2e('docker run -d, ps, logs -f, exec, stop, rm', async (t) => {
  const { roost } = t.context;
  const run = await roost.docker(['run', '-d', '--name', 'dk', 'busybox', 'sh', '-c', 'echo one; sleep 1; echo two; sleep 300']);
  t.is(run.exitCode, 0, run.stderr);
  const ps = await roost.docker(['ps', '--format', '{{.Names}} {{.Image}} {{.Status}}']);
  t.regex(ps.stdout, /^dk busybox Up /);
  const follow = execa('docker', ['logs', '-f', 'dk'], { env: roost.env, reject: false, stripFinalNewline: false });
  const logs = await retry(() => roost.docker(['logs', 'dk']), (r) => r.stdout.includes('two'));
  t.is(logs.stdout, 'one\ntwo\n');
  const exec = await roost.docker(['exec', 'dk', 'sh', '-c', 'echo from exec; exit 2']);
  t.is(exec.stdout, 'from exec\n');
  t.is(exec.exitCode, 2);
  const inspect = await roost.docker(['inspect', '-f', '{{.State.Running}} {{.Name}}', 'dk']);
  t.is(inspect.stdout, 'true /dk\n');
  t.is((await roost.docker(['stop', '-t', '1', 'dk'])).exitCode, 0);
  const followed = await follow;
  t.is(followed.stdout, 'one\ntwo\n', 'logs -f ends when the container stops');
  t.is((await roost.docker(['rm', 'dk'])).exitCode, 0);
  t.is((await roost.docker(['ps', '-aq'])).stdout, '');
});

e2e('docker run -it and exec -it under a pty get a terminal and the exit status', async (t) => {
  const { roost } = t.context;
  const run = await dockerInPty(roost, "run -it --rm busybox sh -c 'tty; exit 6'");
  t.regex(run.stdout, /\/dev\/pts\/\d+/, run.stderr);
  t.is(run.exitCode, 6);
  await roost.docker(['run', '-d', '--name', 'ttyhost', 'busybox', 'sleep', '300']);
  const exec = await dockerInPty(roost, "exec -it ttyhost sh -c 'tty; echo $TERM'");
  t.regex(exec.stdout, /\/dev\/pts\/\d+\s+xterm/, exec.stderr);
  const interactive = await dockerInPty(roost, 'run -i --rm busybox cat', 'typed line\n\x04');
  t.regex(interactive.stdout, /typed line/);
  await roost.docker(['rm', '-f', 'ttyhost']);
});

e2e('docker save, rmi and load round-trip the image', async (t) => {
  const { roost } = t.context;
  const file = path.join(roost.base, 'docker-saved.tar');
  const save = await roost.docker(['save', '-o', file, 'busybox']);
  t.is(save.exitCode, 0, save.stderr);
  const rmi = await roost.docker(['rmi', 'busybox']);
  t.regex(rmi.stdout, /Untagged: busybox:latest/, rmi.stderr + (await roost.docker(['ps', '-a'])).stdout);
  t.regex(rmi.stdout, /Deleted: sha256:/);
  t.is((await roost.docker(['images', '-q'])).stdout, '');
  const load = await roost.docker(['load', '-i', file]);
  t.regex(load.stdout, /Loaded image: busybox:latest/);
  t.is((await roost.docker(['run', '--rm', 'busybox', 'true'])).exitCode, 0);
});

e2e('ctrl-p ctrl-q detaches roost run -it and docker attach, and the container keeps running', async (t) => {
  const { roost } = t.context;
  const { roostBin } = await import('../helpers/roost-env.js');
  const child = execa('script', ['-qec', `node -- ${roostBin} run -it --name detachable busybox sh`, '/dev/null'], { env: { ...roost.env, TERM: 'xterm' }, reject: false, timeout: 30_000, stdin: 'pipe' });
  await new Promise((r) => setTimeout(r, 1500));
  child.stdin!.write('echo inside-$((2+3))\n');
  await new Promise((r) => setTimeout(r, 500));
  child.stdin!.write('\x10\x11');
  const result = await child;
  child.stdin?.destroy();
  t.is(result.exitCode, 0, String(result.stdout));
  t.regex(String(result.stdout), /inside-5/);
  t.is((await roost.roost(['inspect', '-f', '{{.State.Running}}', 'detachable'])).stdout, 'true\n');
  const attach = execa('script', ['-qec', 'docker attach detachable', '/dev/null'], { env: { ...roost.env, TERM: 'xterm' }, reject: false, timeout: 30_000, stdin: 'pipe' });
  await new Promise((r) => setTimeout(r, 1000));
  attach.stdin!.write('echo again-$((3+4))\n');
  await new Promise((r) => setTimeout(r, 500));
  attach.stdin!.write('\x10\x11');
  const attached = await attach;
  attach.stdin?.destroy();
  t.regex(String(attached.stdout), /again-7/);
  t.is((await roost.roost(['inspect', '-f', '{{.State.Running}}', 'detachable'])).stdout, 'true\n');
  await roost.roost(['rm', '-f', 'detachable']);
});
