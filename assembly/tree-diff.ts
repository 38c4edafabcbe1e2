// Tree diff: the change list between two trees from the metadata the host feeds (names, modes, sizes, mtimes,
// inode numbers). Both inputs are sorted by name (bytewise) with unique names; a merge over them puts each
// name in added / modified / deleted. src/wasm/tree-diff-js.ts is the twin.

// Entry layout (host-written): name offset u32, name length u32, mode u32, mtime nanoseconds u32, size f64,
// mtime seconds f64, ino f64.
export const DIFF_ENTRY_BYTES: usize = 40;
export const DIFF_ADDED: u32 = 1;
export const DIFF_MODIFIED: u32 = 2;
export const DIFF_DELETED: u32 = 3;

/** Bytewise comparison of two names in memory: <0, 0, >0. */
function compareNames(a: usize, al: usize, b: usize, bl: usize): i32 {
  const n = al < bl ? al : bl;
  let i: usize = 0;
  while (i + 8 <= n && load<u64>(a + i) == load<u64>(b + i)) i += 8;
  for (; i < n; i++) {
    const x = <i32>load<u8>(a + i);
    const y = <i32>load<u8>(b + i);
    if (x != y) return x - y;
  }
  return <i32>al - <i32>bl;
}

@inline function differs(o: usize, n: usize): bool {
  return load<u64>(o + 8) != load<u64>(n + 8) // mode and mtime nanoseconds
    || load<f64>(o + 16) != load<f64>(n + 16)
    || load<f64>(o + 24) != load<f64>(n + 24)
    || load<f64>(o + 32) != load<f64>(n + 32);
}

@inline function nameCompare(names: usize, a: usize, b: usize): i32 {
  return compareNames(names + <usize>load<u32>(a), <usize>load<u32>(a, 4), names + <usize>load<u32>(b), <usize>load<u32>(b, 4));
}

/** Whether the `count` entries at `tree` are strictly increasing by name. */
function sorted(tree: usize, count: u32, names: usize): bool {
  for (let i: u32 = 1; i < count; i++) {
    const e = tree + <usize>i * DIFF_ENTRY_BYTES;
    if (nameCompare(names, e - DIFF_ENTRY_BYTES, e) >= 0) return false;
  }
  return true;
}

/**
 * Compares `oldCount` entries at `oldTree` with `newCount` at `newTree` (names relative to `names`). Writes one u32
 * per change to `out`: kind << 30 | index (into the new tree for added/modified, the old tree for deleted).
 * Returns the number of changes, or -1 (old tree) / -2 (new tree) when names are not sorted and unique.
 */
export function treeDiff(oldTree: usize, oldCount: u32, newTree: usize, newCount: u32, names: usize, out: usize): i32 {
  if (!sorted(oldTree, oldCount, names)) return -1;
  if (!sorted(newTree, newCount, names)) return -2;
  let i: u32 = 0;
  let j: u32 = 0;
  let k: u32 = 0;
  while (i < oldCount || j < newCount) {
    let c: i32;
    const o = oldTree + <usize>i * DIFF_ENTRY_BYTES;
    const n = newTree + <usize>j * DIFF_ENTRY_BYTES;
    if (i >= oldCount) c = 1;
    else if (j >= newCount) c = -1;
    else c = nameCompare(names, o, n);
    if (c < 0) {
      store<u32>(out + <usize>k * 4, DIFF_DELETED << 30 | i);
      k++;
      i++;
    } else if (c > 0) {
      store<u32>(out + <usize>k * 4, DIFF_ADDED << 30 | j);
      k++;
      j++;
    } else {
      if (differs(o, n)) {
        store<u32>(out + <usize>k * 4, DIFF_MODIFIED << 30 | j);
        k++;
      }
      i++;
      j++;
    }
  }
  return <i32>k;
}
