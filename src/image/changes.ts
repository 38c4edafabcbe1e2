import { invalid } from '../util/errors.js';
import type { ContainerDefaults, HealthConfig } from './types.js';
import { parseDuration } from '../util/duration.js';

/** `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D] [--retries=N] CMD ...` or `NONE`. */
export function parseHealthcheck(text: string): HealthConfig {
  let rest = text.trim();
  const config: HealthConfig = {};
  const durations: Record<string, 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval'> = { interval: 'Interval', timeout: 'Timeout', 'start-period': 'StartPeriod', 'start-interval': 'StartInterval' };
  for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(rest); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
    const [whole, flag, value] = m as unknown as [string, string, string];
    if (flag === 'retries') {
      if (!/^\d+$/.test(value)) throw invalid(`HEALTHCHECK: invalid --retries ${JSON.stringify(value)}`);
      config.Retries = Number(value);
    } else if (durations[flag]) {
      config[durations[flag]] = parseDuration(value, flag);
    } else {
      throw invalid(`HEALTHCHECK: unknown flag --${flag}`);
    }
    rest = rest.slice(whole.length);
  }
  const kind = /^(\w+)\s*([\s\S]*)$/.exec(rest);
  if (kind?.[1]?.toUpperCase() === 'NONE' && !kind[2]) return { Test: ['NONE'] };
  if (kind?.[1]?.toUpperCase() !== 'CMD' || !kind[2]) throw invalid('HEALTHCHECK needs NONE or CMD followed by a command');
  const command = kind[2].trim();
  config.Test = command.startsWith('[') ? ['CMD', ...commandForm(command, 'HEALTHCHECK')] : ['CMD-SHELL', command];
  return config;
}

function commandForm(text: string, instruction: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw invalid(`${instruction}: invalid JSON array: ${trimmed}`);
    }
    if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) throw invalid(`${instruction}: expected a JSON array of strings`);
    return parsed;
  }
  return ['/bin/sh', '-c', trimmed];
}

/** `KEY=VALUE KEY2="two words"` or the legacy `KEY VALUE` form, as Dockerfile ENV and LABEL take them. */
function keyValues(text: string, instruction: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (!text.includes('=')) {
    const space = text.indexOf(' ');
    if (space <= 0) throw invalid(`${instruction} needs KEY=VALUE`);
    return [[text.slice(0, space), text.slice(space + 1).trim()]];
  }
  const pattern = /([^\s=]+)=("((?:[^"\\]|\\.)*)"|'([^']*)'|(\S*))/g;
  let match: RegExpExecArray | null;
  let consumed = '';
  while ((match = pattern.exec(text))) {
    pairs.push([match[1]!, match[3] !== undefined ? match[3].replace(/\\(.)/g, '$1') : match[4] ?? match[5] ?? '']);
    consumed += match[0];
  }
  if (consumed.replace(/\s/g, '').length !== text.replace(/\s/g, '').length) throw invalid(`${instruction}: cannot parse ${JSON.stringify(text)}`);
  return pairs;
}

/** Applies `--change` Dockerfile instructions (import, later commit) to an image's container defaults. */
export function applyChanges(base: ContainerDefaults, changes: string[]): ContainerDefaults {
  const config: ContainerDefaults = { ...base };
  for (const change of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
    if (!m) throw invalid(`invalid --change: ${JSON.stringify(change)}`);
    const instruction = m[1]!.toUpperCase();
    const arg = m[2]!.trim();
    switch (instruction) {
      case 'CMD': config.Cmd = commandForm(arg, instruction); break;
      case 'ENTRYPOINT': config.Entrypoint = commandForm(arg, instruction); break;
      case 'WORKDIR': config.WorkingDir = arg; break;
      case 'USER': config.User = arg; break;
      case 'STOPSIGNAL': config.StopSignal = arg; break;
      case 'HEALTHCHECK': config.Healthcheck = parseHealthcheck(arg); break;
      case 'ENV': {
        const env = [...(config.Env ?? [])];
        for (const [key, value] of keyValues(arg, instruction)) {
          const at = env.findIndex((e) => e.split('=')[0] === key);
          if (at >= 0) env[at] = `${key}=${value}`;
          else env.push(`${key}=${value}`);
        }
        config.Env = env;
        break;
      }
      case 'LABEL': config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(keyValues(arg, instruction)) }; break;
      case 'EXPOSE': {
        const ports = { ...(config.ExposedPorts ?? {}) };
        for (const port of arg.split(/\s+/)) {
          if (!/^\d+(\/(tcp|udp|sctp))?$/.test(port)) throw invalid(`EXPOSE: invalid port ${port}`);
          ports[port.includes('/') ? port : `${port}/tcp`] = {};
        }
        config.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const volumes = { ...(config.Volumes ?? {}) };
        for (const volume of arg.startsWith('[') ? commandForm(arg, instruction) : arg.split(/\s+/)) volumes[volume] = {};
        config.Volumes = volumes;
        break;
      }
      default:
        throw invalid(`${instruction} is not supported by --change (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR are)`);
    }
  }
  return config;
}
