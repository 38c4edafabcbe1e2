import { invalid } from '../util/errors.js';

/**
 * Dockerfile parsing: the `escape` directive, comments, line continuations, instruction flags
 * (`--from=x`), JSON (exec) and shell forms, and variable substitution ($VAR, ${VAR}, ${VAR:-default},
 * ${VAR:+alternative}), and here-documents after RUN, COPY and ADD (`<<EOF`, `<<-EOF`, quoted delimiters). Errors name the file and line: `Dockerfile:7: unknown instruction: RUNN`.
 */

export interface Instruction {
  line: number;
  keyword: string;
  /** The text after the keyword and its flags, continuations joined. */
  args: string;
  flags: Record<string, string>;
  /** The exec form's array, when the arguments are one. */
  json?: string[];
  /** The original text, for history and progress output. */
  original: string;
  /** Here-documents the instruction line opened (`<<EOF`), in order; only RUN, COPY and ADD take them. */
  heredocs?: Heredoc[];
}

export interface Heredoc {
  name: string;
  /** The body as written, every line with its newline; `<<-` tab stripping is left to the user of it. */
  content: string;
  /** False when the delimiter was quoted (`<<'EOF'`, `<<"EOF"`): no variable expansion in the body. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body's lines (and the terminator may be indented by tabs). */
  chomp: boolean;
}

const heredocTakers = new Set(['RUN', 'COPY', 'ADD']);
/** `<<EOF`, `<<-EOF`, `<<'EOF'`, `<<"EOF"` (not `<<<`). */
const heredocMarker = /^<<(-?)(?:'([A-Za-z0-9_.-]+)'|"([A-Za-z0-9_.-]+)"|([A-Za-z0-9_.-]+))/;

/** Here-document markers in an instruction line, outside quotes, in order. */
export function heredocMarkers(text: string): Array<Omit<Heredoc, 'content'> & { marker: string }> {
  const found: Array<Omit<Heredoc, 'content'> & { marker: string }> = [];
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === '\\') { i++; continue; }
    if (c === '"' || c === "'") { quote = c; continue; }
    if (c !== '<' || text[i + 1] !== '<' || text[i - 1] === '<' || text[i + 2] === '<') continue;
    const m = heredocMarker.exec(text.slice(i));
    if (!m) continue;
    found.push({ marker: m[0], name: m[2] ?? m[3] ?? m[4]!, expand: m[4] !== undefined, chomp: m[1] === '-' });
    i += m[0].length - 1;
  }
  return found;
}

/** `<<-` bodies: each line without its leading tabs. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

const known = new Set(['FROM', 'RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'ENV', 'ARG', 'LABEL', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR', 'COPY', 'ADD', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'MAINTAINER']);
const flagged: Record<string, string[]> = {
  FROM: ['platform'], COPY: ['from', 'chown', 'chmod', 'link'], ADD: ['chown', 'chmod', 'checksum', 'link', 'keep-git-dir'],
  RUN: ['network', 'mount', 'security'],
};

/** One instruction's line (continuations already joined): keyword, flags, arguments, exec form. */
function parseLine(raw: string, line: number, file: string): Omit<Instruction, 'heredocs'> {
  const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(raw)!;
  const keyword = m[1]!.toUpperCase();
  if (!known.has(keyword)) throw invalid(`${file}:${line}: unknown instruction: ${m[1]}`);
  let rest = m[2]!.trim();
  const flags: Record<string, string> = {};
  // HEALTHCHECK's flags are its own arguments (parsed with it); RUN --mount may repeat.
  for (let f = keyword === 'HEALTHCHECK' ? null : /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); f; f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
    if (!(flagged[keyword] ?? []).includes(f[1]!)) throw invalid(`${file}:${line}: unknown flag: --${f[1]} for ${keyword}`);
    flags[f[1]!] = flags[f[1]!] !== undefined && f[1] === 'mount' ? `${flags[f[1]!]}\n${f[2] ?? ''}` : f[2] ?? 'true';
    rest = rest.slice(f[0].length);
  }
  let json: string[] | undefined;
  if (rest.startsWith('[')) {
    try {
      const parsed = JSON.parse(rest) as unknown;
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) json = parsed;
    } catch { /* the shell form, as Docker falls back */ }
  }
  if (rest === '' && !['CMD', 'ENTRYPOINT'].includes(keyword)) throw invalid(`${file}:${line}: ${keyword} requires at least one argument`);
  if (keyword === 'ONBUILD') parseTrigger(rest, line, file);
  return { line, keyword, args: rest, flags, json, original: `${keyword} ${raw.trim().slice(m[1]!.length).trim()}`.trim() };
}

/**
 * An ONBUILD trigger (the text after ONBUILD), checked when the Dockerfile is parsed and parsed again when
 * an image that holds it is used as a base; `line` is where the error is reported.
 */
export function parseTrigger(text: string, line: number, file: string): Instruction {
  const keyword = /^\S+/.exec(text)?.[0]?.toUpperCase();
  if (keyword === 'ONBUILD') throw invalid(`${file}:${line}: chaining ONBUILD via \`ONBUILD ONBUILD\` isn't allowed`);
  if (keyword === 'FROM' || keyword === 'MAINTAINER') throw invalid(`${file}:${line}: ${keyword} isn't allowed as an ONBUILD trigger`);
  if (heredocMarkers(text).length) throw invalid(`${file}:${line}: heredocs are not supported in ONBUILD triggers`);
  return parseLine(text, line, file);
}

export function parseDockerfile(text: string, file = 'Dockerfile'): Instruction[] {
  const lines = text.split(/\r?\n/);
  let escape = '\\';
  // Parser directives: only at the very top, before any other line.
  for (const line of lines) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(line);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw invalid(`${file}:1: invalid escape token ${JSON.stringify(m[2])} does not validate`);
      escape = m[2]!;
    }
  }
  const instructions: Instruction[] = [];
  let i = 0;
  while (i < lines.length) {
    const start = i;
    let raw = lines[i]!;
    i++;
    if (/^\s*#/.test(raw) || raw.trim() === '') continue;
    // Join continuations; comment lines inside a continuation are dropped, as Docker does.
    while (raw.trimEnd().endsWith(escape) && i < lines.length) {
      raw = raw.trimEnd().slice(0, -1);
      let next = lines[i]!;
      i++;
      while (/^\s*#/.test(next) && i < lines.length) { next = lines[i]!; i++; }
      raw += next;
    }
    const { keyword, args: rest, flags, json, original } = parseLine(raw, start + 1, file);
    let heredocs: Heredoc[] | undefined;
    if (heredocTakers.has(keyword) && !json) {
      // The bodies follow the instruction line, one after the other, each up to its own terminator line.
      for (const marker of heredocMarkers(rest)) {
        let content = '';
        let terminated = false;
        while (i < lines.length) {
          const body = lines[i]!;
          i++;
          if ((marker.chomp ? body.replace(/^\t+/, '') : body) === marker.name) { terminated = true; break; }
          content += `${body}\n`;
        }
        if (!terminated) throw invalid(`${file}:${start + 1}: unterminated heredoc ${marker.marker}: no line ${JSON.stringify(marker.name)} ends it`);
        (heredocs ??= []).push({ name: marker.name, content, expand: marker.expand, chomp: marker.chomp });
      }
    }
    instructions.push({ line: start + 1, keyword, args: rest, flags, json, original, ...(heredocs ? { heredocs } : {}) });
  }
  if (!instructions.some((x) => x.keyword === 'FROM')) throw invalid(`${file}: no FROM instruction (a Dockerfile must start with FROM)`);
  const first = instructions.find((x) => x.keyword !== 'ARG');
  if (first && first.keyword !== 'FROM') throw invalid(`${file}:${first.line}: ${first.keyword} before the first FROM`);
  return instructions;
}

/** $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alternative}; `\$` is a literal dollar. Unknown variables are empty. */
export function substitute(text: string, vars: Record<string, string>, where = ''): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && text[i + 1] === '$') { out += '$'; i++; continue; }
    if (c !== '$') { out += c; continue; }
    if (text[i + 1] === '{') {
      const end = text.indexOf('}', i + 2);
      if (end < 0) throw invalid(`${where}missing '}' in ${JSON.stringify(text)}`);
      const body = text.slice(i + 2, end);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([\s\S]*))?$/.exec(body);
      if (!m) throw invalid(`${where}bad substitution ${JSON.stringify(`\${${body}}`)}`);
      const value = vars[m[1]!];
      if (m[2] === '-') out += value ? value : substitute(m[3]!, vars, where);
      else if (m[2] === '+') out += value ? substitute(m[3]!, vars, where) : '';
      else out += value ?? '';
      i = end;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
    if (!m) { out += c; continue; }
    out += vars[m[0]] ?? '';
    i += m[0].length;
  }
  return out;
}

/** `KEY=VALUE KEY2="two words"` (or the legacy `KEY VALUE`), quotes removed. */
export function keyValuePairs(text: string, where: string): Array<[string, string]> {
  if (!/^[^\s=]+=/.test(text)) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(text);
    if (!m) throw invalid(`${where}needs KEY=VALUE`);
    return [[m[1]!, m[2]!.trim()]];
  }
  const pairs: Array<[string, string]> = [];
  const re = /([^\s=]+)=("((?:[^"\\]|\\.)*)"|'([^']*)'|((?:[^\s\\]|\\.)*))\s*/gy;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw invalid(`${where}cannot parse ${JSON.stringify(text.slice(pos))} as KEY=VALUE`);
    pairs.push([m[1]!, m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4] ?? (m[5] ?? '').replace(/\\(.)/g, '$1')]);
    pos = re.lastIndex;
  }
  return pairs;
}
