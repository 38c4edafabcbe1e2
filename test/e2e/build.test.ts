import anyTest, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { e2eUnavailable, roostBin, RoostEnv } from '../helpers/roost-env.js';

const skip = e2eUnavailable();
const test = anyTest as TestFn<{ roost: RoostEnv; context: string }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: build (skipped)', (t) => { t.log(skip); t.pass(); });

const multiStage = `# syntax and comments are fine
ARG BASE=busybox
FROM \${BASE} AS build
ARG GREETING=hello
ENV APP_HOME=/opt/app
WORKDIR $APP_HOME
COPY src/ ./src/
RUN mkdir -p out && cat src/*.txt > out/all.txt \\
 && echo "\${GREETING:-nobody} from build" >> out/all.txt
RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/runs; wc -l < /cache/runs > /opt/app/out/runs'

FROM busybox
LABEL org.example.app="demo" version=1
COPY --from=build /opt/app/out /app
COPY --chown=33:33 src/a.txt /app/owned.txt
USER 33
WORKDIR /app
EXPOSE 8080
HEALTHCHECK --interval=5s CMD test -e /app/all.txt
ENTRYPOINT ["cat"]
CMD ["/app/all.txt"]
`;

test.before(async (t) => {
  t.context.roost = new RoostEnv('build');
  if (skip) return;
  await t.context.roost.loadBusybox(t as never);
  const dir = path.join(t.context.roost.base, 'context');
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', 'a.txt'), 'one\n');
  fs.writeFileSync(path.join(dir, 'src', 'b.txt'), 'two\n');
  fs.writeFileSync(path.join(dir, 'Dockerfile'), multiStage);
  t.context.context = dir;
});
test.after.always(async (t) => { await t.context.roost?.destroy(); });

e2e('a multi-stage build (ARG, ENV, COPY --from, RUN --mount=type=cache, USER, WORKDIR, HEALTHCHECK, ENTRYPOINT + CMD) runs as built', async (t) => {
  const { roost, context } = t.context;
  const build = await roost.roost(['build', '-t', 'app', '--build-arg', 'GREETING=hi', context]);
  t.is(build.exitCode, 0, build.stderr);
  t.regex(build.stdout, /Step 1\/18 : ARG BASE=busybox\n/);
  t.regex(build.stdout, /Successfully built [a-f0-9]{12}\nSuccessfully tagged app:latest\n$/);
  t.is((await roost.roost(['run', '--rm', 'app'])).stdout, 'one\ntwo\nhi from build\n');
  t.is((await roost.roost(['run', '--rm', '--entrypoint', 'sh', 'app', '-c', 'id -u; pwd; stat -c "%u:%g %n" /app/all.txt /app/owned.txt'])).stdout,
    '33\n/app\n0:0 /app/all.txt\n33:33 /app/owned.txt\n');
  const config = JSON.parse((await roost.roost(['image', 'inspect', '-f', '{{json .Config}}', 'app'])).stdout);
  t.like(config, {
    User: '33', WorkingDir: '/app', Entrypoint: ['cat'], Cmd: ['/app/all.txt'], ExposedPorts: { '8080/tcp': {} },
    Labels: { 'org.example.app': 'demo', version: '1' }, Healthcheck: { Test: ['CMD-SHELL', 'test -e /app/all.txt'], Interval: 5e9 },
  });
  const history = (await roost.roost(['history', '-q', 'app'])).stdout.trim().split('\n');
  t.is(history.length, 10, 'the base image\'s one entry, then one per instruction of the final stage (9)');
  t.is((await roost.roost(['images', '-q', '--filter', 'dangling=true'])).stdout, '', 'no intermediate images left');
  // The cache mount outlives the build: a second build sees the first one's run.
  await roost.roost(['build', '-q', '-t', 'app:2', context]);
  t.is((await roost.roost(['run', '--rm', 'app:2', '/app/runs'])).stdout, '2\n');
});

e2e('the docker CLI builds the same Dockerfile through the socket', async (t) => {
  const { roost, context } = t.context;
  const build = await roost.docker(['build', '-t', 'by-docker', '--build-arg', 'GREETING=hi', context]);
  t.is(build.exitCode, 0, build.stderr);
  t.regex(build.stdout, /Successfully tagged by-docker:latest/);
  t.is((await roost.docker(['run', '--rm', 'by-docker'])).stdout, 'one\ntwo\nhi from build\n');
  const ours = (await roost.roost(['image', 'inspect', '-f', '{{json .Config}}', 'app'])).stdout;
  t.is((await roost.roost(['image', 'inspect', '-f', '{{json .Config}}', 'by-docker'])).stdout, ours, 'the same config');
});

e2e('FROM scratch with COPY --from an image; a Dockerfile on stdin', async (t) => {
  const { roost } = t.context;
  const dockerfile = 'FROM scratch\nCOPY --from=busybox /bin/busybox /busybox\nENTRYPOINT ["/busybox", "echo", "from scratch"]\n';
  const build = await roost.roost(['build', '-q', '-t', 'tiny', '-'], { input: dockerfile });
  t.regex(build.stdout, /^sha256:[a-f0-9]{64}\n$/, build.stderr);
  t.is((await roost.roost(['run', '--rm', 'tiny'])).stdout, 'from scratch\n');
});

e2e('COPY --chown: the directories it creates for the destination are the new owner\'s, existing ones keep theirs', async (t) => {
  const { roost, context } = t.context;
  const file = path.join(context, 'Dockerfile.chown');
  fs.writeFileSync(file, 'FROM busybox\nCOPY --chown=1000:1000 src/a.txt /new/deep/\nCOPY --chown=7:7 src/b.txt /etc/b.txt\n');
  const build = await roost.roost(['build', '-q', '-t', 'chown-dirs', '-f', file, context]);
  t.is(build.exitCode, 0, build.stderr);
  t.is((await roost.roost(['run', '--rm', 'chown-dirs', 'stat', '-c', '%u:%g %a %n', '/new', '/new/deep', '/new/deep/a.txt', '/etc', '/etc/b.txt'])).stdout,
    '1000:1000 755 /new\n1000:1000 755 /new/deep\n1000:1000 644 /new/deep/a.txt\n0:0 755 /etc\n7:7 644 /etc/b.txt\n');
});

e2e('bad Dockerfiles and failing steps: one line with the file and line, no image, nothing left behind', async (t) => {
  const { roost } = t.context;
  const before = (await roost.roost(['images', '-aq'])).stdout;
  // As with docker build, a failed build exits 1.
  const cases: Array<[string, RegExp, number]> = [
    ['FROM busybox\nRUNN x\n', /^roost: Dockerfile:2: unknown instruction: RUNN$/m, 1],
    ['FROM busybox\nRUN echo last words; exit 3\n', /^roost: Dockerfile:2: The command '\/bin\/sh -c echo last words; exit 3' returned a non-zero code: 3$/m, 1],
    ['FROM busybox\nCOPY missing.txt /x\n', /Dockerfile:2: COPY failed: file not found in build context: missing.txt/, 1],
    ['FROM busybox\nCOPY ../outside /x\n', /Dockerfile:2: forbidden path outside the build context/, 1],
    ['FROM busybox\nCOPY --frm=x a b\n', /Dockerfile:2: unknown flag: --frm for COPY/, 1],
    ['RUN true\n', /no FROM instruction|RUN before the first FROM/, 1],
    ['FROM busybox\nCOPY --from=nowhere /a /b\n', /docker\.io is blocked|No such image|not found/, 1],
  ];
  for (const [dockerfile, pattern, code] of cases) {
    const result = await roost.roost(['build', '-'], { input: dockerfile });
    t.is(result.exitCode, code, `${dockerfile}: ${result.stderr}`);
    t.regex(result.stderr, pattern, dockerfile);
    t.notRegex(result.stderr, /\n\s+at /, 'no stack trace');
  }
  const failing = await roost.roost(['build', '-'], { input: 'FROM busybox\nRUN echo last words; exit 3\n' });
  t.regex(failing.stdout, /last words\n/, 'the step\'s output is shown');
  t.is((await roost.roost(['images', '-aq'])).stdout, before, 'no image was added');
  t.is((await roost.roost(['ps', '-aq'])).stdout, '', 'no build container was left');
});

e2e('the build cache: an unchanged rebuild reuses every step and gives the same image; a changed file reruns from its COPY; builder prune forgets', async (t) => {
  const { roost } = t.context;
  const dir = path.join(roost.base, 'cached');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo step1 > /one\nCOPY data.txt /data.txt\nRUN cat /data.txt > /two\nCMD ["cat", "/two"]\n');
  fs.writeFileSync(path.join(dir, 'data.txt'), 'v1\n');
  const first = await roost.roost(['build', '-q', '-t', 'cached:1', dir]);
  const again = await roost.roost(['build', '-t', 'cached:2', dir]);
  t.is((again.stdout.match(/Using cache/g) ?? []).length, 3, again.stdout);
  t.is((await roost.roost(['images', '-q', '--no-trunc', 'cached:2'])).stdout, first.stdout, 'the same image ID');
  // Only content counts: touching the file changes nothing, changing it reruns COPY and what follows.
  fs.utimesSync(path.join(dir, 'data.txt'), new Date(), new Date(Date.now() + 60_000));
  t.is((await roost.roost(['build', '-q', dir])).stdout, first.stdout, 'a new mtime alone keeps the cache');
  fs.writeFileSync(path.join(dir, 'data.txt'), 'v2\n');
  const changed = await roost.roost(['build', '-t', 'cached:3', dir]);
  t.is((changed.stdout.match(/Using cache/g) ?? []).length, 1, 'only the RUN before the COPY');
  t.is((await roost.roost(['run', '--rm', 'cached:3'])).stdout, 'v2\n');
  const noCache = await roost.roost(['build', '--no-cache', '-t', 'cached:4', dir]);
  t.notRegex(noCache.stdout, /Using cache/);
  const prune = await roost.roost(['builder', 'prune', '-f']);
  t.regex(prune.stdout, /Total reclaimed space: /);
  t.is((await roost.roost(['run', '--rm', 'cached:3'])).stdout, 'v2\n', 'tagged images stay');
  const after = await roost.roost(['build', '-t', 'cached:5', dir]);
  t.notRegex(after.stdout, /Using cache/, 'nothing cached after the prune');
});

e2e('.dockerignore leaves files out of the context, exceptions bring them back', async (t) => {
  const { roost } = t.context;
  const dir = path.join(roost.base, 'ignoring');
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY . /ctx\nCMD ["find", "/ctx", "-type", "f"]\n');
  fs.writeFileSync(path.join(dir, '.dockerignore'), 'secret.txt\nlogs\n!logs/keep.log\n');
  for (const f of ['app.txt', 'secret.txt', 'logs/debug.log', 'logs/keep.log']) fs.writeFileSync(path.join(dir, f), f);
  t.is((await roost.roost(['build', '-q', '-t', 'ignoring', dir])).exitCode, 0);
  const files = (await roost.roost(['run', '--rm', 'ignoring'])).stdout.trim().split('\n').sort();
  t.deepEqual(files, ['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/app.txt', '/ctx/logs/keep.log']);
});

/** A context directory under the test's base with the given files. */
function contextWith(roost: RoostEnv, name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(roost.base, name);
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

e2e('the build cache follows what a step reads from the context: changed, re-moded, added or removed files miss and reach the image; ignored and unread files do not; symlinks resolve inside the context', async (t) => {
  const { roost } = t.context;
  const dir = contextWith(roost, 'tree-cache', {
    Dockerfile: [
      'FROM busybox',
      'COPY deps/ /deps/',
      'RUN echo built > /stamp',
      'COPY link/ /linked/',
      'RUN --mount=type=bind,source=app,target=/mnt cat /mnt/main.txt > /from-mount',
      'COPY app /app',
    ].join('\n') + '\n',
    '.dockerignore': 'deps/ignored.log\n',
    'deps/a/one.txt': 'one\n', 'deps/a/two.txt': 'two\n', 'deps/ignored.log': 'log\n', 'app/main.txt': 'main\n', 'other/o.txt': 'o\n',
  });
  // An absolute link: /deps/a of the context, never the host's /deps.
  fs.symlinkSync('/deps/a', path.join(dir, 'link'));
  const hits = async () => {
    const r = await roost.roost(['build', '-t', 'tree-cache', dir]);
    t.is(r.exitCode, 0, r.stderr);
    return (r.stdout.match(/Using cache/g) ?? []).length;
  };
  const inImage = async (script: string) => (await roost.roost(['run', '--rm', 'tree-cache', 'sh', '-c', script])).stdout;
  t.is(await hits(), 0);
  t.is(await inImage('cat /deps/a/one.txt /linked/two.txt /from-mount /app/main.txt; test -e /deps/ignored.log || echo no-log'), 'one\ntwo\nmain\nmain\nno-log\n');
  t.is(await hits(), 5, 'unchanged: every step from the cache');
  fs.writeFileSync(path.join(dir, 'deps/ignored.log'), 'changed\n');
  fs.writeFileSync(path.join(dir, 'other/o.txt'), 'changed\n');
  t.is(await hits(), 5, 'an ignored file and a file no step reads change nothing');
  fs.chmodSync(path.join(dir, 'deps/a/two.txt'), 0o755);
  t.is(await hits(), 0, 'a new mode misses from its COPY on');
  t.is(await inImage('stat -c %a /deps/a/two.txt /linked/two.txt'), '755\n755\n');
  fs.writeFileSync(path.join(dir, 'deps/a/three.txt'), 'three\n');
  t.is(await hits(), 0, 'an added file misses');
  t.is(await inImage('cat /deps/a/three.txt /linked/three.txt'), 'three\nthree\n');
  fs.rmSync(path.join(dir, 'deps/a/one.txt'));
  t.is(await hits(), 0, 'a removed file misses');
  t.is(await inImage('ls /deps/a /linked'), '/deps/a:\nthree.txt\ntwo.txt\n\n/linked:\nthree.txt\ntwo.txt\n');
  fs.writeFileSync(path.join(dir, 'deps/a/two.txt'), 'TWO\n');
  t.is(await hits(), 0, 'changed content misses');
  t.is(await inImage('cat /deps/a/two.txt /linked/two.txt'), 'TWO\nTWO\n');
  fs.writeFileSync(path.join(dir, 'app/main.txt'), 'MAIN\n');
  t.is(await hits(), 3, 'a file only the bind mount and the last COPY read: the steps before them hit');
  t.is(await inImage('cat /from-mount /app/main.txt'), 'MAIN\nMAIN\n');
  // A link out of the context names nothing in it.
  fs.symlinkSync('/etc', path.join(dir, 'out'));
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY out/passwd /p\n');
  const escaped = await roost.roost(['build', dir]);
  t.is(escaped.exitCode, 1);
  t.is(escaped.stderr, 'roost: Dockerfile:2: COPY failed: file not found in build context: out/passwd\n');
});

e2e('COPY globs and --chmod read the context as sent: matches in name order, through a symlinked directory, modes set; no match is one line', async (t) => {
  const { roost } = t.context;
  const dir = contextWith(roost, 'globs', {
    Dockerfile: 'FROM busybox\nCOPY --chmod=0640 src/*.txt /g/\nCOPY lnk/b?.md /m/\nCOPY --chown=7:8 src /s\n',
    'src/a.txt': 'a\n', 'src/b.txt': 'b\n', 'src/c.md': 'c\n', 'docs/b1.md': 'b1\n', 'docs/b22.md': 'b22\n',
  });
  fs.symlinkSync('docs', path.join(dir, 'lnk'));
  const built = await roost.roost(['build', '-q', '-t', 'globs', dir]);
  t.is(built.exitCode, 0, built.stderr);
  t.is((await roost.roost(['run', '--rm', 'globs', 'sh', '-c', 'cd /g && stat -c "%n %a %u" *; ls /m; stat -c "%n %u:%g" /s /s/c.md'])).stdout,
    'a.txt 640 0\nb.txt 640 0\nb1.md\n/s 7:8\n/s/c.md 7:8\n');
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY src/*.none /x/\n');
  const none = await roost.roost(['build', dir]);
  t.is(none.exitCode, 1);
  t.is(none.stderr, 'roost: Dockerfile:2: COPY failed: no source files were specified by src/*.none\n');
});

e2e('hostile context tars: an entry or hard link out of the context, or a Dockerfile linked out of it, is one line and builds nothing', async (t) => {
  const { roost } = t.context;
  const { pack } = await import('tar-stream');
  const tarOf = async (entries: Array<{ name: string; type?: 'file' | 'link' | 'symlink'; linkname?: string; content?: string }>) => {
    const p = pack();
    for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: 0o644 }, e.type && e.type !== 'file' ? undefined : e.content ?? '');
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of p) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const dockerfile = { name: 'Dockerfile', content: 'FROM busybox\nCOPY . /ctx\n' };
  const cases: Array<[Parameters<typeof tarOf>[0], string]> = [
    [[dockerfile, { name: '../../evil', content: 'x' }], 'roost: the build context is not a valid tar: entry "../../evil" escapes the context (tar header at byte 1024)\n'],
    [[dockerfile, { name: 'l', type: 'link', linkname: '../../../etc/passwd' }], 'roost: the build context is not a valid tar: hard link "l" points to "../../../etc/passwd", which escapes the context (tar header at byte 1024)\n'],
    [[{ name: 'Dockerfile', type: 'symlink', linkname: '/etc/passwd' }], 'roost: Cannot locate specified Dockerfile: Dockerfile\n'],
  ];
  for (const [entries, stderr] of cases) {
    const r = await roost.roost(['build', '-q', '-'], { input: await tarOf(entries) });
    t.is(r.exitCode, 1);
    t.is(r.stderr, stderr);
  }
  // A relative link that climbs above the context stops at its root, as a path in a container does.
  const r = await roost.roost(['build', '-q', '-t', 'climb', '-'], { input: await tarOf([{ name: 'Dockerfile', content: 'FROM busybox\nCOPY up/a.txt /a.txt\n' }, { name: 'a.txt', content: 'inside\n' }, { name: 'up', type: 'symlink', linkname: '../../..' }]) });
  t.is(r.exitCode, 0, r.stderr);
  t.is((await roost.roost(['run', '--rm', 'climb', 'cat', '/a.txt'])).stdout, 'inside\n');
});

e2e('heredocs: RUN bodies and #! scripts, heredocs the shell reads, COPY <<EOF with expansion, <<- and quoted delimiters', async (t) => {
  const { roost } = t.context;
  const dir = contextWith(roost, 'heredocs', {
    Dockerfile: [
      'FROM busybox',
      'ARG NAME=world',
      'RUN <<EOF',
      'echo "hello $NAME" > /greeting',
      'echo second line >> /greeting',
      'EOF',
      'RUN <<EOF',
      '#!/bin/sh',
      'echo "script $0" > /script-out',
      'EOF',
      "RUN cat <<'A' > /a && cat <<-B > /b",
      '$NAME unexpanded',
      'A',
      '\ttab stripped $NAME',
      '\tB',
      'COPY <<EOF /etc/app.conf',
      'name=${NAME}',
      'EOF',
      'COPY <<-"X" <<Y /multi/',
      '\traw $NAME',
      '\tX',
      'y=$NAME',
      'Y',
      '',
    ].join('\n'),
  });
  const build = await roost.roost(['build', '-t', 'heredocs', dir]);
  t.is(build.exitCode, 0, build.stderr + build.stdout);
  const out = await roost.roost(['run', '--rm', 'heredocs', 'sh', '-c', 'cat /greeting /script-out /a /b /etc/app.conf /multi/X /multi/Y; stat -c "%a %u" /etc/app.conf']);
  t.is(out.stdout, 'hello world\nsecond line\nscript /dev/pipes/EOF\n$NAME unexpanded\ntab stripped world\nname=world\nraw $NAME\ny=world\n644 0\n', out.stderr);
  // The docker CLI's classic builder sends the same Dockerfile through the socket: the same result.
  const byDocker = await roost.docker(['build', '-q', '-t', 'heredocs-docker', dir]);
  t.is(byDocker.exitCode, 0, byDocker.stderr);
  t.is((await roost.docker(['run', '--rm', 'heredocs-docker', 'cat', '/script-out', '/multi/Y'])).stdout, 'script /dev/pipes/EOF\ny=world\n');
  const bad = await roost.roost(['build', '-'], { input: 'FROM busybox\nRUN <<EOF\necho never ends\n' });
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /^roost: Dockerfile:2: unterminated heredoc <<EOF: no line "EOF" ends it$/m);
  t.notRegex(bad.stderr, /\n\s+at /);
});

e2e('ADD unpacks local tar archives (plain, gzip, bzip2, xz; by content, owners kept) and copies other files as they are', async (t) => {
  const { roost } = t.context;
  const dir = contextWith(roost, 'add-archives', {
    'tree/top.txt': 'top\n', 'tree/sub/deep.txt': 'deep\n',
    'fake.tar.gz': 'plain text with an archive name\n',
    Dockerfile: 'FROM busybox\nADD plain.tar /x/plain/\nADD app.gz /x/gz\nADD app.bz2 /x/bz\nADD app.xz /x/xz\nADD fake.tar.gz /x/\nADD --chown=7:8 app.gz /x/owned\n',
  });
  const { execFileSync } = await import('node:child_process');
  execFileSync('tar', ['--owner=5', '--group=6', '--numeric-owner', '-cf', path.join(dir, 'plain.tar'), '-C', path.join(dir, 'tree'), '.']);
  for (const [tool, name] of [['gzip', 'app.gz'], ['bzip2', 'app.bz2'], ['xz', 'app.xz']]) {
    fs.writeFileSync(path.join(dir, name!), execFileSync(tool!, ['-c', path.join(dir, 'plain.tar')]));
  }
  const build = await roost.roost(['build', '-t', 'add-archives', dir]);
  t.is(build.exitCode, 0, build.stderr + build.stdout);
  const listing = await roost.roost(['run', '--rm', 'add-archives', 'sh', '-c', 'cd /x && find . -type f | sort | xargs stat -c "%n %u:%g"; cat /x/fake.tar.gz']);
  t.is(listing.stdout, [
    './bz/sub/deep.txt 5:6', './bz/top.txt 5:6', './fake.tar.gz 0:0', './gz/sub/deep.txt 5:6', './gz/top.txt 5:6',
    './owned/sub/deep.txt 7:8', './owned/top.txt 7:8', './plain/sub/deep.txt 5:6', './plain/top.txt 5:6',
    './xz/sub/deep.txt 5:6', './xz/top.txt 5:6', 'plain text with an archive name', '',
  ].join('\n'), listing.stderr);
  t.is((await roost.roost(['run', '--rm', 'add-archives', 'cat', '/x/xz/sub/deep.txt'])).stdout, 'deep\n');
  // A damaged archive: one line with the Dockerfile line and the file, no image.
  const broken = contextWith(roost, 'add-broken', { Dockerfile: 'FROM busybox\nADD broken.tgz /x/\n', 'tree/big.bin': (await import('node:crypto')).randomBytes(200_000) });
  const whole = execFileSync('tar', ['-cz', '-C', path.join(broken, 'tree'), '.']);
  fs.writeFileSync(path.join(broken, 'broken.tgz'), whole.subarray(0, Math.floor(whole.length * 0.6)));
  const failed = await roost.roost(['build', broken]);
  t.is(failed.exitCode, 1);
  t.regex(failed.stderr, /^roost: Dockerfile:2: ADD broken\.tgz: \S.*$/m, failed.stderr);
  t.notRegex(failed.stderr, /\n\s+at /);
});

e2e('ADD of an http URL: downloaded, not unpacked, mode 600, mtime from Last-Modified, --checksum checked; errors name the line', async (t) => {
  const { roost } = t.context;
  const http = await import('node:http');
  const crypto = await import('node:crypto');
  const { execFileSync } = await import('node:child_process');
  const tree = contextWith(roost, 'url-tree', { 'in.txt': 'inside\n' });
  const archive = execFileSync('tar', ['-cz', '-C', tree, 'in.txt']);
  const body = Buffer.from('downloaded content\n');
  const lastModified = 'Wed, 21 Oct 2015 07:28:00 GMT';
  const server = http.createServer((req, res) => {
    if (req.url === '/files/data.txt') res.writeHead(200, { 'Last-Modified': lastModified }).end(body);
    else if (req.url === '/files/pack.tar.gz') res.writeHead(200).end(archive);
    else res.writeHead(404).end('no');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/files`;
  try {
    const sum = `sha256:${crypto.createHash('sha256').update(body).digest('hex')}`;
    const dir = contextWith(roost, 'add-url', {
      Dockerfile: `FROM busybox\nADD ${base}/data.txt /d/\nADD --checksum=${sum} ${base}/data.txt /d/checked.txt\nADD ${base}/pack.tar.gz /d/\n`,
    });
    const build = await roost.roost(['build', '-t', 'add-url', dir]);
    t.is(build.exitCode, 0, build.stderr + build.stdout);
    const out = await roost.roost(['run', '--rm', 'add-url', 'sh', '-c', 'cd /d && ls && stat -c "%a %Y" data.txt checked.txt && cat data.txt']);
    t.is(out.stdout, `checked.txt\ndata.txt\npack.tar.gz\n600 ${Date.parse(lastModified) / 1000}\n600 ${Date.parse(lastModified) / 1000}\ndownloaded content\n`, out.stderr);
    const wrong = `sha256:${'0'.repeat(64)}`;
    const cases: Array<[string, RegExp]> = [
      [`FROM busybox\nADD --checksum=${wrong} ${base}/data.txt /x\n`, new RegExp(`^roost: Dockerfile:2: ADD ${base}/data.txt: checksum mismatch: expected ${wrong}, got ${sum}$`, 'm')],
      [`FROM busybox\n\nADD ${base}/missing.txt /x\n`, new RegExp(`^roost: Dockerfile:3: ADD ${base}/missing.txt: 404 Not Found$`, 'm')],
      ['FROM busybox\nADD --checksum=sha256:abc local.txt /x\n', /^roost: Dockerfile:2: ADD --checksum=sha256:abc: expected sha256:<64 hex digits>$|^roost: Dockerfile:2: ADD --checksum needs http\(s\) URL or git sources$/m],
      [`FROM busybox\nCOPY ${base}/data.txt /x\n`, /^roost: Dockerfile:2: COPY cannot copy from a URL: use ADD$/m],
    ];
    for (const [dockerfile, pattern] of cases) {
      const result = await roost.roost(['build', '-'], { input: dockerfile });
      t.is(result.exitCode, 1, dockerfile);
      t.regex(result.stderr, pattern, dockerfile);
    }
  } finally {
    server.close();
  }
});

e2e('RUN --mount=type=cache: from= seeds a new cache from a stage, uid/gid/mode shape it, ro keeps it read-only; bad options are one line', async (t) => {
  const { roost } = t.context;
  const dockerfile = [
    'FROM busybox AS seed',
    'RUN mkdir -p /seed/sub && echo seeded > /seed/sub/a.txt',
    'FROM busybox',
    'RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed sh -c \'cat /c/sub/a.txt; echo more >> /c/sub/a.txt\' > /first',
    'RUN --mount=type=cache,id=owned,target=/o,uid=1000,gid=1001,mode=0750 stat -c "%u %g %a" /o > /owned',
    'RUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/seed,ro sh -c \'cat /c/sub/a.txt; touch /c/x 2>/dev/null && echo writable || echo read-only\' > /second',
    '',
  ].join('\n');
  const built = await roost.roost(['build', '-q', '-t', 'cache-from', '-'], { input: dockerfile });
  t.is(built.exitCode, 0, built.stderr);
  const out = await roost.roost(['run', '--rm', 'cache-from', 'cat', '/first', '/owned', '/second']);
  t.is(out.stdout, 'seeded\n1000 1001 750\nseeded\nmore\nread-only\n', 'seeded once (the second use sees the first one\'s write), shaped, read-only');
  const cases: Array<[string, RegExp]> = [
    ['FROM busybox AS seed\nFROM busybox\nRUN --mount=type=cache,id=x1,target=/c,from=seed,source=/nope true\n', /^roost: Dockerfile:3: RUN --mount=type=cache,from=seed: no directory \/nope in seed$/m],
    ['FROM busybox\nRUN --mount=type=cache,target=/c,bogus=1 true\n', /^roost: Dockerfile:2: RUN --mount=type=cache: option bogus= is not supported$/m],
    ['FROM busybox\nRUN --mount=type=cache,target=/c,mode=99 true\n', /^roost: Dockerfile:2: RUN --mount=type=cache: invalid mode "99"$/m],
  ];
  for (const [text, pattern] of cases) {
    const result = await roost.roost(['build', '-'], { input: text });
    t.is(result.exitCode, 1, text);
    t.regex(result.stderr, pattern, text);
  }
  await roost.roost(['rmi', 'cache-from']);
});

e2e('RUN --mount=type=cache,sharing=locked and private: two stages running at once never see each other in the cache', async (t) => {
  const { roost } = t.context;
  for (const sharing of ['locked', 'private']) {
    const step = (me: string) => `RUN --mount=type=cache,id=sharing-${sharing},target=/c,sharing=${sharing} sh -c 'touch /c/busy-${me}; sleep 1; ls /c | grep busy > /seen; rm /c/busy-${me}'`;
    const dockerfile = ['FROM busybox AS a', step('a'), 'FROM busybox AS b', step('b'), 'FROM busybox', 'COPY --from=a /seen /a', 'COPY --from=b /seen /b', ''].join('\n');
    const built = await roost.roost(['build', '-q', '--no-cache', '-t', `sharing-${sharing}`, '-'], { input: dockerfile });
    t.is(built.exitCode, 0, built.stderr);
    t.is((await roost.roost(['run', '--rm', `sharing-${sharing}`, 'cat', '/a', '/b'])).stdout, 'busy-a\nbusy-b\n', sharing);
    await roost.roost(['rmi', `sharing-${sharing}`]);
  }
  const bad = await roost.roost(['build', '-'], { input: 'FROM busybox\nRUN --mount=type=cache,target=/c,sharing=sometimes true\n' });
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /^roost: Dockerfile:2: RUN --mount=type=cache: sharing must be shared, private or locked$/m);
});

e2e('ADD of a git repository (git://, #ref:subdir): its content at the destination, keyed by the commit; bad refs are one line', async (t) => {
  const { roost } = t.context;
  const net = await import('node:net');
  const base = path.join(roost.base, 'git-served');
  const repo = path.join(base, 'app.git');
  const git = (...args: string[]) => execa('git', ['-C', repo, '-c', 'user.email=t@example.test', '-c', 'user.name=t', ...args]);
  fs.mkdirSync(path.join(repo, 'sub'), { recursive: true });
  await execa('git', ['init', '-q', '-b', 'main', repo]);
  fs.writeFileSync(path.join(repo, 'top.txt'), 'top\n');
  fs.writeFileSync(path.join(repo, 'sub', 'file.txt'), 'one\n');
  await git('add', '.');
  await git('commit', '-qm', 'one');
  const port = await new Promise<number>((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); }); });
  const daemon = execa('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${base}`, '--listen=127.0.0.1', `--port=${port}`, base], { reject: false });
  try {
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => { const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); }); c.on('error', () => resolve(false)); });
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const url = `git://127.0.0.1:${port}/app.git`;
    const dockerfile = `FROM busybox\nADD ${url}#main:sub /dst/\nADD ${url} /whole/\n`;
    const first = await roost.roost(['build', '-q', '-t', 'from-git', '-'], { input: dockerfile });
    t.is(first.exitCode, 0, first.stderr);
    t.is((await roost.roost(['run', '--rm', 'from-git', 'sh', '-c', 'cat /dst/file.txt; ls /whole; ls -a /whole | grep -c "^.git$"'])).stdout, 'one\nsub\ntop.txt\n0\n', 'the subdirectory\'s content; the whole tree without .git');
    const again = await roost.roost(['build', '-q', '-t', 'from-git', '-'], { input: dockerfile });
    t.is(again.stdout, first.stdout, 'the same commit: every step from the cache, the same image');
    fs.writeFileSync(path.join(repo, 'sub', 'file.txt'), 'two\n');
    await git('commit', '-qam', 'two');
    const changed = await roost.roost(['build', '-q', '-t', 'from-git', '-'], { input: dockerfile });
    t.not(changed.stdout, first.stdout, 'a new commit on the branch rebuilds');
    t.is((await roost.roost(['run', '--rm', 'from-git', 'cat', '/dst/file.txt'])).stdout, 'two\n');
    const commit = (await git('rev-parse', 'HEAD')).stdout.trim();
    const pinned = await roost.roost(['build', '-q', '-t', 'from-git-pinned', '-'], { input: `FROM busybox\nADD --keep-git-dir=true --checksum=${commit} ${url}#main /kept/\n` });
    t.is(pinned.exitCode, 0, pinned.stderr);
    t.is((await roost.roost(['run', '--rm', 'from-git-pinned', 'sh', '-c', 'cat /kept/sub/file.txt; test -f /kept/.git/HEAD && echo kept'])).stdout, 'two\nkept\n', '--keep-git-dir keeps .git');
    const wrong = '0'.repeat(40);
    const cases: Array<[string, RegExp]> = [
      [`FROM busybox\nADD --checksum=${wrong} ${url}#main /x/\n`, new RegExp(`^roost: Dockerfile:2: ADD ${url}#main: checksum mismatch: expected commit ${wrong}, got ${commit}$`, 'm')],
      [`FROM busybox\nADD --checksum=abc ${url} /x/\n`, /^roost: Dockerfile:2: ADD --checksum=abc: for a git source, the commit's full hexadecimal name$/m],
      [`FROM busybox\nADD --keep-git-dir=yes ${url} /x/\n`, /^roost: Dockerfile:2: ADD --keep-git-dir=yes: use true or false$/m],
      [`FROM busybox\nADD --keep-git-dir=true local.txt /x/\n`, /^roost: Dockerfile:2: ADD --keep-git-dir needs git sources$/m],
      [`FROM busybox\nADD ${url}#nope /x/\n`, new RegExp(`^roost: Dockerfile:2: ADD ${url}#nope: .*nope`, 'm')],
      [`FROM busybox\nADD ${url}#main:missing /x/\n`, new RegExp(`^roost: Dockerfile:2: ADD ${url}: no directory "missing" in main$`, 'm')],
      [`FROM busybox\nADD ${url}#main:../.. /x/\n`, /^roost: Dockerfile:2: ADD .*: the subdirectory leaves the repository$/m],
      [`FROM busybox\nCOPY ${url} /x/\n`, /^roost: Dockerfile:2: COPY cannot copy from a URL: use ADD$/m],
    ];
    for (const [text, pattern] of cases) {
      const result = await roost.roost(['build', '-'], { input: text });
      t.is(result.exitCode, 1, text);
      t.regex(result.stderr, pattern, text);
      t.is(result.stderr.trim().split('\n').filter((l) => l.startsWith('roost:')).length, 1, 'one line');
    }
  } finally {
    daemon.kill();
    await daemon;
  }
});

e2e('ONBUILD: triggers are recorded in the config and run, in order, when the image is a base; the child does not inherit them', async (t) => {
  const { roost } = t.context;
  const parent = contextWith(roost, 'onbuild-parent', {
    Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /triggered\nONBUILD COPY data.txt /from-trigger.txt\n',
  });
  t.is((await roost.roost(['build', '-q', '-t', 'onbase', parent])).exitCode, 0);
  const config = JSON.parse((await roost.roost(['image', 'inspect', '-f', '{{json .Config}}', 'onbase'])).stdout);
  t.deepEqual(config.OnBuild, ['RUN echo triggered > /triggered', 'COPY data.txt /from-trigger.txt']);
  const child = contextWith(roost, 'onbuild-child', { Dockerfile: 'FROM onbase\nRUN cat /triggered\n', 'data.txt': 'child data\n' });
  const build = await roost.roost(['build', '-t', 'onchild', child]);
  t.is(build.exitCode, 0, build.stderr + build.stdout);
  t.regex(build.stdout, /# Executing 2 build triggers\n/);
  t.is((await roost.roost(['run', '--rm', 'onchild', 'cat', '/triggered', '/from-trigger.txt'])).stdout, 'triggered\nchild data\n');
  const childConfig = JSON.parse((await roost.roost(['image', 'inspect', '-f', '{{json .Config}}', 'onchild'])).stdout);
  t.falsy(childConfig.OnBuild?.length, 'triggers are not inherited');
  // A trigger that fails points at the child's FROM line.
  const failing = await roost.roost(['build', '-'], { input: '# a comment\nFROM onbase\n' });
  t.is(failing.exitCode, 1);
  t.regex(failing.stderr, /^roost: Dockerfile:2: ONBUILD COPY: COPY failed: file not found in build context: data.txt$/m);
});

e2e('RUN --mount=type=secret: the file is there during the step, never in a layer, the history or the cache key; ssh is refused clearly', async (t) => {
  const { roost } = t.context;
  const secretValue = 'TOP-secret-value-42';
  const dir = contextWith(roost, 'secrets', {
    Dockerfile: [
      'FROM busybox',
      'RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len && stat -c "%a %u" /run/secrets/tok > /mode',
      'RUN --mount=type=secret,id=tok,target=/etc/deep/tok,required=true test -s /etc/deep/tok',
      'RUN --mount=type=secret,id=tok,uid=33,gid=34,mode=0440 stat -c "%u:%g %a" /run/secrets/tok > /owner',
      '',
    ].join('\n'),
  });
  const secretFile = path.join(roost.base, 'tok.txt');
  fs.writeFileSync(secretFile, secretValue);
  const build = await roost.roost(['build', '-t', 'secrets', '--secret', `id=tok,src=${secretFile}`, dir]);
  t.is(build.exitCode, 0, build.stderr + build.stdout);
  t.is((await roost.roost(['run', '--rm', 'secrets', 'cat', '/len', '/mode', '/owner'])).stdout, `${secretValue.length}\n400 0\n33:34 440\n`);
  t.is((await roost.roost(['run', '--rm', 'secrets', 'sh', '-c', 'ls -d /run /etc/deep 2>&1; true'])).stdout,
    "ls: /run: No such file or directory\nls: /etc/deep: No such file or directory\n", 'the mount points are not in the image');
  const saved = path.join(roost.base, 'secrets.tar');
  t.is((await roost.roost(['save', '-o', saved, 'secrets'])).exitCode, 0);
  t.false(fs.readFileSync(saved).includes(secretValue), 'the secret is in no layer and no config');
  t.notRegex((await roost.roost(['history', '--no-trunc', 'secrets'])).stdout, new RegExp(secretValue));
  // Another secret value does not change the key (as with BuildKit).
  fs.writeFileSync(secretFile, 'another value');
  const again = await roost.roost(['build', '-t', 'secrets:2', '--secret', `id=tok,src=${secretFile}`, dir]);
  t.is((again.stdout.match(/Using cache/g) ?? []).length, 3, again.stdout);
  // A secret not given: left out, unless required.
  const optional = await roost.roost(['build', '-'], { input: 'FROM busybox\nRUN --mount=type=secret,id=nothere test ! -e /run/secrets/nothere\n' });
  t.is(optional.exitCode, 0, optional.stderr);
  const missing = await roost.roost(['build', '-'], { input: 'FROM busybox\n\nRUN --mount=type=secret,id=tok,required=true true\n' });
  t.is(missing.exitCode, 1);
  t.regex(missing.stderr, /^roost: Dockerfile:3: secret "tok" is required but was not given$/m);
  const ssh = await roost.roost(['build', '-'], { input: 'FROM busybox\nRUN --mount=type=ssh true\n' });
  t.is(ssh.exitCode, 1);
  t.regex(ssh.stderr, /^roost: Dockerfile:2: RUN --mount=type=ssh is not supported: Roost's builder does not forward an SSH agent$/m);
  t.regex((await roost.roost(['build', '--ssh', 'default', dir])).stderr, /^roost: --ssh is not supported/m);
});

e2e('--platform and FROM --platform: the host\'s platform is accepted, others refused; TARGETARCH and friends are set', async (t) => {
  const { roost } = t.context;
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
  const dir = contextWith(roost, 'platform', {
    Dockerfile: 'FROM --platform=$BUILDPLATFORM busybox\nARG TARGETARCH\nARG TARGETOS\nRUN echo "$TARGETOS $TARGETARCH" > /arch\n',
  });
  const build = await roost.roost(['build', '-q', '-t', 'platform', '--platform', `linux/${arch}`, dir]);
  t.is(build.exitCode, 0, build.stderr);
  t.is((await roost.roost(['run', '--rm', 'platform', 'cat', '/arch'])).stdout, `linux ${arch}\n`);
  const other = arch === 's390x' ? 'linux/arm64' : 'linux/s390x';
  const refused = await roost.roost(['build', '--platform', other, dir]);
  t.is(refused.exitCode, 1);
  t.regex(refused.stderr, new RegExp(`^roost: the build's --platform ${other} is not this host's platform \\(linux/${arch}[^)]*\\): Roost builds only for the host's platform$`, 'm'));
  const fromOther = await roost.roost(['build', '-'], { input: `FROM busybox\nFROM --platform=${other} busybox\n` });
  t.is(fromOther.exitCode, 1);
  t.regex(fromOther.stderr, new RegExp(`^roost: Dockerfile:2: FROM --platform ${other} is not this host's platform`, 'm'));
});

e2e('independent stages run at the same time, unused stages are skipped, and the output reads in Dockerfile order', async (t) => {
  const { roost } = t.context;
  // Each stage waits (up to 20 s) for the other's mark in a shared cache mount: built one after another, the
  // first would give up and fail the build.
  const meet = (me: string, other: string) =>
    `RUN --mount=type=cache,id=rendezvous-${process.pid},target=/r touch /r/${me} && i=0; while [ ! -e /r/${other} ]; do i=$((i+1)); [ $i -lt 200 ] || exit 9; sleep 0.1; done; echo ${me} > /${me}`;
  const dir = contextWith(roost, 'parallel', {
    Dockerfile: [
      'FROM busybox AS a', meet('a', 'b'),
      'FROM busybox AS unused', 'RUN exit 7',
      'FROM busybox AS b', meet('b', 'a'),
      'FROM busybox', 'COPY --from=a /a /a', 'COPY --from=b /b /b', 'CMD ["cat", "/a", "/b"]', '',
    ].join('\n'),
  });
  const build = await roost.roost(['build', '-t', 'parallel', dir]);
  t.is(build.exitCode, 0, build.stderr + build.stdout);
  t.is((await roost.roost(['run', '--rm', 'parallel'])).stdout, 'a\nb\n');
  const steps = [...build.stdout.matchAll(/^Step (\d+)\/10 : /gm)].map((m) => Number(m[1]));
  t.deepEqual(steps, [1, 2, 5, 6, 7, 8, 9, 10], 'the unused stage (steps 3-4) is skipped; stage a is shown whole before stage b');
  // A failing stage stops the build with its own error; the other stage's running step is killed, not awaited.
  const started = Date.now();
  const failing = await roost.roost(['build', '-'], { input: 'FROM busybox AS slow\nRUN sleep 40\nFROM busybox AS broken\nRUN exit 4\nFROM busybox\nCOPY --from=slow /bin/sh /a\nCOPY --from=broken /bin/sh /b\n' });
  t.true(Date.now() - started < 25_000, `the build ended after ${Date.now() - started} ms`);
  t.is(failing.exitCode, 1);
  t.regex(failing.stderr, /^roost: Dockerfile:4: The command '\/bin\/sh -c exit 4' returned a non-zero code: 4$/m);
  t.is((await roost.roost(['ps', '-aq'])).stdout, '', 'no build container was left');
});

e2e('--progress: plain adds each step\'s time and CACHED marks, tty redraws steps in a terminal, a bad value is one line', async (t) => {
  const { roost } = t.context;
  const dir = contextWith(roost, 'progress', { Dockerfile: 'FROM busybox\nRUN sleep 0.3 && echo built > /x\nCMD ["cat", "/x"]\n' });
  const first = await roost.roost(['build', '--progress=plain', '-t', 'progress', dir]);
  t.is(first.exitCode, 0, first.stderr);
  t.regex(first.stdout, /^Step 2\/3 : RUN sleep 0\.3 && echo built > \/x\n ---> Running in [0-9a-f]{12}\n ---> [0-9a-f]{12}\n ---> \[2\/3\] DONE (0\.[3-9]|[1-9]\d*\.\d)s\n/m);
  t.regex(first.stdout, /^ ---> \[1\/3\] DONE \d+\.\ds\n/m);
  const again = await roost.roost(['build', '-t', 'progress', dir]);
  t.regex(again.stdout, /^ ---> Using cache\n ---> [0-9a-f]{12}\n ---> \[2\/3\] CACHED\n/m, 'auto is plain when stdout is no terminal');
  // A real terminal: `script` runs the CLI on a pty.
  const command = [process.execPath, '--', roostBin, 'build', '--progress=tty', '-t', 'progress', dir].map((a) => `'${a}'`).join(' ');
  const onTty = await execa('script', ['-qec', command, '/dev/null'], { env: { ...roost.env, COLUMNS: '100' }, reject: false, timeout: 60_000 });
  t.is(onTty.exitCode, 0, onTty.stdout);
  t.regex(onTty.stdout, /\x1b\[\d+A\x1b\[J/, 'redrawn in place');
  t.regex(onTty.stdout, /=> CACHED \[2\/3\] RUN sleep 0\.3 && echo built > \/x\r?\n/);
  t.regex(onTty.stdout, /\[\+\] Building \d+\.\ds \(3\/3 steps, 1 cached\)/);
  t.notRegex(onTty.stdout, /Using cache/, 'the classic lines of a step are not shown');
  const bad = await roost.roost(['build', '--progress=fancy', dir]);
  t.is(bad.exitCode, 125);
  t.is(bad.stderr, 'roost: invalid --progress "fancy": use auto, plain or tty\n');
  const notTty = await roost.roost(['build', '--progress=tty', dir]);
  t.is(notTty.exitCode, 125);
  t.regex(notTty.stderr, /^roost: --progress=tty needs a terminal on stdout\n/);
});

e2e('-f: a Dockerfile outside the context, or - for stdin, goes along with the context and is not left in it', async (t) => {
  const { roost } = t.context;
  const dir = contextWith(roost, 'outside-context', { 'app.txt': 'app\n' });
  const elsewhere = contextWith(roost, 'outside-dockerfile', {
    'Dockerfile.dev': 'FROM busybox\nCOPY . /ctx\nCMD ["find", "/ctx", "-type", "f"]\n',
    'Dockerfile.bad': 'FROM busybox\nRUNN x\n',
  });
  const outside = await roost.roost(['build', '-q', '-t', 'outside', '-f', path.join(elsewhere, 'Dockerfile.dev'), dir]);
  t.is(outside.exitCode, 0, outside.stderr);
  t.is((await roost.roost(['run', '--rm', 'outside'])).stdout, '/ctx/app.txt\n', 'neither the added Dockerfile nor a .dockerignore made for it');
  const byDocker = await roost.docker(['build', '-q', '-t', 'outside-docker', '-f', path.join(elsewhere, 'Dockerfile.dev'), dir]);
  t.is(byDocker.exitCode, 0, byDocker.stderr);
  t.regex((await roost.roost(['run', '--rm', 'outside-docker'])).stdout, /^\/ctx\/app\.txt\n(\/ctx\/\.dockerignore\n)?$/, 'the docker CLI\'s Dockerfile is removed too');
  const stdin = await roost.roost(['build', '-q', '-t', 'stdin-dockerfile', '-f', '-', dir], { input: 'FROM busybox\nCOPY app.txt /app.txt\nCMD ["cat", "/app.txt"]\n' });
  t.is(stdin.exitCode, 0, stdin.stderr);
  t.is((await roost.roost(['run', '--rm', 'stdin-dockerfile'])).stdout, 'app\n');
  const bad = await roost.roost(['build', '-f', path.join(elsewhere, 'Dockerfile.bad'), dir]);
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /^roost: Dockerfile:2: unknown instruction: RUNN$/m);
  const missing = await roost.roost(['build', '-f', path.join(elsewhere, 'nope'), dir]);
  t.is(missing.exitCode, 125);
  t.is(missing.stderr, `roost: unable to prepare context: cannot locate specified Dockerfile: ${path.join(elsewhere, 'nope')}\n`);
  const both = await roost.roost(['build', '-f', '-', '-'], { input: 'FROM busybox\n' });
  t.is(both.exitCode, 125);
  t.is(both.stderr, 'roost: cannot use stdin for both the build context and the Dockerfile\n');
});

e2e('--cache-from: after a prune, a local image the build made gives back the steps whose keys it holds, and the same image', async (t) => {
  const { roost } = t.context;
  const dir = contextWith(roost, 'cache-from', {
    Dockerfile: 'FROM busybox\nARG V=1\nENV A=b\nRUN echo $V > /v\nCOPY data.txt /d\nRUN cat /v /d > /two\nCMD ["cat", "/two"]\n',
    'data.txt': 'v1\n',
  });
  const first = await roost.roost(['build', '-q', '-t', 'cf:1', dir]);
  t.is(first.exitCode, 0, first.stderr);
  const prune = async () => t.is((await roost.roost(['builder', 'prune', '-f'])).exitCode, 0);
  await prune();
  t.notRegex((await roost.roost(['build', '-t', 'cf:plain', dir])).stdout, /Using cache/, 'without --cache-from, the prune left nothing to reuse');
  await prune();
  const reused = await roost.roost(['build', '--cache-from', 'cf:1', '-t', 'cf:2', dir]);
  t.is(reused.exitCode, 0, reused.stderr);
  t.is((reused.stdout.match(/Using cache/g) ?? []).length, 3, reused.stdout);
  t.is((await roost.roost(['images', '-q', '--no-trunc', 'cf:2'])).stdout, first.stdout, 'the same image ID as the --cache-from image');
  await prune();
  const byDocker = await roost.docker(['build', '--cache-from', 'cf:1', '-t', 'cf:docker', dir]);
  t.is((byDocker.stdout.match(/Using cache/g) ?? []).length, 3, byDocker.stdout + byDocker.stderr);
  // A copy of the image that went through save and load serves as well.
  const archive = path.join(roost.base, 'cf.tar');
  t.is((await roost.roost(['save', '-o', archive, 'cf:1'])).exitCode, 0);
  t.is((await roost.roost(['rmi', 'cf:1', 'cf:2', 'cf:docker'])).exitCode, 0);
  await prune();
  t.not((await roost.roost(['image', 'inspect', first.stdout.trim()])).exitCode, 0, 'the image is gone before the load');
  t.is((await roost.roost(['load', '-i', archive])).exitCode, 0);
  const loaded = await roost.roost(['build', '--cache-from', 'cf:1', '-t', 'cf:loaded', dir]);
  t.is((loaded.stdout.match(/Using cache/g) ?? []).length, 3, loaded.stdout);
  t.is((await roost.roost(['images', '-q', '--no-trunc', 'cf:loaded'])).stdout, first.stdout);
  // A changed file: the RUN before its COPY is reused, the COPY and what follows run again.
  await prune();
  fs.writeFileSync(path.join(dir, 'data.txt'), 'v2\n');
  const changed = await roost.roost(['build', '--cache-from', 'cf:1', '-t', 'cf:3', dir]);
  t.is((changed.stdout.match(/Using cache/g) ?? []).length, 1, changed.stdout);
  t.is((await roost.roost(['run', '--rm', 'cf:3'])).stdout, '1\nv2\n');
  // Another build argument is another key: nothing is reused.
  await prune();
  const otherArg = await roost.roost(['build', '--cache-from', 'cf:1', '--build-arg', 'V=2', '-t', 'cf:4', dir]);
  t.notRegex(otherArg.stdout, /Using cache/);
  t.is((await roost.roost(['run', '--rm', 'cf:4'])).stdout, '2\nv2\n');
  const missing = await roost.roost(['build', '--cache-from', 'nosuch:1', '-q', dir]);
  t.is(missing.exitCode, 0, missing.stderr);
  const noted = await roost.roost(['build', '--cache-from', 'nosuch:1', dir]);
  t.regex(noted.stdout, /^--cache-from nosuch:1: no such local image, not used$/m);
});

e2e('RUN --mount=type=bind,from=: a stage\'s or an image\'s files during the step, read-only unless rw (writes dropped), in the cache key', async (t) => {
  const { roost } = t.context;
  const dir = contextWith(roost, 'bind-from', {
    Dockerfile: [
      'FROM busybox AS tools', 'ARG T=tool', 'RUN mkdir /out && echo $T > /out/t && ln -s t /out/link && ln -s /out/t /abslink',
      'FROM busybox',
      'RUN --mount=type=bind,from=busybox,source=/bin/busybox,target=/x/busybox /x/busybox echo from image > /img',
      // A symlink as the source resolves inside the stage's root.
      'RUN --mount=type=bind,from=tools,source=/out,target=/mnt --mount=type=bind,from=tools,source=/abslink,target=/f cat /mnt/t /mnt/link /f > /got',
      'RUN --mount=type=bind,from=tools,source=/out,target=/mnt,rw sh -c \'echo scribble > /mnt/new && cat /mnt/new > /rw\'',
      'RUN --mount=type=bind,from=0,source=/out,target=/again test ! -e /again/new',
      'CMD ["cat", "/got", "/img", "/rw"]', '',
    ].join('\n'),
  });
  const build = await roost.roost(['build', '-t', 'bind-from', dir]);
  t.is(build.exitCode, 0, build.stderr + build.stdout);
  t.is((await roost.roost(['run', '--rm', 'bind-from'])).stdout, 'tool\ntool\ntool\nfrom image\nscribble\n');
  const again = await roost.roost(['build', '-t', 'bind-from', dir]);
  t.is((again.stdout.match(/Using cache/g) ?? []).length, 5, again.stdout);
  const other = await roost.roost(['build', '--build-arg', 'T=other', '-t', 'bind-other', dir]);
  t.is((other.stdout.match(/Using cache/g) ?? []).length, 1, 'only the RUN that mounts busybox: the stage\'s new image is a new key for those that mount it');
  t.is((await roost.roost(['run', '--rm', 'bind-other'])).stdout, 'other\nother\nother\nfrom image\nscribble\n');
  const readOnly = await roost.roost(['build', '-'], { input: 'FROM busybox AS a\nFROM busybox\nRUN --mount=type=bind,from=a,source=/etc,target=/m touch /m/x\n' });
  t.is(readOnly.exitCode, 1);
  t.regex(readOnly.stderr, /^roost: Dockerfile:3: The command '\/bin\/sh -c touch \/m\/x' returned a non-zero code: 1$/m);
  const missing = await roost.roost(['build', '-'], { input: 'FROM busybox AS a\nFROM busybox\nRUN --mount=type=bind,from=a,source=/nope,target=/m true\n' });
  t.is(missing.exitCode, 1);
  t.is(missing.stderr, 'roost: Dockerfile:3: RUN --mount=type=bind,from=a: source /nope not found in a\n');
  t.is((await roost.roost(['ps', '-aq'])).stdout, '', 'no build or helper container was left');
});
