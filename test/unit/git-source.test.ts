import test from 'ava';
import { isGitSource, parseGitSource } from '../../src/build/git-source.js';

test('git sources as Docker tells them from other URLs', (t) => {
  for (const s of ['git://host/repo.git', 'git@github.com:user/repo.git', 'ssh://git@host/repo', 'https://host/user/repo.git', 'https://host/repo.git#main:docs']) t.true(isGitSource(s), s);
  for (const s of ['https://host/file.tar.gz', 'http://host/repo.git.txt', 'local/dir', 'https://host/a.git/file']) t.false(isGitSource(s), s);
});

test('#ref:subdir is split; a subdirectory may not leave the repository; odd refs are refused', (t) => {
  t.deepEqual(parseGitSource('git://h/r.git', ''), { url: 'git://h/r.git', ref: undefined, subdir: '' });
  t.deepEqual(parseGitSource('git://h/r.git#v1.2:docs/api/', ''), { url: 'git://h/r.git', ref: 'v1.2', subdir: 'docs/api' });
  t.deepEqual(parseGitSource('git://h/r.git#:sub', ''), { url: 'git://h/r.git', ref: undefined, subdir: 'sub' });
  t.throws(() => parseGitSource('git://h/r.git#main:../x', 'Dockerfile:2: '), { message: 'Dockerfile:2: ADD git://h/r.git#main:../x: the subdirectory leaves the repository' });
  t.throws(() => parseGitSource('git://h/r.git#--upload-pack=x', ''), { message: /invalid git reference/ });
});
