import anyTest, { type TestFn } from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import tar from 'tar-stream';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';
import { TarScanJs } from '../../src/wasm/tar-scan-js.js';
import { scanTar } from '../../src/wasm/tar-scanner.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: volumes (skipped)', (t) => { t.log(skip); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('volumes');
  if (!skip) await t.context.roost.loadBusybox(t as never);
});
test.after.always(async (t) => { await t.context.roost?.destroy(); });

e2e('data in a named volume outlives the container that wrote it (the postgres-like flow)', async (t) => {
  const { roost } = t.context;
  t.is((await roost.roost(['volume', 'create', '--label', 'app=db', 'pgdata'])).stdout, 'pgdata\n');
  const write = await roost.roost(['run', '--name', 'db1', '-v', 'pgdata:/var/lib/data', 'busybox', 'sh', '-c', 'echo "row 1" > /var/lib/data/table; chown 33:33 /var/lib/data/table']);
  t.is(write.exitCode, 0, write.stderr);
  const inUse = await roost.roost(['volume', 'rm', 'pgdata']);
  t.is(inUse.exitCode, 125);
  t.regex(inUse.stderr, /volume is in use/);
  t.is((await roost.roost(['rm', 'db1'])).exitCode, 0);
  const read = await roost.roost(['run', '--rm', '-v', 'pgdata:/data:ro', 'busybox', 'sh', '-c', 'cat /data/table; stat -c %u:%g /data/table; touch /data/x 2>&1 | grep -c "Read-only"']);
  t.is(read.stdout, 'row 1\n33:33\n1\n', read.stderr);
  const inspect = await roost.roost(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{index .Labels "app"}}', 'pgdata']);
  t.is(inspect.stdout, 'pgdata local db\n');
  t.is((await roost.roost(['volume', 'ls', '-q', '--filter', 'label=app=db'])).stdout, 'pgdata\n');
  t.is((await roost.roost(['volume', 'rm', 'pgdata'])).exitCode, 0);
  const gone = await roost.roost(['volume', 'inspect', 'pgdata']);
  t.is(gone.exitCode, 1);
  t.regex(gone.stderr, /no such volume/);
});

e2e('a new volume is filled with the image\'s content; anonymous volumes go with rm -v and --rm', async (t) => {
  const { roost } = t.context;
  const copied = await roost.roost(['run', '--rm', '-v', 'web:/var/www', 'busybox', 'cat', '/var/www/index.html']);
  t.is(copied.stdout, '<h1>hello from roost</h1>\n', copied.stderr);
  await roost.roost(['create', '--name', 'anon', '-v', '/scratch', 'busybox', 'true']);
  const name = (await roost.roost(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', 'anon'])).stdout.trim();
  t.regex(name, /^[0-9a-f]{64}$/);
  t.is((await roost.roost(['volume', 'inspect', '-f', '{{.Name}}', name])).exitCode, 0);
  t.is((await roost.roost(['rm', '-v', 'anon'])).exitCode, 0);
  t.is((await roost.roost(['volume', 'inspect', name])).exitCode, 1, 'rm -v removed the anonymous volume');
  t.is((await roost.roost(['run', '--rm', '-v', '/scratch2', 'busybox', 'true'])).exitCode, 0);
  t.is((await roost.roost(['volume', 'ls', '-q'])).stdout, 'web\n', 'named volumes stay, --rm took its anonymous one');
  await roost.roost(['volume', 'rm', 'web']);
});

e2e('bind mounts: -v and --mount, read-only, a missing -v source is created, bad specs are one line and 125', async (t) => {
  const { roost } = t.context;
  const host = path.join(roost.base, 'project');
  fs.mkdirSync(host);
  fs.writeFileSync(path.join(host, 'input.txt'), 'from the host\n');
  const rw = await roost.roost(['run', '--rm', '-v', `${host}:/work`, 'busybox', 'sh', '-c', 'cat /work/input.txt; echo out > /work/output.txt']);
  t.is(rw.stdout, 'from the host\n', rw.stderr);
  t.is(fs.readFileSync(path.join(host, 'output.txt'), 'utf8'), 'out\n');
  t.is(fs.statSync(path.join(host, 'output.txt')).uid, process.getuid!(), 'written by container root: owned by the user on the host');
  const ro = await roost.roost(['run', '--rm', '--mount', `type=bind,source=${host},target=/work,readonly`, 'busybox', 'sh', '-c', 'touch /work/nope']);
  t.not(ro.exitCode, 0);
  t.false(fs.existsSync(path.join(host, 'nope')));
  const created = path.join(roost.base, 'made-by-v');
  t.is((await roost.roost(['run', '--rm', '-v', `${created}:/m`, 'busybox', 'true'])).exitCode, 0);
  t.true(fs.statSync(created).isDirectory());
  const tmpfs = await roost.roost(['run', '--rm', '--tmpfs', '/scratch:size=1m', 'busybox', 'sh', '-c', 'df -k /scratch | tail -1']);
  t.regex(tmpfs.stdout, /^tmpfs\s+1024\s/);
  const cases: Array<[string[], RegExp]> = [
    [['-v', 'relative/path:/x'], /host path must be absolute/],
    [['-v', `${host}:relative`], /container path must be absolute/],
    [['-v', `${host}:/x:bogus`], /invalid mode: bogus/],
    [['--mount', `type=bind,source=${path.join(roost.base, 'missing')},target=/x`], /bind source path does not exist/],
    [['--mount', 'type=volume,target=/x,colour=blue'], /unexpected key 'colour'/],
    [['--mount', 'type=nfs,target=/x'], /mount type "nfs" is not supported/],
    [['-v', 'aa:/same', '-v', 'bb:/same'], /Duplicate mount point: \/same/],
    [['-v', 'a:/x'], /invalid volume name "a"/],
    [['-v', '/root:/x'], /cannot bind \/root: permission denied/],
  ];
  for (const [flags, pattern] of cases) {
    const result = await roost.roost(['run', '--rm', ...flags, 'busybox', 'true']);
    t.is(result.exitCode, 125, `${flags.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, pattern, flags.join(' '));
  }
  t.is((await roost.roost(['volume', 'ls', '-q'])).stdout, '', 'a refused create left no volume behind');
});

e2e('--volumes-from, volume prune and the docker CLI\'s -v and volume commands', async (t) => {
  const { roost } = t.context;
  await roost.roost(['create', '--name', 'source', '-v', 'shared:/shared', 'busybox', 'true']);
  const from = await roost.roost(['run', '--rm', '--volumes-from', 'source:ro', 'busybox', 'sh', '-c', 'mount | grep -c " /shared .*ro,"']);
  t.is(from.stdout, '1\n', from.stderr);
  await roost.roost(['rm', 'source']);
  await roost.roost(['create', '--name', 'anon2', '-v', '/tmp/anon', 'busybox', 'true']);
  await roost.roost(['rm', 'anon2']);
  const pruned = await roost.roost(['volume', 'prune', '-f']);
  t.regex(pruned.stdout, /^Deleted Volumes:\n[0-9a-f]{64}\n$/, 'only the anonymous volume');
  t.is((await roost.roost(['volume', 'prune', '-a', '-f'])).stdout, 'Deleted Volumes:\nshared\n');
  t.is((await roost.docker(['volume', 'create', 'dk'])).stdout, 'dk\n');
  const run = await roost.docker(['run', '--rm', '-v', 'dk:/d', 'busybox', 'sh', '-c', 'echo docker > /d/f']);
  t.is(run.exitCode, 0, run.stderr);
  t.is((await roost.docker(['run', '--rm', '--mount', 'source=dk,target=/d', 'busybox', 'cat', '/d/f'])).stdout, 'docker\n');
  t.regex((await roost.docker(['volume', 'ls'])).stdout, /local\s+dk/);
  t.is((await roost.docker(['volume', 'rm', 'dk'])).exitCode, 0);
});

e2e('files a container wrote as another user can be fixed from roost unshare', async (t) => {
  const { roost } = t.context;
  await roost.roost(['volume', 'create', 'owned']);
  await roost.roost(['run', '--rm', '-v', 'owned:/d', 'busybox', 'sh', '-c', 'mkdir /d/sub && touch /d/sub/x && chown -R 33:33 /d/sub']);
  const data = path.join(roost.env.XDG_DATA_HOME!, 'roost', 'volumes', 'owned', '_data');
  t.not(fs.statSync(path.join(data, 'sub')).uid, process.getuid!(), 'owned by a subordinate id on the host');
  t.throws(() => fs.rmSync(path.join(data, 'sub', 'x')), undefined, 'the user cannot remove it directly');
  const inside = await roost.roost(['unshare', 'sh', '-c', `stat -c %u ${data}/sub; rm -r ${data}/sub && echo removed`]);
  t.is(inside.stdout, '33\nremoved\n', inside.stderr);
  t.false(fs.existsSync(path.join(data, 'sub')));
  await roost.roost(['volume', 'rm', 'owned']);
});

e2e('--userns=keep-id: your own uid inside, and what it writes to a bind mount is yours on the host', async (t) => {
  const { roost } = t.context;
  const host = path.join(roost.base, 'home-folder');
  fs.mkdirSync(host);
  const uid = process.getuid!();
  const gid = process.getgid!();
  const run = await roost.roost(['run', '--rm', '--userns=keep-id', '-v', `${host}:/work`, 'busybox', 'sh', '-c', 'id -u; id -g; mkdir /work/dir; echo mine > /work/dir/file']);
  t.is(run.stdout, `${uid}\n${gid}\n`, run.stderr);
  const file = path.join(host, 'dir', 'file');
  t.is(fs.statSync(file).uid, uid);
  t.is(fs.statSync(path.join(host, 'dir')).gid, gid);
  fs.rmSync(path.join(host, 'dir'), { recursive: true });
  t.false(fs.existsSync(file), 'removable without root');
  await roost.roost(['run', '-d', '--name', 'kid', '--userns=keep-id', 'busybox', 'sleep', '300']);
  t.is((await roost.roost(['exec', 'kid', 'id', '-u'])).stdout, `${uid}\n`, 'exec runs as the same user');
  await roost.roost(['rm', '-f', 'kid']);
  const bad = await roost.roost(['run', '--rm', '--userns=nope', 'busybox', 'true']);
  t.is(bad.exitCode, 125);
  t.regex(bad.stderr, /invalid --userns "nope"/);
});

e2e('--userns=keep-id: image files show the owners they have without it, and the container\'s own files are stored as its uid', async (t) => {
  const { roost } = t.context;
  const uid = process.getuid!();
  const gid = process.getgid!();
  // Root's files, and files of the ids the keep-id mapping moves around: below, at and above the user's own.
  const made = await roost.roost(['run', '--name', 'owners', 'busybox', 'sh', '-c',
    `mkdir /d && cd /d && touch a b c e && chown 33:34 a && chown ${uid}:${gid} b && chown ${uid - 1}:${gid - 1} c && chown ${uid + 1}:${gid + 1} e`]);
  t.is(made.exitCode, 0, made.stderr);
  t.is((await roost.roost(['commit', 'owners', 'owners:1'])).exitCode, 0);
  const show = ['sh', '-c', 'stat -c "%n %u:%g" / /bin/busybox /etc/passwd /tmp /d/a /d/b /d/c /d/e'];
  const plain = await roost.roost(['run', '--rm', 'owners:1', ...show]);
  t.is(plain.stdout, `/ 0:0\n/bin/busybox 0:0\n/etc/passwd 0:0\n/tmp 0:0\n/d/a 33:34\n/d/b ${uid}:${gid}\n/d/c ${uid - 1}:${gid - 1}\n/d/e ${uid + 1}:${gid + 1}\n`, plain.stderr);
  const kept = await roost.roost(['run', '--rm', '--userns=keep-id', 'owners:1', ...show]);
  t.is(kept.stdout, plain.stdout, kept.stderr);
  // What the keep-id container writes is stored as its uid, so an image committed from it has that owner.
  const wrote = await roost.roost(['run', '--name', 'writer', '--userns=keep-id', 'owners:1', 'sh', '-c', 'echo mine > /tmp/mine && stat -c "%u:%g" /tmp/mine']);
  t.is(wrote.stdout, `${uid}:${gid}\n`, wrote.stderr);
  t.is((await roost.roost(['commit', 'writer', 'owners:2'])).exitCode, 0);
  t.is((await roost.roost(['run', '--rm', 'owners:2', 'stat', '-c', '%u:%g', '/tmp/mine'])).stdout, `${uid}:${gid}\n`);

  // Archives carry owners as the container sees them: cp out and in (the archive API), and export.
  await roost.roost(['run', '-d', '--name', 'kidfiles', '--userns=keep-id', 'owners:1', 'sleep', '300']);
  const owners = (archive: Buffer) => scanTar(new TarScanJs(), archive).map((r) => `${r.name} ${r.uid}:${r.gid}`);
  const copied = await socketRequest(roost, 'GET', '/containers/kidfiles/archive?path=/d');
  t.deepEqual(owners(copied), ['d 0:0', 'd/a 33:34', `d/b ${uid}:${gid}`, `d/c ${uid - 1}:${gid - 1}`, `d/e ${uid + 1}:${gid + 1}`]);
  const exported = path.join(roost.base, 'kid-export.tar');
  t.is((await roost.roost(['export', '-o', exported, 'kidfiles'])).exitCode, 0);
  t.deepEqual(owners(fs.readFileSync(exported)).filter((o) => /^(bin\/busybox|etc\/passwd|d\/a) /.test(o)), ['bin/busybox 0:0', 'd/a 33:34', 'etc/passwd 0:0']);
  const pack = tar.pack();
  pack.entry({ name: 'put', uid: 33, gid: 34, mode: 0o644 }, 'in');
  pack.entry({ name: 'rootfile', uid: 0, gid: 0, mode: 0o644 }, 'in');
  pack.finalize();
  const body: Buffer[] = [];
  for await (const chunk of pack) body.push(chunk as Buffer);
  await socketRequest(roost, 'PUT', '/containers/kidfiles/archive?path=/tmp', Buffer.concat(body));
  t.is((await roost.roost(['exec', 'kidfiles', 'stat', '-c', '%n %u:%g', '/tmp/put', '/tmp/rootfile'])).stdout, '/tmp/put 33:34\n/tmp/rootfile 0:0\n');
  await roost.roost(['rm', '-f', 'owners', 'writer', 'kidfiles']);
  await roost.roost(['rmi', 'owners:1', 'owners:2']);
});

e2e('--mount volume-opt makes a tmpfs volume; volume create -o type=none,o=bind,device= binds a host dir', async (t) => {
  const { roost } = t.context;
  const tmpfs = await roost.roost(['run', '--rm', '--mount', 'type=volume,source=ram,target=/ram,volume-opt=type=tmpfs,volume-opt=o=size=2m', 'busybox', 'sh', '-c', 'df -k /ram | tail -1']);
  t.regex(tmpfs.stdout, /^tmpfs\s+2048\s/, tmpfs.stderr);
  t.is((await roost.roost(['volume', 'inspect', '-f', '{{.Options.type}}', 'ram'])).stdout, 'tmpfs\n');
  const dir = path.join(roost.base, 'device-dir');
  fs.mkdirSync(dir);
  t.is((await roost.roost(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${dir}`, 'bound'])).exitCode, 0);
  t.is((await roost.roost(['run', '--rm', '-v', 'bound:/b', 'busybox', 'sh', '-c', 'echo through > /b/f'])).exitCode, 0);
  t.is(fs.readFileSync(path.join(dir, 'f'), 'utf8'), 'through\n');
  const bad = await roost.roost(['volume', 'create', '-o', 'type=nfs', 'nope']);
  t.is(bad.exitCode, 125);
  t.regex(bad.stderr, /not supported rootless/);
  await roost.roost(['volume', 'rm', 'ram', 'bound']);
  t.true(fs.existsSync(path.join(dir, 'f')), 'removing a bind volume leaves the device directory alone');
});

/** One request to the engine's socket; the body of a 2xx answer, else a failure with the answer. */
function socketRequest(roost: RoostEnv, method: string, requestPath: string, body?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: roost.socket, method, path: requestPath, headers: body ? { 'Content-Type': 'application/x-tar' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const answer = Buffer.concat(chunks);
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${requestPath}: ${res.statusCode} ${answer.toString()}`));
        else resolve(answer);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
