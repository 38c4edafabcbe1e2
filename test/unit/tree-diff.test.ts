import test from 'ava';
import { TreeDiffJs } from '../../src/wasm/tree-diff-js.js';
import { TreeDiffWasm } from '../../src/wasm/tree-diff.js';
import { compareNames, sortTree, type TreeEntry } from '../../src/wasm/tree-format.js';
import { fuzzTreeDiff, randomTrees } from '../helpers/tree-fuzz.js';

const file = (name: string, over: Partial<TreeEntry> = {}): TreeEntry => ({ name, mode: 0o100644, size: 10, mtimeSec: 1_700_000_000, mtimeNsec: 5, ino: 0, ...over });

for (const engine of [new TreeDiffWasm(), new TreeDiffJs()]) {
  test(`${engine.name}: added, modified and deleted, each in its tree's order`, (t) => {
    const oldTree = [file('a'), file('b'), file('c'), file('d'), file('e'), file('f')];
    const newTree = [file('a'), file('b', { size: 11 }), file('bb'), file('d', { mtimeNsec: 6 }), file('e', { mode: 0o100755 }), file('f', { ino: 9 }), file('g')];
    t.deepEqual(engine.diff(oldTree, newTree), { added: ['bb', 'g'], modified: ['b', 'd', 'e', 'f'], deleted: ['c'] });
    t.deepEqual(engine.diff([], newTree), { added: newTree.map((e) => e.name), modified: [], deleted: [] });
    t.deepEqual(engine.diff(oldTree, []), { added: [], modified: [], deleted: oldTree.map((e) => e.name) });
  });

  test(`${engine.name}: names beyond U+FFFF sort as their UTF-8 bytes do`, (t) => {
    const names = sortTree(['\u{1F600}', '\uFFFD', 'z', 'é', '\uE000'].map((n) => file(n)));
    t.deepEqual(names.map((e) => e.name), ['z', 'é', '\uE000', '\uFFFD', '\u{1F600}']);
    t.deepEqual(names.map((e) => Buffer.from(e.name)), [...names.map((e) => Buffer.from(e.name))].sort(Buffer.compare));
    t.deepEqual(engine.diff(names, names), { added: [], modified: [], deleted: [] });
  });

  test(`${engine.name}: unsorted or duplicated input is refused with a one-line error`, (t) => {
    t.throws(() => engine.diff([file('b'), file('a')], []), { message: /old tree's entries are not sorted/ });
    t.throws(() => engine.diff([], [file('a'), file('a')]), { message: /new tree's entries are not sorted/ });
  });
}

test('compareNames agrees with Buffer.compare on UTF-8 for random names', (t) => {
  const alphabet = ['a', 'é', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}', '\u0800', '\u07FF'];
  let seed = 1;
  const pick = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return alphabet[seed % alphabet.length]!; };
  for (let i = 0; i < 2000; i++) {
    const a = pick() + pick();
    const b = pick() + pick();
    t.is(Math.sign(compareNames(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${a} vs ${b}`);
  }
});

test('tree diff: kernel and twin agree on 10,000 fuzzed tree pairs (fixed seed)', (t) => {
  const summary = fuzzTreeDiff(new TreeDiffWasm(), new TreeDiffJs(), 1, 10_000);
  t.is(summary.disagreed, 0, `first disagreement at seed ${summary.first}`);
  t.true(summary.changes > 10_000, `changes ${summary.changes}`);
  t.true(summary.rejected > 100, `rejected ${summary.rejected}`);
});

test('tree diff: the differential check notices an engine that differs (it can fail)', (t) => {
  class IgnoresIno extends TreeDiffJs {
    override diff(oldTree: readonly TreeEntry[], newTree: readonly TreeEntry[]) {
      return super.diff(oldTree, newTree.map((e, i) => ({ ...e, ino: oldTree[i]?.ino ?? e.ino })));
    }
  }
  t.true(fuzzTreeDiff(new TreeDiffJs(), new IgnoresIno(), 1, 500).disagreed > 0);
  t.truthy(randomTrees(1));
});
