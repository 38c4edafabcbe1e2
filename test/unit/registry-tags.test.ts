import test from 'ava';
import { nextPage } from '../../src/registry/tags.js';

test('tag list pagination follows the Link header, relative or absolute, and stops without one', (t) => {
  t.is(nextPage('</v2/tools/many/tags/list?n=2&last=b>; rel="next"'), '/v2/tools/many/tags/list?n=2&last=b');
  t.is(nextPage('<https://r.example:5000/v2/x/tags/list?last=b&n=2>; rel=next'), '/v2/x/tags/list?last=b&n=2');
  t.is(nextPage(''), undefined);
  t.is(nextPage('</v2/x/tags/list?last=b>; rel="prev"'), undefined);
});
