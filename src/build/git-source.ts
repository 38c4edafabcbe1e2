import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { findExecutable } from '../util/find-executable.js';
import { invalid, unavailable } from '../util/errors.js';

/**
 * ADD of a git repository, as Docker takes one: `git://…`, `git@host:path`, `ssh://…`, or an http(s) URL
 * ending in `.git`, each with an optional `#ref[:subdir]`. The ref (a branch, tag or commit; HEAD when
 * absent) is fetched at depth 1 with the host's git into a scratch directory, without `.git` unless
 * --keep-git-dir=true; --checksum names the commit it must be. The commit fetched keys the build cache,
 * so a new commit on the branch rebuilds the step and nothing else does.
 */

export interface GitSource {
  url: string;
  ref: string | undefined;
  subdir: string;
}

/** Docker's test for a git source (BuildKit's urlutil.IsGitURL, with ssh:// as BuildKit also takes). */
export function isGitSource(source: string): boolean {
  return /^(git:\/\/|ssh:\/\/|git@[^:]+:)/.test(source) || /^https?:\/\/[^#]+\.git(#.*)?$/i.test(source);
}

/** Splits `url#ref:subdir`; the subdirectory may not leave the repository. */
export function parseGitSource(source: string, where: string): GitSource {
  const hash = source.indexOf('#');
  const url = hash < 0 ? source : source.slice(0, hash);
  const fragment = hash < 0 ? '' : source.slice(hash + 1);
  const colon = fragment.indexOf(':');
  const ref = (colon < 0 ? fragment : fragment.slice(0, colon)) || undefined;
  const raw = colon < 0 ? '' : fragment.slice(colon + 1);
  if (path.posix.normalize(raw.replace(/^\/+/, '') || '.').split('/')[0] === '..') throw invalid(`${where}ADD ${source}: the subdirectory leaves the repository`);
  const subdir = path.posix.normalize(`/${raw}`).slice(1).replace(/\/+$/, '');
  if (ref !== undefined && (ref.startsWith('-') || /[\s~^:?*[\\]/.test(ref))) throw invalid(`${where}ADD ${source}: invalid git reference ${JSON.stringify(ref)}`);
  return { url, ref, subdir };
}

export interface FetchedGit {
  /** The directory whose content the step adds (the repository's root or its subdirectory). */
  dir: string;
  commit: string;
}

export interface GitFetchOptions {
  /** ADD --keep-git-dir=true: the repository's .git stays (a shallow clone of the one commit). */
  keepGitDir?: boolean;
  /** ADD --checksum=<commit>: the commit fetched must be this one (its full hex name). */
  checksum?: string;
}

/** Fetches the source into `scratch` (a fresh directory); one line on any failure. */
export async function fetchGitSource(source: GitSource, scratch: string, where: string, opts: GitFetchOptions = {}): Promise<FetchedGit> {
  const wanted = opts.checksum?.replace(/^sha1:/, '');
  if (wanted !== undefined && !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(wanted)) throw invalid(`${where}ADD --checksum=${opts.checksum}: for a git source, the commit's full hexadecimal name`);
  const git = findExecutable('git');
  if (!git) throw unavailable(`${where}ADD ${source.url}: git is not installed`, 'sudo apt-get install git');
  const repo = path.join(scratch, 'repo');
  // No prompt for credentials, no system or user configuration that could run a helper of the user's.
  // Only network transports: never ext:: (runs a command) or file:// (reads the engine's own files).
  const env = { GIT_ALLOW_PROTOCOL: 'git:ssh:http:https', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_ASKPASS: 'true', SSH_ASKPASS: 'true' };
  const run = async (args: string[]) => {
    const result = await execa(git, args, { env, extendEnv: true, reject: false, timeout: 10 * 60_000, stdin: 'ignore' });
    if (result.exitCode !== 0) {
      const line = String(result.stderr).trim().split('\n').filter(Boolean).at(-1) ?? `exit ${result.exitCode}`;
      throw invalid(`${where}ADD ${source.url}${source.ref ? `#${source.ref}` : ''}: ${line.replace(/^fatal: /, '')}`);
    }
    return String(result.stdout).trim();
  };
  await run(['init', '-q', repo]);
  await run(['-C', repo, 'fetch', '-q', '--depth', '1', '--no-tags', '--', source.url, source.ref ?? 'HEAD']);
  await run(['-C', repo, '-c', 'advice.detachedHead=false', 'checkout', '-q', 'FETCH_HEAD']);
  const commit = await run(['-C', repo, 'rev-parse', 'HEAD']);
  if (wanted !== undefined && commit !== wanted) throw invalid(`${where}ADD ${source.url}${source.ref ? `#${source.ref}` : ''}: checksum mismatch: expected commit ${wanted}, got ${commit}`);
  if (!opts.keepGitDir) fs.rmSync(path.join(repo, '.git'), { recursive: true, force: true });
  const dir = path.join(repo, source.subdir);
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(dir);
  } catch {
    throw invalid(`${where}ADD ${source.url}: no directory ${JSON.stringify(source.subdir)} in ${source.ref ?? 'HEAD'}`);
  }
  if (!stat.isDirectory()) throw invalid(`${where}ADD ${source.url}: ${JSON.stringify(source.subdir)} is not a directory in ${source.ref ?? 'HEAD'}`);
  return { dir, commit };
}
