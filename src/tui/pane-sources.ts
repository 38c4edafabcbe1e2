/** What the detail pane shows, built from the engine's replies; lines live here, not in React state. */
import type { PaneLine, PaneSource } from './view-models.js';
import type { LogRing } from './log-buffer.js';

export class StaticLines implements PaneSource {
  version = 0;
  constructor(private lines: PaneLine[] = []) {}
  get length(): number { return this.lines.length; }
  at(i: number): PaneLine { return this.lines[i]!; }
  set(lines: PaneLine[]): void {
    this.lines = lines;
    this.version++;
  }
}

/** The log ring seen as pane lines (stderr lines are marked). */
export class LogLines implements PaneSource {
  constructor(readonly ring: LogRing) {}
  get length(): number { return this.ring.length; }
  get version(): number { return this.ring.version; }
  get dropped(): number { return this.ring.dropped; }
  at(i: number): PaneLine {
    const line = this.ring.at(i);
    return { text: line.text, time: line.time, tone: line.stream === 'stderr' ? 'warn' : undefined };
  }
}

export function inspectLines(value: unknown): PaneLine[] {
  return JSON.stringify(value, null, 2).split('\n').map((text) => ({ text }));
}

export function envLines(inspect: Record<string, unknown>): PaneLine[] {
  const env = ((inspect.Config as { Env?: string[] } | undefined)?.Env ?? []).slice().sort();
  return env.length ? env.map((text) => ({ text })) : [{ text: '(no environment variables)', tone: 'dim' }];
}

interface PortBinding { HostIp?: string; HostPort?: string }
interface EndpointSettings { IPAddress?: string; Gateway?: string; MacAddress?: string; Aliases?: string[] | null }

export function portLines(inspect: Record<string, unknown>): PaneLine[] {
  const settings = (inspect.NetworkSettings ?? {}) as { Ports?: Record<string, PortBinding[] | null>; Networks?: Record<string, EndpointSettings> };
  const hostConfig = (inspect.HostConfig ?? {}) as { NetworkMode?: string };
  const lines: PaneLine[] = [{ text: `Network mode: ${hostConfig.NetworkMode ?? 'default'}`, tone: 'dim' }, { text: 'Ports', tone: 'dim' }];
  const ports = Object.entries(settings.Ports ?? {});
  if (!ports.length) lines.push({ text: '  (none published)' });
  for (const [port, bindings] of ports) {
    const to = (bindings ?? []).map((b) => `${b.HostIp || '0.0.0.0'}:${b.HostPort}`).join(', ');
    lines.push({ text: `  ${port.padEnd(12)} ${to ? `→ ${to}` : '(exposed, not published)'}` });
  }
  lines.push({ text: 'Networks', tone: 'dim' });
  const networks = Object.entries(settings.Networks ?? {});
  if (!networks.length) lines.push({ text: '  (none)' });
  for (const [name, ep] of networks) {
    lines.push({ text: `  ${name.padEnd(14)} ${ep.IPAddress || '-'}${ep.Gateway ? ` gw ${ep.Gateway}` : ''}${ep.Aliases?.length ? ` aliases ${ep.Aliases.join(',')}` : ''}` });
  }
  return lines;
}

export function topLines(top: { Titles: string[]; Processes: string[][] }): PaneLine[] {
  const widths = top.Titles.map((t, i) => Math.max(t.length, ...top.Processes.map((p) => (p[i] ?? '').length)));
  const row = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [{ text: row(top.Titles), tone: 'dim' }, ...top.Processes.map((p) => ({ text: row(p) }))];
}

const changeKinds = ['C', 'A', 'D'];
export function changeLines(changes: { Path: string; Kind: number }[] | null): PaneLine[] {
  if (!changes?.length) return [{ text: '(no changes to the image\'s files)', tone: 'dim' }];
  return changes.map((c) => ({ text: `${changeKinds[c.Kind] ?? '?'} ${c.Path}`, tone: c.Kind === 2 ? 'warn' : c.Kind === 1 ? 'running' : undefined }));
}
