import test from 'ava';
import { keyValuePairs, parseDockerfile, substitute } from '../../src/build/dockerfile.js';

test('instructions with continuations, comments inside them, flags, JSON and shell forms', (t) => {
  const parsed = parseDockerfile([
    '# comment', 'ARG V=1', 'FROM busybox AS base', 'RUN echo a \\', '# dropped', '  && echo b',
    'COPY --from=base --chown=1:2 /a /b', 'CMD ["sh", "-c", "echo hi"]', 'ENTRYPOINT not json [',
  ].join('\n'));
  t.deepEqual(parsed.map((i) => [i.line, i.keyword]), [[2, 'ARG'], [3, 'FROM'], [4, 'RUN'], [7, 'COPY'], [8, 'CMD'], [9, 'ENTRYPOINT']]);
  t.is(parsed[2]!.args, 'echo a   && echo b');
  t.deepEqual(parsed[3]!.flags, { from: 'base', chown: '1:2' });
  t.deepEqual(parsed[4]!.json, ['sh', '-c', 'echo hi']);
  t.is(parsed[5]!.json, undefined, 'not valid JSON: the shell form');
});

test('the escape directive switches the continuation character', (t) => {
  const parsed = parseDockerfile('# escape=`\nFROM busybox\nRUN echo a `\n b\n');
  t.is(parsed[1]!.args, 'echo a  b');
});

test('errors name the file and the line', (t) => {
  t.throws(() => parseDockerfile('FROM busybox\nRUNN x\n'), { message: 'Dockerfile:2: unknown instruction: RUNN' });
  t.throws(() => parseDockerfile('FROM busybox\nCOPY --nope=1 a b\n', 'app.Dockerfile'), { message: 'app.Dockerfile:2: unknown flag: --nope for COPY' });
  t.throws(() => parseDockerfile('RUN true\n'), { message: /no FROM instruction/ });
  t.throws(() => parseDockerfile('ENV A=1\nFROM busybox\n'), { message: 'Dockerfile:1: ENV before the first FROM' });
  t.throws(() => parseDockerfile('FROM busybox\nRUN\n'), { message: 'Dockerfile:2: RUN requires at least one argument' });
});

test('variable substitution: $VAR, ${VAR}, defaults, alternatives and escaped dollars', (t) => {
  const vars = { A: 'x', EMPTY: '' };
  t.is(substitute('$A-${A}-${B:-dflt}-${A:+alt}-${B:+alt}-\\$A-${EMPTY:-e}', vars), 'x-x-dflt-alt--$A-e');
  t.throws(() => substitute('${A', vars), { message: /missing '}'/ });
  t.throws(() => substitute('${A?}', vars), { message: /bad substitution/ });
});

test('KEY=VALUE pairs with quotes and escapes, and the legacy KEY VALUE form', (t) => {
  t.deepEqual(keyValuePairs('A=1 B="two words" C=three\\ words D=\'q\'', ''), [['A', '1'], ['B', 'two words'], ['C', 'three words'], ['D', 'q']]);
  t.deepEqual(keyValuePairs('NAME some value', ''), [['NAME', 'some value']]);
});
