import test from 'ava';
import { cachedLayer, keyComment, sameConfigImage } from '../../src/build/cache-from.js';

const key = 'ab'.repeat(32);
const base = { diffIds: ['sha256:base'], history: [{ created: '2020-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:x in /' }] };
const pending = [{ created: 'now', created_by: '/bin/sh -c #(nop)  ENV A=b', empty_layer: true }];
const donor = {
  diffIds: ['sha256:base', 'sha256:run', 'sha256:copy'],
  history: [
    ...base.history,
    { created: 'then', created_by: '/bin/sh -c #(nop)  ENV A=b', empty_layer: true },
    { created: 'then', created_by: '/bin/sh -c echo hi', comment: keyComment(key) },
    { created: 'then', created_by: '/bin/sh -c #(nop) COPY a /a', comment: keyComment('cd'.repeat(32)) },
  ],
};

test('a step is reused from an image that continues its parent, with its config-only steps, and a layer entry of its key', (t) => {
  t.deepEqual(cachedLayer(donor, base, pending, key), donor.history.slice(0, 3), 'the donor\'s entries, their times included');
  t.is(cachedLayer(donor, base, pending, 'ef'.repeat(32)), undefined, 'another key');
  t.is(cachedLayer(donor, base, [], key), undefined, 'the ENV step is missing from this build');
  t.is(cachedLayer(donor, base, [{ ...pending[0]!, created_by: '/bin/sh -c #(nop)  ENV A=c' }], key), undefined, 'another ENV');
  t.is(cachedLayer(donor, { ...base, diffIds: ['sha256:other'] }, pending, key), undefined, 'another base layer');
  t.is(cachedLayer(donor, { ...base, history: [{ ...base.history[0]!, created: '2021-01-01T00:00:00Z' }] }, pending, key), undefined, 'another base history');
  const next = { diffIds: donor.diffIds.slice(0, 2), history: donor.history.slice(0, 3) };
  t.deepEqual(cachedLayer(donor, next, [], 'cd'.repeat(32)), donor.history, 'the next step, on the image made from the first');
  t.is(cachedLayer({ ...donor, diffIds: donor.diffIds.slice(0, 1) }, base, pending, key), undefined, 'no layer left');
});

test('the donor is the result when its layers, history and config are the build\'s', (t) => {
  const image = { diffIds: donor.diffIds.slice(0, 2), history: donor.history.slice(0, 3) };
  const config = { Env: ['A=b'], Cmd: ['sh'] };
  t.true(sameConfigImage({ ...donor, history: [...donor.history, { created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true }], config: { Cmd: ['sh'], Env: ['A=b'] } },
    { diffIds: donor.diffIds, history: donor.history }, [{ created: 'now', created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true }], config), 'key order does not matter');
  t.false(sameConfigImage({ ...image, config: { Env: ['A=c'], Cmd: ['sh'] } }, image, [], config), 'another config');
  t.false(sameConfigImage({ ...donor, config }, image, [], config), 'another layer');
});
