import test from 'ava';
import { EngineError } from '../../src/util/errors.js';
import { compileTemplate, formatOne, formatRows, tabwrite } from '../../src/cli/format.js';

const rows = [
  { ID: 'abc123def456', Image: 'alpine:3.19', Names: 'web', CreatedAt: '2024-01-02', Labels: { 'com.example.tier': 'front', env: 'prod' }, Ports: ['80/tcp', '443/tcp'] },
  { ID: 'f00', Image: 'busybox', Names: 'database-primary', CreatedAt: '2024-03-04', Labels: {}, Ports: [] },
];
const psOpts = { defaultTable: 'table {{.ID}}\t{{.Image}}\t{{.Names}}', headers: { ID: 'CONTAINER ID' } };

test('no format renders the default table aligned like tabwriter, without trailing spaces', (t) => {
  t.is(
    formatRows(undefined, rows, psOpts),
    'CONTAINER ID   IMAGE         NAMES\n' +
      'abc123def456   alpine:3.19   web\n' +
      'f00            busybox       database-primary\n',
  );
});

test('"table" alone means the default table', (t) => {
  t.is(formatRows('table', rows, psOpts), formatRows(undefined, rows, psOpts));
});

test('table header falls back to the upper-cased, camel-case-split field name', (t) => {
  const out = formatRows('table {{.Names}}\\t{{.CreatedAt}}', rows, psOpts);
  t.deepEqual(out.split('\n'), ['NAMES              CREATED AT', 'web                2024-01-02', 'database-primary   2024-03-04', '']);
});

test('table header is printed even with no rows', (t) => {
  t.is(formatRows(undefined, [], psOpts), 'CONTAINER ID   IMAGE   NAMES\n');
  t.is(formatRows('table {{.ID}}\t{{json .Labels}}', [], psOpts), 'CONTAINER ID   LABELS\n');
});

test('table keeps literal text and uses the first field of each action for its header', (t) => {
  const out = formatRows('table {{.Names}}:\t{{upper .Image}}\t{{index .Labels "env"}}', rows.slice(0, 1), psOpts);
  t.is(out, 'NAMES:   IMAGE         LABELS\nweb:     ALPINE:3.19   prod\n');
});

test('minWidth widens narrow columns', (t) => {
  t.is(formatRows('table {{.Names}}\t{{.ID}}', rows.slice(0, 1), { ...psOpts, minWidth: 10 }), 'NAMES     CONTAINER ID\nweb       abc123def456\n');
});

test('json mode prints one JSON object per row', (t) => {
  const out = formatRows('json', rows, psOpts);
  const lines = out.split('\n');
  t.is(lines.length, 3);
  t.is(lines[2], '');
  t.deepEqual(JSON.parse(lines[0]), rows[0]);
  t.deepEqual(JSON.parse(lines[1]), rows[1]);
  t.is(formatRows('json', [], psOpts), '');
});

test('a plain template renders once per row, each followed by a newline', (t) => {
  t.is(formatRows('{{.Names}} ({{.Image}})', rows, psOpts), 'web (alpine:3.19)\ndatabase-primary (busybox)\n');
  t.is(formatRows('{{.Names}}', [], psOpts), '');
});

test('shell-typed \\t and \\n become tab and newline', (t) => {
  t.is(formatRows('{{.Names}}\\t{{.Image}}\\n--', rows.slice(0, 1), psOpts), 'web\talpine:3.19\n--\n');
});

test('nested fields, the dot, and missing values', (t) => {
  const c = { Name: 'x', State: { Status: 'running', Health: { Status: 'healthy' }, Pid: 42 } };
  t.is(formatOne('{{.State.Status}}/{{.State.Health.Status}}/{{.State.Pid}}', c), 'running/healthy/42\n');
  t.is(formatOne('{{.State.Missing}} {{.Nope.Deeper}}', c), '<no value> <no value>\n');
  t.is(formatOne('{{.}}', 'plain'), 'plain\n');
  t.is(formatOne('[{{.A}}]', { A: null }), '[<no value>]\n');
});

test('values print with Go default formatting', (t) => {
  const v = { S: 'str', N: 3, F: 1.5, B: false, L: ['a', 'b', 1], M: { z: 1, a: 'x', n: null }, E: [] };
  t.is(formatOne('{{.S}} {{.N}} {{.F}} {{.B}} {{.L}} {{.M}} {{.E}}', v), 'str 3 1.5 false [a b 1] map[a:x n:<nil> z:1] []\n');
});

test('json function', (t) => {
  const v = { Labels: { b: '2', a: '1' }, Ports: [1, 2] };
  t.is(formatOne('{{json .Labels}}', v), '{"b":"2","a":"1"}\n');
  t.deepEqual(JSON.parse(formatOne('{{json .}}', v)), v);
  t.is(formatOne('{{.Ports | json}}', v), '[1,2]\n');
  t.is(formatOne('{{json .Missing}}', v), 'null\n');
  t.deepEqual(JSON.parse(formatOne('json', v)), v);
});

test('index on label maps and arrays', (t) => {
  t.is(formatRows('{{index .Labels "com.example.tier"}}', rows, psOpts), 'front\n\n');
  t.is(formatOne('{{index .Ports 1}}', rows[0]), '443/tcp\n');
  t.is(formatOne('{{index .M "a" 0}}', { M: { a: ['deep'] } }), 'deep\n');
  const health = { State: { Health: { Log: [{ ExitCode: 1, Output: 'no' }] } } };
  t.is(formatOne('{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}', health), '1 no\n', 'a field of a parenthesized value');
  t.throws(() => formatOne('{{(index .State.Health.Log 0) .ExitCode}}', health), { message: /can't give argument to non-function/ }, 'with a space it is an argument, as in Go');
  const err = t.throws(() => formatOne('{{index .Ports 5}}', rows[0]), { instanceOf: EngineError });
  t.regex(err.message, /index out of range: 5/);
});

test('if / else if / else follow Go truthiness', (t) => {
  const tpl = '{{if .X}}yes{{else}}no{{end}}';
  const truthy = [true, 1, 'a', [0], { k: 1 }];
  const falsy = [false, 0, '', [], {}, null, undefined];
  for (const X of truthy) t.is(formatOne(tpl, { X }), 'yes\n', JSON.stringify(X));
  for (const X of falsy) t.is(formatOne(tpl, { X }), 'no\n', JSON.stringify(X));
  const chain = '{{if .A}}a{{else if .B}}b{{else}}none{{end}}';
  t.is(formatOne(chain, { A: 1, B: 1 }), 'a\n');
  t.is(formatOne(chain, { A: 0, B: 1 }), 'b\n');
  t.is(formatOne(chain, {}), 'none\n');
});

test('comparison and logic functions', (t) => {
  const tpl = '{{if eq .S "running" "restarting"}}up{{else}}down{{end}} {{ne .N 1}} {{not .N}} {{and .N .S}} {{or 0 "" .S}} {{lt .N 2}} {{gt .S "a"}}';
  t.is(formatOne(tpl, { S: 'restarting', N: 1 }), 'up false false restarting restarting true true\n');
  t.is(formatOne(tpl, { S: 'exited', N: 0 }), 'down true true 0 exited true true\n');
});

test('range over arrays and maps, with variables and else', (t) => {
  t.is(formatOne('{{range .Ports}}<{{.}}>{{end}}', rows[0]), '<80/tcp><443/tcp>\n');
  t.is(formatOne('{{range $i, $p := .Ports}}{{$i}}={{$p}} {{end}}', rows[0]), '0=80/tcp 1=443/tcp \n');
  t.is(formatOne('{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}', rows[0]), 'com.example.tier:front;env:prod;\n');
  t.is(formatOne('{{range .Ports}}{{.}}{{else}}none{{end}}', rows[1]), 'none\n');
  t.is(formatOne('{{range .Items}}{{$.Name}}-{{.}} {{end}}', { Name: 'n', Items: [1, 2] }), 'n-1 n-2 \n');
});

test('with changes the dot', (t) => {
  t.is(formatOne('{{with .State}}{{.Status}}{{else}}gone{{end}}', { State: { Status: 'up' } }), 'up\n');
  t.is(formatOne('{{with .State}}{{.Status}}{{else}}gone{{end}}', {}), 'gone\n');
});

test('string functions, printf and println', (t) => {
  const v = { Name: 'my app', Image: 'Alpine', Tags: ['a', 'b', 'c'], Pid: 7 };
  t.is(formatOne('{{upper .Name}}|{{lower .Image}}|{{title .Name}}', v), 'MY APP|alpine|My App\n');
  t.is(formatOne('{{join .Tags ", "}}|{{len .Tags}}|{{len .Name}}', v), 'a, b, c|3|6\n');
  t.is(formatOne('{{printf "%s-%d %q %v %5s|%-4d|%%" .Name .Pid .Image .Tags "x" .Pid}}', v), 'my app-7 "Alpine" [a b c]     x|7   |%\n');
  t.is(formatOne('{{println .Name .Pid}}end', v), 'my app 7\nend\n');
  t.is(formatOne('{{.Name | upper | printf "<%s>"}}', v), '<MY APP>\n');
  t.is(formatOne('{{len (split "a:b:c" ":")}}', v), '3\n');
});

test('string literals in double quotes (with escapes) and backticks', (t) => {
  t.is(formatOne('{{"a\\"b\\tc"}}|{{`raw\\t"x"`}}', {}), 'a"b\tc|raw\\t"x"\n');
});

test('whitespace trimming markers', (t) => {
  t.is(formatOne('a  {{- .X -}}  \n b', { X: 1 }), 'a1b\n');
  t.is(formatOne('{{range .L -}}\n  {{.}}\n{{- end}}', { L: ['x', 'y'] }), 'xy\n');
  t.is(formatOne('{{/* a comment */}}ok', {}), 'ok\n');
});

test('malformed templates throw invalid_argument parsing errors', (t) => {
  const cases: [string, RegExp][] = [
    ['{{.ID', /unclosed action/],
    ['{{nosuchfn .ID}}', /function "nosuchfn" not defined/],
    ['{{end}}', /unexpected \{\{end\}\}/],
    ['{{else}}', /unexpected \{\{else\}\}/],
    ['{{if .X}}open', /missing \{\{end\}\}/],
    ['{{range .X}}{{else}}', /missing \{\{end\}\}/],
    ['{{.X | .Y}}', /non executable command/],
    ['{{(.X}}', /unclosed left paren/],
    ['{{.X)}}', /unexpected "\)"/],
    ['{{$nope}}', /undefined variable/],
    ['{{"unterminated}}', /unexpected/],
  ];
  for (const [tpl, re] of cases) {
    const err = t.throws(() => formatOne(tpl, {}), { instanceOf: EngineError }, tpl);
    t.is(err?.code, 'invalid_argument', tpl);
    t.true(err?.message.startsWith('template parsing error: '), tpl);
    t.regex(err?.message ?? '', re, tpl);
  }
  t.throws(() => formatRows('table {{.ID', rows, psOpts), { instanceOf: EngineError, message: /^template parsing error: / });
});

test('errors are reported even when there are no rows to render', (t) => {
  t.throws(() => formatRows('{{bogus}}', [], psOpts), { message: /function "bogus" not defined/ });
});

test('compileTemplate parses once and renders many values', (t) => {
  const render = compileTemplate('{{.A}}-{{.B}}');
  t.is(render({ A: 1, B: 2 }), '1-2');
  t.is(render({ A: 'x' }), 'x-<no value>');
});

test('tabwrite aligns per block like Go tabwriter', (t) => {
  // Column 1 only spans the first line (the second has no second tab), so it is sized by it alone.
  t.is(tabwrite('a\tbb\tc\nxxxx\ty\nno tabs\nq\tw\n'), 'a      bb   c\nxxxx   y\nno tabs\nq   w\n');
  t.is(tabwrite('名前\tx\nab\ty\n'), '名前   x\nab   y\n');
});
