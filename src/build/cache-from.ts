import type { HistoryEntry } from '../image/types.js';

/**
 * `--cache-from IMAGE`: a local image seeds the build cache. Every layer a build commits carries its step's
 * cache key (a prefix of it) in its history entry's comment. A step missing from the cache is taken from such
 * an image when the image continues the current image exactly: the parent's layers and history entries are
 * the image's first ones, the step's config-only entries (ARG, ENV, ...) come next with the same text, and the
 * layer entry after them carries the step's key. The key covers what the build cache's key covers (parent,
 * config, instruction, build args, COPY sources' content), so a reused layer is one the same step made.
 */

const prefix = 'roost.cache-key=';

/** The comment of a layer entry a build commits for the step of this key. */
export function keyComment(key: string): string {
  return `${prefix}${key.slice(0, 24)}`;
}

export interface LayerImage {
  diffIds: string[];
  history: HistoryEntry[];
}

/**
 * The history of the step's image as `donor` has it (ending with the layer entry), when `donor` holds the
 * layer the step of `key` made on `parent` after the `pending` config-only entries; else undefined.
 */
export function cachedLayer(donor: LayerImage, parent: LayerImage, pending: HistoryEntry[], key: string): HistoryEntry[] | undefined {
  const layers = parent.diffIds.length;
  if (donor.diffIds.length <= layers || parent.diffIds.some((id, i) => donor.diffIds[i] !== id)) return undefined;
  const at = parent.history.length;
  if (donor.history.length <= at + pending.length) return undefined;
  if (parent.history.some((entry, i) => JSON.stringify(entry) !== JSON.stringify(donor.history[i]))) return undefined;
  for (const [i, entry] of pending.entries()) {
    const theirs = donor.history[at + i]!;
    if (theirs.created_by !== entry.created_by || !theirs.empty_layer) return undefined;
  }
  const layer = donor.history[at + pending.length]!;
  if (layer.empty_layer || layer.comment !== keyComment(key)) return undefined;
  return donor.history.slice(0, at + pending.length + 1);
}

/**
 * Whether `donor` is the image that `parent` with the `pending` config-only steps and `config` makes: then the
 * build's result is the donor itself, and a rebuild from it gives the same image ID.
 */
export function sameConfigImage(donor: LayerImage & { config: unknown }, parent: LayerImage, pending: HistoryEntry[], config: unknown): boolean {
  if (donor.diffIds.length !== parent.diffIds.length || parent.diffIds.some((id, i) => donor.diffIds[i] !== id)) return false;
  if (donor.history.length !== parent.history.length + pending.length) return false;
  if (parent.history.some((entry, i) => JSON.stringify(entry) !== JSON.stringify(donor.history[i]))) return false;
  if (pending.some((entry, i) => donor.history[parent.history.length + i]!.created_by !== entry.created_by)) return false;
  return canonical(donor.config) === canonical(config);
}

/** JSON with object keys sorted: configs built in another order are still the same config. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : v));
}
