import test from 'ava';
import { parseDockerignore } from '../../src/build/dockerignore.js';

test('.dockerignore: patterns, directories, ** and exceptions, the last match winning', (t) => {
  const rules = parseDockerignore('# comment\n*.log\n/secret.txt\nbuild/\n**/node_modules\n!keep.log\ndocs/**/*.md\n!docs/README.md\n');
  const excluded = ['a.log', 'secret.txt', 'build', 'build/x/y', 'node_modules', 'src/node_modules/p/index.js', 'docs/a/b.md', 'docs/x.md'];
  const kept = ['keep.log', 'src/a.log', 'src/secret.txt', 'builder', 'docs/README.md', 'docs/a/b.txt', 'main.go'];
  for (const p of excluded) t.true(rules.excluded(p), p);
  for (const p of kept) t.false(rules.excluded(p), p);
  t.true(rules.mayInclude('docs'), 'an exception below docs/');
  t.false(rules.mayInclude('build'));
});
