import { invalid } from '../util/errors.js';

/** An image reference resolved the way Docker resolves it: `busybox` → docker.io/library/busybox:latest. */
export interface ImageReference {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

const defaultDomain = 'docker.io';
const componentPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^sha256:[a-f0-9]{64}$/;

export function parseReference(text: string): ImageReference {
  if (text === '' || /\s/.test(text)) throw invalid(`invalid reference format: ${JSON.stringify(text)}`);
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw invalid(`invalid reference format: bad digest in ${JSON.stringify(text)}`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw invalid(`invalid reference format: bad tag in ${JSON.stringify(text)}`);
  }
  let domain = defaultDomain;
  const firstSlash = rest.indexOf('/');
  if (firstSlash >= 0) {
    const first = rest.slice(0, firstSlash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      rest = rest.slice(firstSlash + 1);
    }
  }
  if (domain === defaultDomain && !rest.includes('/')) rest = `library/${rest}`;
  for (const component of rest.split('/')) {
    if (!componentPattern.test(component)) {
      throw invalid(`invalid reference format: repository name must be lowercase: ${JSON.stringify(text)}`);
    }
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { domain, path: rest, tag, digest };
}

/** docker.io/library/busybox:latest, the form stored in the index. */
export function fullName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** busybox:latest, as Docker shows it (familiar form). */
export function familiarName(ref: ImageReference): string {
  let repo = `${ref.domain}/${ref.path}`;
  if (ref.domain === defaultDomain) repo = ref.path.startsWith('library/') ? ref.path.slice('library/'.length) : ref.path;
  return `${repo}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

export function normalizeName(text: string): string {
  return fullName(parseReference(text));
}

export function familiar(text: string): string {
  return familiarName(parseReference(text));
}
