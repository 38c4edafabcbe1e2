import test from 'ava';
import { parseDockerfile } from '../../src/build/dockerfile.js';
import { OrderedOutput } from '../../src/build/ordered-output.js';
import { dependencies, neededStages, planStages, targetStage } from '../../src/build/stage-plan.js';

const plan = (text: string) => planStages(parseDockerfile(text), 'Dockerfile', (ins) => ins.args.replace('$BASE', 'busybox'));

const graph = `ARG BASE
FROM $BASE AS a
RUN make a
FROM busybox AS B
RUN make b
FROM busybox AS unused
RUN exit 1
FROM a AS c
COPY --from=b /b /b
COPY --from=0 /a /a2
COPY --from=busybox /bin/sh /sh
`;

test('stages, their bases and COPY --from sources; only what the target needs', (t) => {
  const p = plan(graph);
  t.deepEqual(p.globals.map((s) => s.number), [1]);
  t.deepEqual(p.stages.map((s) => [s.index, s.name, s.base, s.from.number, s.steps.map((x) => x.number)]), [
    [0, 'a', 'busybox', 2, [3]], [1, 'b', 'busybox', 4, [5]], [2, 'unused', 'busybox', 6, [7]], [3, 'c', 'a', 8, [9, 10, 11]],
  ]);
  t.deepEqual(dependencies(p, p.stages[3]!).map((s) => s.name), ['a', 'b'], 'by name (any case) and index; an image is no stage');
  t.deepEqual(neededStages(p, targetStage(p, undefined)).map((s) => s.name), ['a', 'b', 'c']);
  t.deepEqual(neededStages(p, targetStage(p, 'B')).map((s) => s.name), ['b']);
  t.throws(() => targetStage(p, 'nope'), { message: 'target stage "nope" could not be found' });
});

test('RUN --mount=type=bind,from= and type=cache,from= read a stage (by name or index); other mount types and images do not', (t) => {
  const p = plan([
    'FROM busybox AS tools', 'FROM busybox AS libs', 'FROM busybox AS cache', 'FROM busybox AS unused',
    'FROM busybox', 'RUN --mount=type=bind,from=tools,source=/bin,target=/t --mount=from=1,target=/l true',
    'RUN --mount=type=cache,from=cache,target=/c --mount=type=bind,from=busybox,target=/b --mount=type=tmpfs,from=unused,target=/u true', '',
  ].join('\n'));
  t.deepEqual(dependencies(p, p.stages[4]!).map((s) => s.name), ['tools', 'libs', 'cache']);
  t.deepEqual(neededStages(p, targetStage(p, undefined)).map((s) => s.index), [0, 1, 2, 4]);
});

test('a stage only reads earlier stages; duplicate names are refused at their line', (t) => {
  const p = plan('FROM busybox AS x\nCOPY --from=y /a /a\nFROM busybox AS y\n');
  t.deepEqual(dependencies(p, p.stages[0]!), [], 'a later stage of that name is an image name here');
  t.throws(() => plan('FROM busybox AS x\nFROM busybox AS X\n'), { message: 'Dockerfile:2: duplicate stage name "x"' });
});

test('output of stages running together is shown in stage order, each stage whole', (t) => {
  const shown: string[] = [];
  const output = new OrderedOutput((text) => shown.push(text));
  for (const stage of [0, 1, 2]) output.add(stage);
  const [a, b, c] = [0, 1, 2].map((s) => output.writer(s));
  b!('b1 ');
  a!('a1 ');
  c!('c1 ');
  output.done(1);
  a!('a2 ');
  t.is(shown.join(''), 'a1 a2 ');
  output.done(0);
  t.is(shown.join(''), 'a1 a2 b1 c1 ', 'a finished: b (done) and c (live) follow');
  c!('c2 ');
  t.is(shown.join(''), 'a1 a2 b1 c1 c2 ');
  const failed = new OrderedOutput((text) => shown.push(text));
  failed.add(0);
  failed.add(1);
  failed.writer(1)('held');
  failed.flush();
  t.is(shown.at(-1), 'held', 'a failed build shows what was held');
});
