/**
 * `--format` support for list and inspect commands: the part of Go's text/template that
 * Docker users actually write, plus Docker's `table` and `json` modes.
 *
 * Pipeline: lex (text and action tokens) -> parse (AST) -> evaluate against each row.
 * A template is compiled once and reused for every row.
 */
import { EngineError } from '../util/errors.js';

export interface FormatOptions {
  /** Used when no format (or just `table`) is given, e.g. `table {{.ID}}\t{{.Image}}`. */
  defaultTable: string;
  /** Column header per field name (`ID` -> `CONTAINER ID`); otherwise derived from the name. */
  headers?: Record<string, string>;
  /** Minimum column width of the table (Docker itself uses 10). */
  minWidth?: number;
}

// ---------- tokens and AST ----------

type FieldRef = { base: 'dot' | 'root' | 'var'; name: string; path: string[] };
type Tok =
  | ({ t: 'field'; chained?: boolean } & FieldRef)
  | { t: 'lit'; v: unknown }
  | { t: 'ident'; v: string }
  | { t: '|' | '(' | ')' | ',' | ':=' };
type Item = { k: 'text'; v: string } | { k: 'action'; toks: Tok[] };

/** `pipe`: a parenthesized pipeline, with `path` the fields read from its value (`(index .X 0).Name`). */
type Operand = ({ k: 'field' } & FieldRef) | { k: 'lit'; v: unknown } | { k: 'fn'; name: string } | { k: 'pipe'; pipe: Pipe; path?: string[] };
type Pipe = Operand[][]; // commands separated by `|`; each command is operands
type Node =
  | { k: 'text'; v: string }
  | { k: 'action'; pipe: Pipe }
  | { k: 'if' | 'with' | 'range'; pipe: Pipe; vars: string[]; then: Node[]; else: Node[] };

const parseError = (what: string) => new EngineError('invalid_argument', `template parsing error: ${what}`);
const execError = (what: string) => new EngineError('invalid_argument', `template: ${what}`);

// ---------- lexer ----------

const TOKEN =
  /[ \t\r\n]*(?:(-?\}\})|(\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*")|(`[^`]*`)|(\$\w*(?:\.\w+)*|\.\w+(?:\.\w+)*|\.)|(-?\d+(?:\.\d+)?)|([A-Za-z_]\w*)|(:=|[|(),]))/y;
const GO_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'" };

function unquote(lit: string): string {
  return lit.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
    if (e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (!(e in GO_ESCAPES)) throw parseError(`unknown escape sequence \\${e} in ${lit}`);
    return GO_ESCAPES[e];
  });
}

function fieldTok(text: string): Tok {
  const [head, ...path] = text.split('.');
  if (head.startsWith('$')) return { t: 'field', base: head === '$' ? 'root' : 'var', name: head.slice(1), path };
  return { t: 'field', base: 'dot', name: '', path: path.filter((p) => p !== '') };
}

function lex(src: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let trimNext = false;
  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    // `\t` and `\n` typed in a shell arrive as two characters; Docker turns them into the real thing.
    let text = src.slice(pos, open < 0 ? src.length : open).replace(/\\([tn])/g, (_, c) => (c === 't' ? '\t' : '\n'));
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    if (open < 0) return [...items, { k: 'text', v: text }];
    const trimPrev = /^-[ \t\r\n]/.test(src.slice(open + 2, open + 4));
    items.push({ k: 'text', v: trimPrev ? text.replace(/[ \t\r\n]+$/, '') : text });
    let p = open + (trimPrev ? 4 : 2);
    const toks: Tok[] = [];
    let comment = false;
    for (;;) {
      TOKEN.lastIndex = p;
      const m = TOKEN.exec(src);
      if (!m) {
        const rest = src.slice(p).trimStart();
        throw parseError(rest ? `unexpected "${rest[0]}" in action` : 'unclosed action');
      }
      p = TOKEN.lastIndex;
      if (m[1]) break;
      if (m[2]) comment = true;
      else if (m[3]) toks.push({ t: 'lit', v: unquote(m[3]) });
      else if (m[4]) toks.push({ t: 'lit', v: m[4].slice(1, -1) });
      else if (m[5]) {
        const tok = fieldTok(m[5]);
        // `.Field` written right after `)` reads a field of the parenthesized value.
        if (m[0] === m[5] && toks.at(-1)?.t === ')' && tok.t === 'field' && tok.base === 'dot') tok.chained = true;
        toks.push(tok);
      }
      else if (m[6]) toks.push({ t: 'lit', v: Number(m[6]) });
      else if (m[7]) toks.push({ t: 'ident', v: m[7] });
      else toks.push({ t: m[8] as '|' | '(' | ')' | ',' | ':=' });
    }
    if (!(comment && toks.length === 0)) items.push({ k: 'action', toks });
    trimNext = src[p - 3] === '-';
    pos = p;
  }
  return items;
}

// ---------- parser ----------

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);
const describe = (t: Tok) => (t.t === 'ident' ? t.v : t.t === 'lit' ? JSON.stringify(t.v) : t.t === 'field' ? 'field' : `"${t.t}"`);

class Parser {
  private i = 0;
  private readonly vars: string[] = [];
  constructor(private readonly items: Item[]) {}

  parseTemplate(): Node[] {
    const r = this.parseList();
    if (r.stop) throw parseError(`unexpected {{${r.stop}}}`);
    return r.nodes;
  }

  private parseList(): { nodes: Node[]; stop?: 'else' | 'end'; rest: Tok[] } {
    const nodes: Node[] = [];
    while (this.i < this.items.length) {
      const item = this.items[this.i++];
      if (item.k === 'text' && item.v) nodes.push({ k: 'text', v: item.v });
      if (item.k === 'text') continue;
      const [head, ...rest] = item.toks;
      if (head?.t === 'ident' && (head.v === 'end' || head.v === 'else')) return { nodes, stop: head.v, rest };
      if (head?.t === 'ident' && (head.v === 'if' || head.v === 'with' || head.v === 'range')) nodes.push(this.parseBlock(head.v, rest));
      else nodes.push({ k: 'action', pipe: this.parsePipe(item.toks) });
    }
    return { nodes, rest: [] };
  }

  private parseBlock(kind: 'if' | 'with' | 'range', toks: Tok[]): Node {
    const vars: string[] = [];
    const decl = toks.findIndex((t) => t.t === ':=');
    if (kind === 'range' && decl >= 0) {
      for (const t of toks.slice(0, decl)) {
        if (t.t === 'field' && t.base === 'var' && t.path.length === 0) vars.push(t.name);
        else if (t.t !== ',') throw parseError(`unexpected ${describe(t)} in range declaration`);
      }
      if (vars.length < 1 || vars.length > 2) throw parseError('range can declare one or two variables');
      toks = toks.slice(decl + 1);
    }
    const pipe = this.parsePipe(toks);
    this.vars.push(...vars);
    const body = this.parseList();
    this.vars.splice(this.vars.length - vars.length, vars.length);
    let elseNodes: Node[] = [];
    if (!body.stop) throw parseError(`unexpected EOF: missing {{end}} for {{${kind}}}`);
    if (body.stop === 'else') {
      const [next, ...rest] = body.rest;
      if (next?.t === 'ident' && next.v === kind && kind !== 'range') {
        elseNodes = [this.parseBlock(kind, rest)]; // `{{else if}}` shares the outer {{end}}
      } else {
        if (next) throw parseError(`unexpected ${describe(next)} after else`);
        const e = this.parseList();
        if (e.stop !== 'end') throw parseError(e.stop ? 'unexpected {{else}}' : `unexpected EOF: missing {{end}} for {{${kind}}}`);
        if (e.rest.length) throw parseError(`unexpected ${describe(e.rest[0])} after end`);
        elseNodes = e.nodes;
      }
    } else if (body.rest.length) throw parseError(`unexpected ${describe(body.rest[0])} after end`);
    return { k: kind, pipe, vars, then: body.nodes, else: elseNodes };
  }

  private parsePipe(toks: Tok[]): Pipe {
    return this.pipeline(toks, { i: 0 }, false);
  }

  private pipeline(toks: Tok[], c: { i: number }, inParen: boolean): Pipe {
    const cmds: Pipe = [];
    let cmd: Operand[] = [];
    const finish = () => {
      if (cmd.length === 0) throw parseError('missing value for command');
      if (cmds.length > 0 && cmd[0].k !== 'fn') throw parseError('non executable command in pipeline');
      if (cmd.length > 1 && cmd[0].k !== 'fn') throw parseError("can't give argument to non-function");
      cmds.push(cmd);
      cmd = [];
    };
    for (;;) {
      const t = toks[c.i++];
      if (!t || t.t === ')') {
        if (!t === inParen) throw parseError(inParen ? 'unclosed left paren' : 'unexpected ")"');
        break;
      }
      if (t.t === '|') finish();
      else if (t.t === '(') {
        const pipe = this.pipeline(toks, c, true);
        const next = toks[c.i];
        if (next?.t === 'field' && next.chained) {
          c.i++;
          cmd.push({ k: 'pipe', pipe, path: next.path });
        } else cmd.push({ k: 'pipe', pipe });
      }
      else cmd.push(this.operand(t));
    }
    finish();
    return cmds;
  }

  private operand(t: Tok): Operand {
    switch (t.t) {
      case 'field':
        if (t.base === 'var' && !this.vars.includes(t.name)) throw parseError(`undefined variable "$${t.name}"`);
        return { k: 'field', base: t.base, name: t.name, path: t.path };
      case 'lit':
        return { k: 'lit', v: t.v };
      case 'ident':
        if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
        if (t.v === 'nil') return { k: 'lit', v: null };
        if (Object.hasOwn(FUNCS, t.v)) return { k: 'fn', name: t.v };
        if (KEYWORDS.has(t.v)) throw parseError(`unexpected {{${t.v}}} in command`);
        throw parseError(`function "${t.v}" not defined`);
      default:
        throw parseError(`unexpected ${describe(t)} in command`);
    }
  }
}

// ---------- values, Go style ----------

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

function entriesOf(v: unknown): [unknown, unknown][] {
  if (Array.isArray(v)) return v.map((x, i) => [i, x]);
  if (v instanceof Map) return [...v.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
  if (isMap(v)) return Object.keys(v).sort().map((k) => [k, v[k]]);
  if (v == null) return [];
  throw execError(`range can't iterate over ${goString(v)}`);
}

/** Go's `%v` formatting. */
function goString(v: unknown): string {
  if (v == null) return '<nil>';
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (v instanceof Map || isMap(v)) return `map[${entriesOf(v).map(([k, x]) => `${String(k)}:${goString(x)}`).join(' ')}]`;
  return String(v);
}

/** What `{{...}}` prints: like %v, but a missing value shows as `<no value>`. */
const show = (v: unknown) => (v == null ? '<no value>' : goString(v));

function truthy(v: unknown): boolean {
  if (v == null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string' || Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

function field(v: unknown, key: string): unknown {
  if (v instanceof Map) return v.get(key);
  return isMap(v) && Object.hasOwn(v, key) ? v[key] : undefined;
}

const str = (v: unknown) => (v == null ? '' : goString(v));

function index(v: unknown, ...keys: unknown[]): unknown {
  for (const key of keys) {
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof key !== 'number' || !Number.isInteger(key)) throw execError(`error calling index: cannot index slice with ${goString(key)}`);
      if (key < 0 || key >= v.length) throw execError(`error calling index: index out of range: ${key}`);
      v = typeof v === 'string' ? v.charCodeAt(key) : v[key];
    } else if (v instanceof Map || isMap(v)) {
      const found = v instanceof Map ? v.has(key) : Object.hasOwn(v, String(key));
      // Go returns the zero value of the map's element type: "" for string maps such as labels.
      const stringMap = entriesOf(v).every(([, x]) => typeof x === 'string');
      v = found ? field(v, String(key)) : stringMap ? '' : undefined;
    } else throw execError(`error calling index: index of ${v == null ? 'untyped nil' : goString(v)}`);
  }
  return v;
}

function sprintf(format: string, args: unknown[]): string {
  let n = 0;
  const out = format.replace(/%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])/g, (_, flags: string, width: string, prec: string, verb: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) return `%!${verb}(MISSING)`;
    const a = args[n++];
    let s: string;
    if (verb === 's' || verb === 'v') s = goString(a);
    else if (verb === 'd' && typeof a === 'number' && Number.isInteger(a)) s = String(a);
    else if (verb === 'q') s = JSON.stringify(typeof a === 'string' ? a : goString(a));
    else if (verb === 't' && typeof a === 'boolean') s = String(a);
    else if (verb === 'f' && typeof a === 'number') s = a.toFixed(prec ? Number(prec) : 6);
    else return `%!${verb}(${goString(a)})`;
    if (prec && verb === 's') s = [...s].slice(0, Number(prec)).join('');
    const pad = Math.max(0, Number(width || 0) - [...s].length);
    if (flags.includes('-')) return s + ' '.repeat(pad);
    return (flags.includes('0') && /[df]/.test(verb) ? '0' : ' ').repeat(pad) + s;
  });
  return n < args.length ? `${out}%!(EXTRA ${args.slice(n).map(goString).join(', ')})` : out;
}

function compare(a: unknown, b: unknown): number {
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')) return a < b ? -1 : a > b ? 1 : 0;
  throw execError(`incompatible types for comparison: ${goString(a)} and ${goString(b)}`);
}
function list(fn: string, v: unknown): unknown[] {
  if (v == null || Array.isArray(v)) return v ?? [];
  throw execError(`error calling ${fn}: expected a list, got ${goString(v)}`);
}
const firstOr = (i: number, fallback: number) => (i < 0 ? fallback : i);
const equal = (a: unknown, b: unknown) => a === b || (a == null && b == null);

type Fn = { min: number; max?: number; fn: (...args: unknown[]) => unknown };
const FUNCS: Record<string, Fn> = {
  json: { min: 1, max: 1, fn: (v) => JSON.stringify(v === undefined ? null : v instanceof Map ? Object.fromEntries(v) : v) },
  index: { min: 1, fn: (v, ...keys) => index(v, ...keys) },
  len: { min: 1, max: 1, fn: (v) => (typeof v === 'string' ? Buffer.byteLength(v) : Array.isArray(v) ? v.length : v instanceof Map ? v.size : isMap(v) ? Object.keys(v).length : 0) },
  upper: { min: 1, max: 1, fn: (v) => str(v).toUpperCase() },
  lower: { min: 1, max: 1, fn: (v) => str(v).toLowerCase() },
  title: { min: 1, max: 1, fn: (v) => str(v).replace(/(^|[^\p{L}\p{N}_])(\p{L})/gu, (_, sep: string, c: string) => sep + c.toUpperCase()) },
  join: { min: 2, max: 2, fn: (v, sep) => list('join', v).map(goString).join(str(sep)) },
  split: { min: 2, max: 2, fn: (v, sep) => str(v).split(str(sep)) },
  truncate: { min: 2, max: 2, fn: (v, n) => [...str(v)].slice(0, Number(n)).join('') },
  pad: { min: 3, max: 3, fn: (v, pre, post) => ' '.repeat(Number(pre)) + str(v) + ' '.repeat(Number(post)) },
  printf: { min: 1, fn: (f, ...args) => sprintf(str(f), args) },
  // Sprint puts spaces between operands when neither side is a string; Sprintln always does.
  print: { min: 0, fn: (...args) => args.map((a, i) => (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string' ? ' ' : '') + goString(a)).join('') },
  println: { min: 0, fn: (...args) => `${args.map(goString).join(' ')}\n` },
  not: { min: 1, max: 1, fn: (v) => !truthy(v) },
  and: { min: 1, fn: (...args) => args[firstOr(args.findIndex((a) => !truthy(a)), args.length - 1)] },
  or: { min: 1, fn: (...args) => args[firstOr(args.findIndex(truthy), args.length - 1)] },
  eq: { min: 2, fn: (a, ...bs) => bs.some((b) => equal(a, b)) },
  ne: { min: 2, max: 2, fn: (a, b) => !equal(a, b) },
  lt: { min: 2, max: 2, fn: (a, b) => compare(a, b) < 0 },
  le: { min: 2, max: 2, fn: (a, b) => compare(a, b) <= 0 },
  gt: { min: 2, max: 2, fn: (a, b) => compare(a, b) > 0 },
  ge: { min: 2, max: 2, fn: (a, b) => compare(a, b) >= 0 },
};

// ---------- evaluator ----------

type Scope = { dot: unknown; root: unknown; vars: Record<string, unknown> };

function evalOperand(o: Operand, s: Scope): unknown {
  if (o.k === 'lit') return o.v;
  if (o.k === 'pipe') return (o.path ?? []).reduce<unknown>((v, key) => field(v, key), evalPipe(o.pipe, s));
  if (o.k === 'fn') return call(o.name, []);
  let v = o.base === 'dot' ? s.dot : o.base === 'root' ? s.root : s.vars[o.name];
  for (const key of o.path) v = field(v, key);
  return v;
}

function call(name: string, args: unknown[]): unknown {
  const f = FUNCS[name];
  if (args.length < f.min || (f.max !== undefined && args.length > f.max)) {
    throw execError(`wrong number of args for ${name}: want ${f.max === f.min ? f.min : `at least ${f.min}`} got ${args.length}`);
  }
  return f.fn(...args);
}

function evalPipe(pipe: Pipe, s: Scope): unknown {
  let piped: unknown[] = [];
  for (const [head, ...rest] of pipe) {
    const value = head.k === 'fn' ? call(head.name, [...rest.map((o) => evalOperand(o, s)), ...piped]) : evalOperand(head, s);
    piped = [value];
  }
  return piped[0];
}

function execList(nodes: Node[], s: Scope, out: string[]): void {
  for (const n of nodes) {
    if (n.k === 'text') out.push(n.v);
    else if (n.k === 'action') out.push(show(evalPipe(n.pipe, s)));
    else if (n.k === 'if') execList(truthy(evalPipe(n.pipe, s)) ? n.then : n.else, s, out);
    else if (n.k === 'with') {
      const v = evalPipe(n.pipe, s);
      if (truthy(v)) execList(n.then, { ...s, dot: v }, out);
      else execList(n.else, s, out);
    } else {
      const entries = entriesOf(evalPipe(n.pipe, s));
      if (entries.length === 0) execList(n.else, s, out);
      for (const [key, value] of entries) {
        const vars = { ...s.vars };
        if (n.vars.length === 1) vars[n.vars[0]] = value;
        if (n.vars.length === 2) [vars[n.vars[0]], vars[n.vars[1]]] = [key, value];
        execList(n.then, { ...s, dot: value, vars }, out);
      }
    }
  }
}

function run(nodes: Node[], value: unknown): string {
  const out: string[] = [];
  execList(nodes, { dot: value, root: value, vars: {} }, out);
  return out.join('');
}

// ---------- table header and alignment ----------

function firstField(pipe: Pipe): string[] | undefined {
  for (const o of pipe.flat()) {
    const path = o.k === 'field' ? o.path : o.k === 'pipe' ? firstField(o.pipe) : undefined;
    if (path) return path;
  }
  return undefined;
}

function headerName(path: string[], headers: Record<string, string>): string {
  const last = path[path.length - 1] ?? '';
  for (const key of [path.join('.'), last]) if (Object.hasOwn(headers, key)) return headers[key];
  return last.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2').toUpperCase();
}

/** Renders the header line: each action becomes the header of the first field it uses. */
function renderHeader(nodes: Node[], headers: Record<string, string>): string {
  const header = (n: Node) => {
    if (n.k === 'text') return n.v;
    const path = firstField(n.pipe);
    return path ? headerName(path, headers) : n.k === 'action' ? run([n], {}) : '';
  };
  return nodes.map(header).join('');
}

/**
 * Aligns tab-separated cells like Go's text/tabwriter (flags 0, pad char ' '): a column's width
 * is the widest cell plus padding in each block of consecutive lines that have that column.
 * Text after a line's last tab is not part of a column and is never padded.
 */
export function tabwrite(text: string, opts: { minWidth?: number; padding?: number } = {}): string {
  const { minWidth = 0, padding = 3 } = opts;
  const lines = text.split('\n');
  const trailingNewline = lines[lines.length - 1] === '';
  if (trailingNewline) lines.pop();
  const cells = lines.map((l) => l.split('\t'));
  const width = (s: string) => [...s].length;
  const widths: number[] = [];
  const out: string[] = [];
  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const row = cells[i].map((c, j) => (j < widths.length ? c + ' '.repeat(Math.max(0, widths[j] - width(c))) : c));
      out.push(row.join('').replace(/ +$/, ''));
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let i = line0; i < line1; i++) {
      if (column >= cells[i].length - 1) continue;
      writeLines(line0, i); // lines above the block that starts here
      line0 = i;
      let w = minWidth;
      for (; i < line1 && column < cells[i].length - 1; i++) w = Math.max(w, width(cells[i][column]) + padding);
      widths.push(w);
      format(line0, i);
      widths.pop();
      line0 = i;
    }
    writeLines(line0, line1);
  };
  format(0, cells.length);
  return out.join('\n') + (trailingNewline ? '\n' : '');
}

// ---------- public API ----------

const cache = new Map<string, Node[]>();

function compile(src: string): Node[] {
  const cached = cache.get(src);
  if (cached) return cached;
  const nodes = new Parser(lex(src)).parseTemplate();
  if (cache.size >= 64) cache.delete(cache.keys().next().value as string);
  cache.set(src, nodes);
  return nodes;
}


/** Compiles a template once; the returned function renders it for one value (no newline added). */
export function compileTemplate(src: string): (value: unknown) => string {
  const nodes = compile(src);
  return (value) => run(nodes, value);
}

/** Output of a list command (`ps`, `images`, ...) for `--format`; empty string when nothing to print. */
export function formatRows(format: string | undefined, rows: Record<string, unknown>[], opts: FormatOptions): string {
  const useDefault = format === undefined || format.trim() === 'table';
  const given = useDefault ? opts.defaultTable : format;
  if (given.trim() === 'json') return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  const table = useDefault || given === 'table' || given.startsWith('table ');
  const body = (table && given.startsWith('table') ? given.slice(5) : given).replace(/^ +| +$/g, '');
  const nodes = compile(body);
  if (!table) return rows.map((r) => `${run(nodes, r)}\n`).join('');
  const lines = [renderHeader(nodes, opts.headers ?? {}), ...rows.map((r) => run(nodes, r))];
  return tabwrite(`${lines.join('\n')}\n`, { minWidth: opts.minWidth ?? 0, padding: 3 });
}

/** Output of `inspect --format` for one object: the template rendered once, plus a newline. */
export function formatOne(format: string, value: unknown): string {
  const src = format.trim() === 'json' ? '{{json .}}' : format;
  return `${run(compile(src), value)}\n`;
}
