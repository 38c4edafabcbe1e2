import anyTest, { type TestFn } from 'ava';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pack } from 'tar-stream';
import { e2eUnavailable, RoostEnv, roostBin } from '../helpers/roost-env.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv; work: string }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: cp, diff, export (skipped)', (t) => { t.log(skip); t.pass(); });
const hasDocker = fs.existsSync('/usr/local/bin/docker') || fs.existsSync('/usr/bin/docker');
const e2eDocker = skip || !hasDocker ? test.skip : test.serial;

test.before(async (t) => {
  t.context.roost = new RoostEnv('files');
  t.context.work = path.join(t.context.roost.base, 'work');
  fs.mkdirSync(t.context.work);
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => {
  await t.context.roost?.destroy();
});

/** roost with binary stdin/stdout (tar streams). */
function roostRaw(roost: RoostEnv, args: string[], input?: Buffer) {
  return execa(process.execPath, ['--', roostBin, ...args], { env: roost.env, reject: false, timeout: 60_000, encoding: 'buffer', input: input ?? Buffer.alloc(0) });
}

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string; content?: string; mode?: number };

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve) => { p.on('data', (c: Buffer) => chunks.push(c)); p.on('end', () => resolve()); });
  for (const { content, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if ((header.type ?? 'file') === 'file') p.entry(header, content ?? '', cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Names in a tar, via the host's tar. */
async function tarNames(archive: Buffer): Promise<string[]> {
  const listed = await execa('tar', ['-tf', '-'], { input: archive });
  return listed.stdout.split('\n').filter(Boolean);
}

/** A container that ran its setup and stopped: cp, diff and export work on its (still mounted) rootfs. */
async function preparedContainer(roost: RoostEnv, name: string, script: string): Promise<void> {
  const run = await roost.roost(['run', '--name', name, 'busybox', 'sh', '-c', script]);
  if (run.exitCode !== 0) throw new Error(`setup of ${name} failed: ${run.stderr}`);
}

const containerDataDir = async (roost: RoostEnv, name: string) => {
  const id = (await roost.roost(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
  return path.join(roost.env.XDG_DATA_HOME!, 'roost', 'containers', id);
};

e2e('cp copies a file and a directory out of a container, keeping content and modes', async (t) => {
  const { roost, work } = t.context;
  await preparedContainer(roost, 'files-out', 'echo hello > /tmp/f && chmod 640 /tmp/f && mkdir -p /tmp/d/sub && echo y > /tmp/d/sub/y && chmod 700 /tmp/d/sub && ln -s y /tmp/d/sub/link');
  const out = path.join(work, 'out1');
  fs.mkdirSync(out);
  const file = await roost.roost(['cp', 'files-out:/tmp/f', out]);
  t.is(file.exitCode, 0, file.stderr);
  t.is(fs.readFileSync(path.join(out, 'f'), 'utf8'), 'hello\n');
  t.is(fs.statSync(path.join(out, 'f')).mode & 0o777, 0o640);
  // DEST missing: the copy takes its name.
  const renamed = await roost.roost(['cp', 'files-out:/tmp/f', path.join(out, 'renamed')]);
  t.is(renamed.exitCode, 0, renamed.stderr);
  t.is(fs.readFileSync(path.join(out, 'renamed'), 'utf8'), 'hello\n');
  const dir = await roost.roost(['cp', 'files-out:/tmp/d', out]);
  t.is(dir.exitCode, 0, dir.stderr);
  t.is(fs.readFileSync(path.join(out, 'd', 'sub', 'y'), 'utf8'), 'y\n');
  t.is(fs.statSync(path.join(out, 'd', 'sub')).mode & 0o777, 0o700);
  t.is(fs.readlinkSync(path.join(out, 'd', 'sub', 'link')), 'y');
  const newDir = await roost.roost(['cp', 'files-out:/tmp/d', path.join(out, 'newdir')]);
  t.is(newDir.exitCode, 0, newDir.stderr);
  t.true(fs.existsSync(path.join(out, 'newdir', 'sub', 'y')));
  // dir/. copies the content into an existing directory.
  const content = await roost.roost(['cp', 'files-out:/tmp/d/.', path.join(out, 'newdir')]);
  t.is(content.exitCode, 0, content.stderr);
  t.deepEqual(fs.readdirSync(path.join(out, 'newdir')).sort(), ['sub']);
  // A directory cannot replace a file.
  const clash = await roost.roost(['cp', 'files-out:/tmp/d', path.join(out, 'f')]);
  t.is(clash.exitCode, 1);
  t.regex(clash.stderr, /cannot copy directory/);
});

e2e('cp copies a file and a directory into a container', async (t) => {
  const { roost, work } = t.context;
  await preparedContainer(roost, 'files-in', 'true');
  const src = path.join(work, 'in');
  fs.mkdirSync(path.join(src, 'dir', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'file'), 'from host\n', { mode: 0o750 });
  fs.chmodSync(path.join(src, 'file'), 0o750);
  fs.writeFileSync(path.join(src, 'dir', 'sub', 'b'), 'b\n');
  fs.mkdirSync(path.join(src, 'whdir'));
  fs.writeFileSync(path.join(src, 'whdir', '.wh.kept'), 'not a whiteout\n');
  for (const args of [['in/file', 'files-in:/tmp/'], ['in/dir', 'files-in:/tmp'], ['in/file', 'files-in:/tmp/renamed'], ['in/dir', 'files-in:/tmp/newdir']]) {
    const r = await execa(process.execPath, ['--', roostBin, 'cp', ...args], { env: roost.env, cwd: work, reject: false });
    t.is(r.exitCode, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const archive = await roostRaw(roost, ['cp', 'files-in:/tmp', '-']);
  t.is(archive.exitCode, 0, Buffer.from(archive.stderr).toString());
  const names = await tarNames(archive.stdout);
  for (const name of ['tmp/file', 'tmp/renamed', 'tmp/dir/sub/b', 'tmp/newdir/sub/b']) t.true(names.includes(name), `${name} in ${names.join(' ')}`);
  const listed = await execa('tar', ['-tvf', '-', 'tmp/file'], { input: archive.stdout });
  t.regex(listed.stdout, /^-rwxr-x---/);
  // User files named like whiteouts are ordinary files (fuse-overlayfs itself refuses such names).
  const wh = await execa(process.execPath, ['--', roostBin, 'cp', 'in/whdir', 'files-in:/tmp'], { env: roost.env, cwd: work, reject: false });
  const driver = (await roost.roost(['inspect', '-f', '{{.Driver}}', 'files-in'])).stdout.trim();
  if (driver === 'fuse-overlayfs') {
    t.is(wh.exitCode, 1);
    t.regex(wh.stderr, /^roost: cannot extract archive entry "whdir\/\.wh\.kept": EINVAL/);
  } else {
    t.is(wh.exitCode, 0, wh.stderr);
    const kept = await roostRaw(roost, ['cp', 'files-in:/tmp/whdir/.wh.kept', '-']);
    t.is((await execa('tar', ['-xOf', '-'], { input: kept.stdout })).stdout, 'not a whiteout');
  }
  // Into a missing directory: Docker's 404.
  const missing = await execa(process.execPath, ['--', roostBin, 'cp', 'in/file', 'files-in:/no/such/dir/'], { env: roost.env, cwd: work, reject: false });
  t.is(missing.exitCode, 1);
});

e2e('cp - streams a tar out, and extracts a tar from stdin into a directory', async (t) => {
  const { roost } = t.context;
  await preparedContainer(roost, 'files-stream', 'mkdir /tmp/d && echo one > /tmp/d/one');
  const out = await roostRaw(roost, ['cp', 'files-stream:/tmp/d', '-']);
  t.is(out.exitCode, 0, Buffer.from(out.stderr).toString());
  t.deepEqual(await tarNames(out.stdout), ['d/', 'd/one']);
  const single = await roostRaw(roost, ['cp', 'files-stream:/etc/passwd', '-']);
  t.deepEqual(await tarNames(single.stdout), ['passwd']);
  const tar = await makeTar([{ name: 'fromstdin', content: 'piped\n', mode: 0o600 }, { name: 'sub/', type: 'directory', mode: 0o755 }, { name: 'sub/x', content: 'x' }]);
  const put = await roostRaw(roost, ['cp', '-', 'files-stream:/tmp/d'], tar);
  t.is(put.exitCode, 0, Buffer.from(put.stderr).toString());
  const back = await roostRaw(roost, ['cp', 'files-stream:/tmp/d/fromstdin', '-']);
  const extracted = await execa('tar', ['-xOf', '-'], { input: back.stdout });
  t.is(extracted.stdout, 'piped');
  const notDir = await roostRaw(roost, ['cp', '-', 'files-stream:/tmp/d/one'], tar);
  t.is(notDir.exitCode, 1);
  t.regex(Buffer.from(notDir.stderr).toString(), /must be a directory/);
});

e2e('cp reaches into volumes, binds and tmpfs mounts as the container sees them, running or stopped', async (t) => {
  const { roost, work } = t.context;
  const bind = path.join(work, 'bound');
  fs.mkdirSync(bind);
  fs.writeFileSync(path.join(bind, 'from-host.txt'), 'host\n');
  await roost.roost(['run', '-d', '--name', 'mounted', '-v', 'cpdata:/data', '-v', `${bind}:/bound`, '--tmpfs', '/scratch', '--read-only', 'busybox',
    'sh', '-c', 'echo in-volume > /data/v.txt; echo in-tmpfs > /scratch/t.txt; sleep 300']);
  await new Promise((r) => setTimeout(r, 300));
  const out = path.join(work, 'cp-mounts');
  fs.mkdirSync(out);
  for (const [from, name, content] of [['/data/v.txt', 'v.txt', 'in-volume\n'], ['/scratch/t.txt', 't.txt', 'in-tmpfs\n'], ['/bound/from-host.txt', 'from-host.txt', 'host\n']]) {
    const cp = await roost.roost(['cp', `mounted:${from}`, out]);
    t.is(cp.exitCode, 0, `${from}: ${cp.stderr}`);
    t.is(fs.readFileSync(path.join(out, name), 'utf8'), content, from);
  }
  // Into a volume of a read-only container: the volume is writable, the root is not.
  fs.writeFileSync(path.join(work, 'in.txt'), 'copied in\n');
  t.is((await roost.roost(['cp', path.join(work, 'in.txt'), 'mounted:/data/'])).exitCode, 0);
  t.is((await roost.roost(['exec', 'mounted', 'cat', '/data/in.txt'])).stdout, 'copied in\n');
  const ro = await roost.roost(['cp', path.join(work, 'in.txt'), 'mounted:/etc/']);
  t.not(ro.exitCode, 0);
  t.regex(ro.stderr, /read-only/);
  // Stopped: the volume's content is still there to copy.
  await roost.roost(['stop', '-t', '0', 'mounted']);
  fs.rmSync(path.join(out, 'v.txt'));
  t.is((await roost.roost(['cp', 'mounted:/data/v.txt', out])).exitCode, 0);
  t.is(fs.readFileSync(path.join(out, 'v.txt'), 'utf8'), 'in-volume\n');
  await roost.roost(['rm', '-f', '-v', 'mounted']);
  await roost.roost(['volume', 'rm', 'cpdata']);
});

e2e('cp of a missing path fails like Docker: one line, exit 1', async (t) => {
  const { roost, work } = t.context;
  await preparedContainer(roost, 'files-missing', 'true');
  const result = await roost.roost(['cp', 'files-missing:/no/such/file', work]);
  t.is(result.exitCode, 1);
  t.is(result.stderr, 'roost: Could not find the file /no/such/file in container files-missing\n');
  const noContainer = await roost.roost(['cp', 'no-such-container:/etc/passwd', work]);
  t.is(noContainer.exitCode, 1);
  t.regex(noContainer.stderr, /No such container: no-such-container/);
});

e2e('symlinks planted in a container never lead the copy out of its root', async (t) => {
  const { roost, work } = t.context;
  const marker = `roost-marker-${randomBytes(4).toString('hex')}`;
  await preparedContainer(roost, 'files-esc', `ln -s / /escape && ln -s ../../.. /up && ln -s /etc /etclink && echo container > /etc/${marker} && ln -s /loop2 /loop1 && ln -s /loop1 /loop2`);
  const out = path.join(work, 'esc');
  fs.mkdirSync(out);
  // /escape/etc/passwd is the container's /etc/passwd, not the host's.
  const containerPasswd = (await roostRaw(roost, ['cp', 'files-esc:/etc/passwd', '-'])).stdout;
  for (const via of ['/escape/etc/passwd', '/up/etc/passwd', '/escape/../../etc/passwd']) {
    const r = await roost.roost(['cp', `files-esc:${via}`, path.join(out, 'pw')]);
    t.is(r.exitCode, 0, r.stderr);
    t.is(fs.readFileSync(path.join(out, 'pw'), 'utf8'), (await execa('tar', ['-xOf', '-'], { input: containerPasswd })).stdout + '\n', via);
    t.regex(fs.readFileSync(path.join(out, 'pw'), 'utf8'), /^www-data:x:33:33:/m);
  }
  // A link to /etc copied into a DEST directory stays a link; nothing is written into the host's /etc.
  const link = await roost.roost(['cp', 'files-esc:/etclink', out]);
  t.is(link.exitCode, 0, link.stderr);
  t.is(fs.readlinkSync(path.join(out, 'etclink')), '/etc');
  t.false(fs.existsSync(`/etc/${marker}`));
  // With -L the container's /etc arrives, as a directory named after the link.
  const followed = await roost.roost(['cp', '-L', 'files-esc:/etclink', path.join(out, 'followed')]);
  t.is(followed.exitCode, 0, followed.stderr);
  t.is(fs.readFileSync(path.join(out, 'followed', marker), 'utf8'), 'container\n');
  t.false(fs.existsSync(`/etc/${marker}`));
  // Copying into the container through its links lands inside it.
  fs.writeFileSync(path.join(out, 'intruder'), 'x');
  const into = await roost.roost(['cp', path.join(out, 'intruder'), 'files-esc:/escape/tmp/']);
  t.is(into.exitCode, 0, into.stderr);
  t.false(fs.existsSync('/tmp/intruder'));
  const inside = await roostRaw(roost, ['cp', 'files-esc:/tmp/intruder', '-']);
  t.is(inside.exitCode, 0, Buffer.from(inside.stderr).toString());
  const loop = await roost.roost(['cp', 'files-esc:/loop1/x', out]);
  t.is(loop.exitCode, 1);
  t.regex(loop.stderr, /too many levels of symbolic links/);
});

e2e('a hostile archive put into a container is refused with a 400 and writes nothing outside', async (t) => {
  const { roost } = t.context;
  await preparedContainer(roost, 'files-hostile', 'mkdir -p /tmp/target');
  const dataDir = await containerDataDir(roost, 'files-hostile');
  const name = `evil-${randomBytes(4).toString('hex')}`;
  const cases: Array<[string, Entry[], RegExp]> = [
    ['traversal', [{ name: `../../${name}`, content: 'x' }], /escapes the target directory/],
    ['symlink escape', [{ name: 'link', type: 'symlink', linkname: '/' }, { name: `link/tmp/${name}`, content: 'x' }], /traverses a symlink/],
    ['hard link out', [{ name, type: 'link', linkname: '../../../../etc/passwd' }], /escapes the target directory/],
  ];
  for (const [what, entries, message] of cases) {
    const result = await roostRaw(roost, ['cp', '-', 'files-hostile:/tmp/target'], await makeTar(entries));
    t.is(result.exitCode, 1, what);
    t.regex(Buffer.from(result.stderr).toString(), message, what);
    t.is(Buffer.from(result.stderr).toString().trim().split('\n').length, 1, what);
  }
  for (const outside of [`/tmp/${name}`, path.join(dataDir, name), path.join(dataDir, 'rootfs', name), path.join(path.dirname(dataDir), name)]) {
    t.false(fs.existsSync(outside), outside);
  }
  const status = await execa('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', roost.socket, '-X', 'PUT', '--data-binary', '@-', 'http://roost/v1.44/containers/files-hostile/archive?path=/tmp/target'], { input: await makeTar(cases[0]![1]), reject: false });
  if (status.exitCode === 0) t.is(status.stdout, '400');
});

e2e('diff lists added, changed and deleted paths like Docker', async (t) => {
  const { roost } = t.context;
  await preparedContainer(roost, 'files-diff', 'touch /new && rm /etc/group && echo x >> /etc/passwd');
  const result = await roost.roost(['diff', 'files-diff']);
  t.is(result.exitCode, 0, result.stderr);
  t.is(result.stdout, 'C /etc\nD /etc/group\nC /etc/passwd\nA /new\n');
});

e2e('export writes the whole root filesystem as a tar', async (t) => {
  const { roost, work } = t.context;
  await preparedContainer(roost, 'files-export', 'echo exported > /exported');
  const file = path.join(work, 'export.tar');
  const result = await roost.roost(['export', '-o', file, 'files-export']);
  t.is(result.exitCode, 0, result.stderr);
  const names = await tarNames(fs.readFileSync(file));
  t.true(names.includes('bin/busybox'));
  t.true(names.includes('exported'));
  t.false(names.some((n) => n.startsWith('/') || n.startsWith('../')));
  const piped = await roostRaw(roost, ['export', 'files-export']);
  t.true((await tarNames(piped.stdout)).includes('bin/busybox'));
});

e2eDocker('the docker CLI copies in and out, diffs and exports through Roost\'s socket', async (t) => {
  const { roost, work } = t.context;
  await preparedContainer(roost, 'files-docker', 'mkdir /data && echo inside > /data/f && rm /etc/group');
  const out = path.join(work, 'docker-out');
  fs.mkdirSync(out);
  const cpOut = await roost.docker(['cp', 'files-docker:/data', out]);
  t.is(cpOut.exitCode, 0, cpOut.stderr);
  t.is(fs.readFileSync(path.join(out, 'data', 'f'), 'utf8'), 'inside\n');
  fs.writeFileSync(path.join(work, 'docker-in'), 'from docker\n');
  const cpIn = await roost.docker(['cp', path.join(work, 'docker-in'), 'files-docker:/data/']);
  t.is(cpIn.exitCode, 0, cpIn.stderr);
  const back = await roostRaw(roost, ['cp', 'files-docker:/data/docker-in', '-']);
  t.is((await execa('tar', ['-xOf', '-'], { input: back.stdout })).stdout, 'from docker');
  const missing = await roost.docker(['cp', 'files-docker:/nope', out]);
  t.is(missing.exitCode, 1);
  t.regex(missing.stderr, /Could not find the file \/nope in container files-docker/);
  const diff = await roost.docker(['diff', 'files-docker']);
  t.is(diff.exitCode, 0, diff.stderr);
  t.is(diff.stdout, 'A /data\nA /data/docker-in\nA /data/f\nC /etc\nD /etc/group\n');
  const exported = path.join(work, 'docker-export.tar');
  const exp = await roost.docker(['export', '-o', exported, 'files-docker']);
  t.is(exp.exitCode, 0, exp.stderr);
  t.true((await tarNames(fs.readFileSync(exported))).includes('bin/busybox'));
});
