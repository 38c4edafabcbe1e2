import { invalid } from '../util/errors.js';

/** Repeated `KEY=VALUE` flags (`--label`, `--opt`) as a map; a bare KEY has the empty value. */
export function parseKeyValueFlags(values: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    const eq = value.indexOf('=');
    if (eq === 0) throw invalid(`invalid ${what}: ${value}`);
    out[eq < 0 ? value : value.slice(0, eq)] = eq < 0 ? '' : value.slice(eq + 1);
  }
  return out;
}
