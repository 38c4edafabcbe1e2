import { ensureMemory, loadKernels, WORK_BASE, type KernelExports } from './instance.js';
import { unsortedTree, type TreeChanges, type TreeDiffEngine, type TreeEntry } from './tree-format.js';

const ENTRY_BYTES = 40;

interface DiffKernelExports extends KernelExports {
  treeDiff(oldTree: number, oldCount: number, newTree: number, newCount: number, names: number, out: number): number;
}

/** The tree diff kernel: entries and names are written into wasm memory, the change list read back. */
export class TreeDiffWasm implements TreeDiffEngine {
  readonly name = 'wasm';
  private readonly k = loadKernels() as DiffKernelExports;

  diff(oldTree: readonly TreeEntry[], newTree: readonly TreeEntry[]): TreeChanges {
    const k = this.k;
    const oldAt = WORK_BASE;
    const newAt = oldAt + oldTree.length * ENTRY_BYTES;
    const outAt = newAt + newTree.length * ENTRY_BYTES;
    const namesAt = outAt + (oldTree.length + newTree.length) * 4;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    let nameBytes = 0;
    for (const e of oldTree) nameBytes += e.name.length;
    for (const e of newTree) nameBytes += e.name.length;
    const memory = ensureMemory(k, namesAt + nameBytes * 3);
    const view = new DataView(memory);
    const bytes = Buffer.from(memory);
    let namePos = namesAt;
    const put = (tree: readonly TreeEntry[], at: number) => {
      for (let i = 0; i < tree.length; i++) {
        const e = tree[i]!;
        const r = at + i * ENTRY_BYTES;
        const len = bytes.write(e.name, namePos, 'utf8');
        view.setUint32(r, namePos - namesAt, true);
        view.setUint32(r + 4, len, true);
        view.setUint32(r + 8, e.mode, true);
        view.setUint32(r + 12, e.mtimeNsec, true);
        view.setFloat64(r + 16, e.size, true);
        view.setFloat64(r + 24, e.mtimeSec, true);
        view.setFloat64(r + 32, e.ino, true);
        namePos += len;
      }
    };
    put(oldTree, oldAt);
    put(newTree, newAt);
    const count = k.treeDiff(oldAt, oldTree.length, newAt, newTree.length, namesAt, outAt);
    if (count === -1) throw unsortedTree('old');
    if (count === -2) throw unsortedTree('new');
    const changes: TreeChanges = { added: [], modified: [], deleted: [] };
    for (let i = 0; i < count; i++) {
      const word = view.getUint32(outAt + i * 4, true);
      const index = word & 0x3fffffff;
      const kind = word >>> 30;
      if (kind === 1) changes.added.push(newTree[index]!.name);
      else if (kind === 2) changes.modified.push(newTree[index]!.name);
      else changes.deleted.push(oldTree[index]!.name);
    }
    return changes;
  }
}
