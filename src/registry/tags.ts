import { EngineError } from '../util/errors.js';
import { readBody, type RegistryClient } from './registry-client.js';

const maxPages = 100;

/**
 * Every tag of a repository (`GET /v2/NAME/tags/list`), following the registry's `Link: <...>; rel="next"`
 * pagination. A reply that is not the documented JSON is an error, never an empty list.
 */
export async function listTags(client: RegistryClient, repo: string): Promise<string[]> {
  const tags: string[] = [];
  let target: string | undefined = `/v2/${repo}/tags/list?n=1000`;
  for (let page = 0; target && page < maxPages; page++) {
    const res = await client.request(target, { method: 'GET', scope: `repository:${repo}:pull`, expect: [200], what: `tags of ${repo}` });
    const body = await readBody(res.body, 4 * 1024 * 1024, 'tag list');
    let parsed: { tags?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as { tags?: unknown };
    } catch {
      throw new EngineError('invalid_argument', `the tag list ${client.host} sent for ${repo} is not valid JSON`);
    }
    if (parsed.tags !== null && parsed.tags !== undefined && !(Array.isArray(parsed.tags) && parsed.tags.every((t) => typeof t === 'string'))) {
      throw new EngineError('invalid_argument', `the tag list ${client.host} sent for ${repo} has no list of tags`);
    }
    tags.push(...((parsed.tags as string[] | null | undefined) ?? []));
    target = nextPage(String(res.headers.link ?? ''));
  }
  return [...new Set(tags)];
}

/** The path of a `Link` header's rel="next" target (registries send it relative, some absolute). */
export function nextPage(link: string): string | undefined {
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!m) return undefined;
  try {
    const url = new URL(m[1]!, 'http://registry');
    return `${url.pathname}${url.search}`;
  } catch {
    return undefined;
  }
}
