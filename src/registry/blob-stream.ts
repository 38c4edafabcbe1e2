import { Readable } from 'node:stream';
import { EngineError } from '../util/errors.js';
import type { RegistryClient } from './registry-client.js';
import type { RawResponse } from './transport.js';

/**
 * A blob as one stream, however many requests it takes: redirects (to a storage backend) are followed,
 * and a connection that drops mid-blob is resumed with a Range request from the byte it reached (or,
 * where the server ignores Range, the bytes already read are skipped). The digest is checked by the
 * consumer; `onBytes` reports progress.
 */
export function blobStream(client: RegistryClient, repo: string, digest: string, opts: { onBytes?: (total: number) => void; attempts?: number } = {}): Readable {
  const attempts = opts.attempts ?? 5;
  async function* chunks(): AsyncGenerator<Buffer> {
    let offset = 0;
    for (let attempt = 1; ; attempt++) {
      let res: RawResponse | undefined;
      try {
        res = await open(client, repo, digest, offset);
        let skip = res.status === 200 ? offset : 0;
        for await (const raw of res.body) {
          let chunk = raw as Buffer;
          if (skip > 0) {
            const dropped = Math.min(skip, chunk.length);
            skip -= dropped;
            chunk = chunk.subarray(dropped);
            if (chunk.length === 0) continue;
          }
          offset += chunk.length;
          opts.onBytes?.(offset);
          yield chunk;
        }
        if (!res.body.complete) throw Object.assign(new Error('the connection closed before the blob ended'), { code: 'ECONNRESET' });
        return;
      } catch (err) {
        res?.body.destroy();
        if (err instanceof EngineError || attempt >= attempts) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** (attempt - 1)));
      }
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

async function open(client: RegistryClient, repo: string, digest: string, offset: number): Promise<RawResponse> {
  const scope = `repository:${repo}:pull`;
  const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  let res = await client.request(`/v2/${repo}/blobs/${digest}`, { scope, headers, expect: [200, 206, 301, 302, 303, 307, 308], what: `blob ${digest}` });
  for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
    res.body.resume();
    const location = res.headers.location;
    if (!location || hops > 5) throw new EngineError('unavailable', `${client.host} redirected blob ${digest} without a usable location`);
    const next = new URL(location, `${client.transport.baseUrl()}/v2/${repo}/blobs/${digest}`);
    // A storage backend elsewhere gets no registry credentials.
    res = next.host === client.host
      ? await client.request(next.pathname + next.search, { scope, headers, expect: [200, 206, 301, 302, 303, 307, 308], what: `blob ${digest}` })
      : await client.transport.send(next.toString(), { headers });
    if (res.status !== 200 && res.status !== 206 && !(res.status >= 300 && res.status < 400)) throw await client.failure(res, `blob ${digest}`);
  }
  return res;
}
