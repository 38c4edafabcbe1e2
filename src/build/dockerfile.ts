import { invalid } from '../util/errors.js';

/**
 * Dockerfile parsing: the `escape` directive, comments, line continuations, instruction flags
 * (`--from=x`), JSON (exec) and shell forms, and variable substitution ($VAR, ${VAR}, ${VAR:-default},
 * ${VAR:+alternative}). Errors name the file and line: `Dockerfile:7: unknown instruction: RUNN`.
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
}

const known = new Set(['FROM', 'RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'ENV', 'ARG', 'LABEL', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR', 'COPY', 'ADD', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'MAINTAINER']);
const flagged: Record<string, string[]> = {
  FROM: ['platform'], COPY: ['from', 'chown', 'chmod', 'link'], ADD: ['chown', 'chmod', 'checksum', 'link'],
  RUN: ['network', 'mount', 'security'],
};

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
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(raw)!;
    const keyword = m[1]!.toUpperCase();
    if (!known.has(keyword)) throw invalid(`${file}:${start + 1}: unknown instruction: ${m[1]}`);
    let rest = m[2]!.trim();
    if (/^<</.test(rest) || (keyword === 'RUN' || keyword === 'COPY') && /(^|\s)<<-?\w/.test(rest)) {
      throw invalid(`${file}:${start + 1}: heredocs are not supported yet`);
    }
    const flags: Record<string, string> = {};
    // HEALTHCHECK's flags are its own arguments (parsed with it); RUN --mount may repeat.
    for (let f = keyword === 'HEALTHCHECK' ? null : /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); f; f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
      if (!(flagged[keyword] ?? []).includes(f[1]!)) throw invalid(`${file}:${start + 1}: unknown flag: --${f[1]} for ${keyword}`);
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
    if (rest === '' && !['CMD', 'ENTRYPOINT'].includes(keyword)) throw invalid(`${file}:${start + 1}: ${keyword} requires at least one argument`);
    instructions.push({ line: start + 1, keyword, args: rest, flags, json, original: `${keyword} ${raw.trim().slice(m[1]!.length).trim()}`.trim() });
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
