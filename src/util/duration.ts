import { invalid } from './errors.js';

const unitNs: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration ("1m30s", "500ms", "2h"), as the docker CLI's duration flags take it, in nanoseconds. */
export function parseDuration(text: string, flag: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)];
  if (text === '0') return 0;
  if (!parts.length || parts.map((p) => p[0]).join('') !== text) throw invalid(`invalid argument ${JSON.stringify(text)} for "--${flag}" flag: time: invalid duration ${JSON.stringify(text)}`);
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * unitNs[p[2]!]!, 0));
}
