/**
 * `.dockerignore` as the docker CLI reads it: one pattern per line, `#` comments, `!` exceptions, the last
 * matching pattern wins; `*` and `?` stay within one path component, `**` spans any number; a pattern that
 * matches a directory excludes what is below it.
 */
export interface IgnoreRules {
  /** Whether a context path (slash-separated, relative) is left out. */
  excluded(rel: string): boolean;
  /** Whether some exception could bring back something below this excluded directory. */
  mayInclude(dirRel: string): boolean;
}

function toRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += c.replace(/[.+^${}()|[\]]/g, '\\$&');
  }
  return new RegExp(`^${re}(/.*)?$`);
}

export function parseDockerignore(text: string): IgnoreRules {
  const rules: Array<{ exception: boolean; re: RegExp; prefix: string }> = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exception = line.startsWith('!');
    if (exception) line = line.slice(1).trim();
    line = line.replace(/^\/+/, '').replace(/\/+$/, '');
    const normalized = line.split('/').filter((p) => p !== '' && p !== '.').join('/');
    if (normalized === '') continue;
    rules.push({ exception, re: toRegex(normalized), prefix: normalized.split(/[*?[\\]/)[0]! });
  }
  return {
    excluded(rel) {
      let out = false;
      for (const rule of rules) if (rule.re.test(rel)) out = !rule.exception;
      return out;
    },
    mayInclude(dirRel) {
      return rules.some((r) => r.exception && (r.prefix.startsWith(`${dirRel}/`) || r.prefix === '' || `${dirRel}/`.startsWith(r.prefix)));
    },
  };
}
