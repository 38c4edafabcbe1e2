import type { Tone } from '../view-models.js';

/** Colours per tone; with NO_COLOR every tone is plain text and state shows by glyph and word alone. */
export interface Theme { color(tone: Tone | undefined): string | undefined; dim(tone: Tone | undefined): boolean; accent?: string }

const colors: Partial<Record<Tone, string>> = { running: 'green', paused: 'yellow', created: 'cyan', error: 'red', warn: 'yellow' };

export const colorTheme: Theme = {
  color: (tone) => (tone ? colors[tone] : undefined),
  dim: (tone) => tone === 'stopped' || tone === 'dim',
  accent: 'cyan',
};

export const monoTheme: Theme = { color: () => undefined, dim: () => false };

const codes: Record<string, number> = { black: 30, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, white: 37 };

/**
 * Styles a line with SGR codes directly. The big areas (the list, the pane) are drawn as one Text of
 * many such lines: Ink's cost is per node, and a frame of forty nodes of nested Text took ~20 ms.
 */
export function sgr(text: string, style: { color?: string; inverse?: boolean; dim?: boolean; bold?: boolean; underline?: boolean }): string {
  const on: number[] = [];
  if (style.bold) on.push(1);
  if (style.dim) on.push(2);
  if (style.underline) on.push(4);
  if (style.inverse) on.push(7);
  if (style.color && codes[style.color]) on.push(codes[style.color]!);
  return on.length ? `\x1b[${on.join(';')}m${text}\x1b[0m` : text;
}
