/**
 * The `/` filter of the dashboard's lists: whitespace-separated terms that must all match. A term is
 * text (a case-insensitive substring of the row's text), `label=KEY` or `label=KEY=VALUE` (the row's
 * labels), or either of those after `!` (the row must not match).
 */

export interface Filterable {
  /** Everything a text term may match: name, image, state, ID... */
  text: string;
  labels: Record<string, string> | null | undefined;
}

type Term = (row: Filterable) => boolean;

function compileTerm(term: string): Term {
  if (term.startsWith('label=')) {
    const spec = term.slice('label='.length);
    const eq = spec.indexOf('=');
    const key = eq < 0 ? spec : spec.slice(0, eq);
    const value = eq < 0 ? undefined : spec.slice(eq + 1);
    return (row) => {
      const labels = row.labels ?? {};
      if (!Object.hasOwn(labels, key)) return false;
      return value === undefined || labels[key] === value;
    };
  }
  const needle = term.toLowerCase();
  return (row) => row.text.toLowerCase().includes(needle);
}

export function compileFilter(expression: string): (row: Filterable) => boolean {
  const terms = expression.trim().split(/\s+/).filter((t) => t !== '' && t !== '!').map((raw) => {
    const negate = raw.startsWith('!');
    const term = compileTerm(negate ? raw.slice(1) : raw);
    return negate ? (row: Filterable) => !term(row) : term;
  });
  if (terms.length === 0) return () => true;
  return (row) => terms.every((t) => t(row));
}
