import test from 'ava';
import { cacheInUse, lockCaches, useCache } from '../../src/build/cache-sharing.js';

test('sharing=locked: a second step waits until the first lets go, then holds the cache itself', async (t) => {
  const order: string[] = [];
  const first = await lockCaches(['/c/x', '/c/y']);
  const second = lockCaches(['/c/y']).then((release) => { order.push('second holds'); return release; });
  await new Promise((r) => setTimeout(r, 30));
  t.deepEqual(order, [], 'still waiting');
  order.push('first lets go');
  first();
  const release = await second;
  t.deepEqual(order, ['first lets go', 'second holds']);
  release();
  const third = await lockCaches(['/c/y', '/c/x']);
  third();
  t.pass('free again once everyone let go');
});

test('sharing=private: a cache counts as in use while a step uses it, released once', (t) => {
  t.false(cacheInUse('/c/p'));
  const a = useCache('/c/p');
  const b = useCache('/c/p');
  t.true(cacheInUse('/c/p'));
  a();
  a();
  t.true(cacheInUse('/c/p'), 'a second release of the same use does not count');
  b();
  t.false(cacheInUse('/c/p'));
});
