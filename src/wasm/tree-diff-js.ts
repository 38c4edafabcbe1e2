import { compareNames, unsortedTree, type TreeChanges, type TreeDiffEngine, type TreeEntry } from './tree-format.js';

/** The tree diff in TypeScript: the twin of assembly/tree-diff.ts (the same merge, the same checks). */
export class TreeDiffJs implements TreeDiffEngine {
  readonly name = 'typescript';

  diff(oldTree: readonly TreeEntry[], newTree: readonly TreeEntry[]): TreeChanges {
    if (!isSorted(oldTree)) throw unsortedTree('old');
    if (!isSorted(newTree)) throw unsortedTree('new');
    const changes: TreeChanges = { added: [], modified: [], deleted: [] };
    let i = 0;
    let j = 0;
    while (i < oldTree.length || j < newTree.length) {
      const o = oldTree[i];
      const n = newTree[j];
      const c = !o ? 1 : !n ? -1 : o.name === n.name ? 0 : compareNames(o.name, n.name);
      if (c < 0) {
        changes.deleted.push(o!.name);
        i++;
      } else if (c > 0) {
        changes.added.push(n!.name);
        j++;
      } else {
        if (o!.mode !== n!.mode || o!.size !== n!.size || o!.mtimeSec !== n!.mtimeSec || o!.mtimeNsec !== n!.mtimeNsec || o!.ino !== n!.ino) changes.modified.push(n!.name);
        i++;
        j++;
      }
    }
    return changes;
  }
}

function isSorted(tree: readonly TreeEntry[]): boolean {
  for (let i = 1; i < tree.length; i++) if (compareNames(tree[i - 1]!.name, tree[i]!.name) >= 0) return false;
  return true;
}
