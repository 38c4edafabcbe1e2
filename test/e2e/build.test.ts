import anyTest, { type TestFn } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';

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
