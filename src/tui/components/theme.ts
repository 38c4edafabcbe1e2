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
