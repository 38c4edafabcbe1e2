import { invalid } from '../util/errors.js';

/** `-f name=value` flags as the API's filters map ({name: [values]}). */
export function parseFilterFlags(values: string[] | undefined): Record<string, string[]> {
  const filters: Record<string, string[]> = {};
  for (const item of values ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalid(`bad format of filter (expected name=value): ${item}`);
    (filters[item.slice(0, eq)] ??= []).push(item.slice(eq + 1));
  }
  return filters;
}
