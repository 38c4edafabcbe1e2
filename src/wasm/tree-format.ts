import { invalid } from '../util/errors.js';

/** One file of a tree as the diff engines are fed it (from lstat). `ino` 0 when inode identity does not matter. */
export interface TreeEntry {
  /** Relative path; a tree's entries are sorted by compareNames and unique. */
  name: string;
  mode: number;
  size: number;
  /** mtime as whole seconds and nanoseconds (a nanosecond count does not fit a double exactly). */
  mtimeSec: number;
  mtimeNsec: number;
  ino: number;
}

/** What changed from the old tree to the new, each list in its tree's order. */
export interface TreeChanges {
  added: string[];
  modified: string[];
  deleted: string[];
}

export interface TreeDiffEngine {
  readonly name: string;
  diff(oldTree: readonly TreeEntry[], newTree: readonly TreeEntry[]): TreeChanges;
}

/**
 * The order of names: bytewise over UTF-8, which for JS strings is code-unit order except that surrogates
 * (U+D800–DFFF, i.e. characters above U+FFFF) sort after U+E000–FFFF.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Sorts entries into the order the engines need. */
export function sortTree<T extends { name: string }>(entries: T[]): T[] {
  return entries.sort((a, b) => compareNames(a.name, b.name));
}

export const unsortedTree = (which: 'old' | 'new') => invalid(`the ${which} tree's entries are not sorted by name and unique`);
