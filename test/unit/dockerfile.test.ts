import test from 'ava';
import { keyValuePairs, parseDockerfile, parseTrigger, substitute } from '../../src/build/dockerfile.js';
import { runCommand } from '../../src/build/heredoc-command.js';

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

test('heredocs: bodies follow the line in order; <<- and quoted delimiters are recorded; an unterminated one names the line', (t) => {
  const parsed = parseDockerfile([
    'FROM busybox',
    'RUN <<EOF',
    'echo one',
    '  # not a comment here',
    'EOF',
    'COPY <<-"A" <<B /dir/',
    '\tfirst $X',
    '\tA',
    'second',
    'B',
    'RUN echo "<<NOT" \'<<NEITHER\' <<<here',
    'CMD ["x"]',
  ].join('\n'));
  t.deepEqual(parsed.map((i) => [i.line, i.keyword]), [[1, 'FROM'], [2, 'RUN'], [6, 'COPY'], [11, 'RUN'], [12, 'CMD']]);
  t.deepEqual(parsed[1]!.heredocs, [{ name: 'EOF', content: 'echo one\n  # not a comment here\n', expand: true, chomp: false }]);
  t.deepEqual(parsed[2]!.heredocs, [
    { name: 'A', content: '\tfirst $X\n', expand: false, chomp: true },
    { name: 'B', content: 'second\n', expand: true, chomp: false },
  ]);
  t.is(parsed[3]!.heredocs, undefined, 'markers in quotes and here-strings are not heredocs');
  t.throws(() => parseDockerfile('FROM busybox\nRUN cat <<EOF\nno end\n'), { message: 'Dockerfile:2: unterminated heredoc <<EOF: no line "EOF" ends it' });
  t.is(parseDockerfile('FROM busybox\nENV A=<<B\n')[1]!.heredocs, undefined, 'only RUN, COPY and ADD take heredocs');
});

test('RUN heredocs become what BuildKit runs: the body, a #! script, or the line and bodies for the shell', (t) => {
  const run = (text: string) => runCommand(parseDockerfile(`FROM busybox\n${text}`)[1]!, ['/bin/sh', '-c']);
  t.deepEqual(run('RUN <<EOF\necho a\necho b\nEOF\n'), { cmd: ['/bin/sh', '-c', 'echo a\necho b\n'] });
  t.deepEqual(run('RUN <<-EOF\n\techo a\n\tEOF\n'), { cmd: ['/bin/sh', '-c', 'echo a\n'] });
  t.deepEqual(run('RUN <<EOF\n#!/bin/awk -f\nBEGIN { print 1 }\nEOF\n'), {
    cmd: ['/bin/sh', '-c', '/dev/pipes/EOF'], script: { name: 'EOF', content: '#!/bin/awk -f\nBEGIN { print 1 }\n' },
  });
  t.deepEqual(run("RUN cat <<'A' > /a && cat <<B > /b\n$x\nA\n$y\nB\n"), { cmd: ['/bin/sh', '-c', "cat <<'A' > /a && cat <<B > /b\n$x\nA\n$y\nB"] });
  t.deepEqual(run('RUN ["echo", "<<EOF"]\n'), { cmd: ['echo', '<<EOF'] }, 'the exec form has no heredocs');
});

test('ONBUILD triggers are checked when parsed', (t) => {
  t.is(parseDockerfile('FROM busybox\nONBUILD RUN echo hi\n')[1]!.args, 'RUN echo hi');
  t.throws(() => parseDockerfile('FROM busybox\nONBUILD ONBUILD RUN x\n'), { message: /^Dockerfile:2: chaining ONBUILD/ });
  t.throws(() => parseDockerfile('FROM busybox\nONBUILD FROM alpine\n'), { message: "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger" });
  t.throws(() => parseDockerfile('FROM busybox\nONBUILD RUNN x\n'), { message: 'Dockerfile:2: unknown instruction: RUNN' });
  t.throws(() => parseDockerfile('FROM busybox\nONBUILD COPY --nope a b\n'), { message: 'Dockerfile:2: unknown flag: --nope for COPY' });
  t.deepEqual(parseTrigger('copy --chown=1 a b', 9, 'Dockerfile').flags, { chown: '1' });
});
