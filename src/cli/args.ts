import { invalid } from '../util/errors.js';

export type FlagType = 'bool' | 'string' | 'list' | 'int';

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  help: string;
  /** Docker accepts some flags under older names (e.g. --time for --timeout). */
  aliases?: string[];
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | number | undefined>;
  positionals: string[];
}

/**
 * Docker's flag grammar: `-it` (combined booleans), `-e X`, `-e=X`, `--env X`, `--env=X`, `--flag=false`;
 * with `stopAtPositional` everything after the first positional belongs to the container command.
 */
export function parseArgs(argv: string[], specs: FlagSpec[], opts: { stopAtPositional?: boolean; command: string }): ParsedArgs {
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const spec of [...specs, { name: 'help', type: 'bool' as const, help: 'Print usage' }]) {
    byLong.set(spec.name, spec);
    for (const alias of spec.aliases ?? []) byLong.set(alias, spec);
    if (spec.short) byShort.set(spec.short, spec);
  }
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  const set = (spec: FlagSpec, value: string | undefined, takeNext: () => string | undefined, shown: string) => {
    if (spec.type === 'bool') {
      if (value !== undefined && !['true', 'false', '1', '0'].includes(value)) throw invalid(`invalid argument "${value}" for "${shown}" flag: parse error`);
      flags[spec.name] = value === undefined ? true : value === 'true' || value === '1';
      return;
    }
    const text = value ?? takeNext();
    if (text === undefined) throw invalid(`flag needs an argument: ${shown}`);
    if (spec.type === 'int') {
      if (!/^-?\d+$/.test(text)) throw invalid(`invalid argument "${text}" for "${shown}" flag: not an integer`);
      flags[spec.name] = Number(text);
    } else if (spec.type === 'list') {
      ((flags[spec.name] ??= []) as string[]).push(text);
    } else flags[spec.name] = text;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const takeNext = () => (i + 1 < argv.length ? argv[++i] : undefined);
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq >= 0 ? eq : undefined);
      const spec = byLong.get(name);
      if (!spec) throw invalid(`unknown flag: --${name}`, `See 'roost ${opts.command} --help'.`);
      set(spec, eq >= 0 ? arg.slice(eq + 1) : undefined, takeNext, `--${name}`);
    } else if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const spec = byShort.get(arg[j]!);
        if (!spec) throw invalid(`unknown shorthand flag: '${arg[j]}' in ${arg}`, `See 'roost ${opts.command} --help'.`);
        if (spec.type === 'bool') {
          if (arg[j + 1] === '=') { set(spec, arg.slice(j + 2), takeNext, `-${arg[j]}`); break; }
          set(spec, undefined, takeNext, `-${arg[j]}`);
          continue;
        }
        const rest = arg.slice(j + 1);
        set(spec, rest === '' ? undefined : rest.replace(/^=/, ''), takeNext, `-${arg[j]}`);
        break;
      }
    } else {
      positionals.push(arg);
      if (opts.stopAtPositional) {
        positionals.push(...argv.slice(i + 1));
        break;
      }
    }
  }
  return { flags, positionals };
}

export function usage(command: string, synopsis: string, description: string, specs: FlagSpec[]): string {
  const lines = [`Usage:  roost ${command} ${synopsis}`, '', description, ''];
  if (specs.length) {
    lines.push('Options:');
    const rows = specs.map((s) => [`${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.type === 'bool' ? '' : s.type === 'int' ? ' int' : s.type === 'list' ? ' list' : ' string'}`, s.help]);
    const width = Math.max(...rows.map((r) => r[0]!.length));
    for (const [left, right] of rows) lines.push(`  ${left!.padEnd(width)}   ${right}`);
  }
  return lines.join('\n') + '\n';
}
