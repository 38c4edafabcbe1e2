// Differential fuzzing of the tree diff: random old/new trees through kernel and twin.
import { isDeepStrictEqual } from 'node:util';
import { sortTree, type TreeChanges, type TreeDiffEngine, type TreeEntry } from '../../src/wasm/tree-format.js';
import { rng } from './tar-fuzz.js';

const PARTS = ['a', 'b', 'z', 'é', '\u{1F600}', '\uE000', '\uFFFD', 'dir', 'A', '.wh.x', ''];

export function randomTrees(seed: number): { oldTree: TreeEntry[]; newTree: TreeEntry[] } {
  const r = rng(seed);
  const name = () => Array.from({ length: r(3) + 1 }, () => PARTS[r(PARTS.length)]).join(r(3) ? '/' : '');
  const entry = (): TreeEntry => ({ name: name(), mode: [0o100644, 0o100755, 0o40755, 0o120777][r(4)]!, size: r(5000), mtimeSec: 1_700_000_000 + r(3), mtimeNsec: r(3) * 1000, ino: r(4) ? 0 : r(100) });
  const unique = (entries: TreeEntry[]) => {
    const seen = new Map<string, TreeEntry>();
    for (const e of entries) seen.set(e.name, e);
    return sortTree([...seen.values()]);
  };
  const oldTree = unique(Array.from({ length: r(30) }, entry));
  const next: TreeEntry[] = [];
  for (const e of oldTree) {
    const fate = r(10);
    if (fate === 0) continue; // deleted
    if (fate === 1) next.push({ ...e, size: e.size + 1 });
    else if (fate === 2) next.push({ ...e, mtimeNsec: e.mtimeNsec + 1 });
    else if (fate === 3) next.push({ ...e, mode: e.mode ^ 0o111 });
    else if (fate === 4) next.push({ ...e, ino: e.ino + 1 });
    else next.push({ ...e });
  }
  for (let i = r(5); i > 0; i--) next.push(entry());
  const newTree = unique(next);
  // now and then an unsorted or duplicated input, which both must refuse alike
  if (r(40) === 0 && newTree.length > 1) newTree.reverse();
  if (r(40) === 0 && oldTree.length > 0) oldTree.push(oldTree[0]!);
  return { oldTree, newTree };
}

type Outcome = { changes: TreeChanges } | { error: string };

export function outcome(engine: TreeDiffEngine, oldTree: TreeEntry[], newTree: TreeEntry[]): Outcome {
  try {
    return { changes: engine.diff(oldTree, newTree) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export function fuzzTreeDiff(kernel: TreeDiffEngine, twin: TreeDiffEngine, firstSeed: number, cases: number): { cases: number; disagreed: number; changes: number; rejected: number; first?: number } {
  const summary = { cases, disagreed: 0, changes: 0, rejected: 0, first: undefined as number | undefined };
  for (let seed = firstSeed; seed < firstSeed + cases; seed++) {
    const { oldTree, newTree } = randomTrees(seed);
    const k = outcome(kernel, oldTree, newTree);
    const t = outcome(twin, oldTree, newTree);
    if (!isDeepStrictEqual(k, t)) {
      summary.disagreed++;
      summary.first ??= seed;
    }
    if ('error' in t) summary.rejected++;
    else summary.changes += t.changes.added.length + t.changes.modified.length + t.changes.deleted.length;
  }
  return summary;
}
