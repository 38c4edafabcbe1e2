import { createHash } from 'node:crypto';
import { EngineError, invalid } from '../util/errors.js';
import type { ImageIndex, ImageManifest } from '../image/types.js';
import { mediaTypes } from '../image/types.js';
import { readBody, type RegistryClient } from './registry-client.js';

/** Manifests as the registry holds them: fetched by tag or digest, checked, an index narrowed to one platform. */

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const schema1Types = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];
const accepted = [mediaTypes.ociIndex, mediaTypes.dockerManifestList, mediaTypes.ociManifest, mediaTypes.dockerManifest];
const maxManifestBytes = 4 * 1024 * 1024;

/** The host's platform in OCI's words (amd64, arm64 with variant v8, ...). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch, ...(process.arch === 'arm64' ? { variant: 'v8' } : {}) };
}

/** `linux/arm64/v8` → a platform; refuses malformed ones. */
export function parsePlatform(text: string): Platform {
  const [os, architecture, variant, extra] = text.split('/');
  if (!os || !architecture || extra !== undefined) throw invalid(`invalid platform ${JSON.stringify(text)}: expected os/arch[/variant]`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export interface FetchedManifest {
  /** The manifest of the chosen platform. */
  manifest: ImageManifest;
  bytes: Buffer;
  digest: string;
  mediaType: string;
  /** The digest the name pointed at (the index's, for a multi-platform image). */
  topDigest: string;
}

async function fetchOne(client: RegistryClient, repo: string, reference: string): Promise<{ bytes: Buffer; digest: string; mediaType: string; parsed: Record<string, unknown> }> {
  const res = await client.request(`/v2/${repo}/manifests/${reference}`, {
    scope: `repository:${repo}:pull`,
    headers: { Accept: [...accepted, ...schema1Types].join(', ') },
    expect: [200],
    what: `manifest for ${repo}:${reference}`,
  });
  const bytes = await readBody(res.body, maxManifestBytes, 'manifest');
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (reference.startsWith('sha256:') && digest !== reference) {
    throw new EngineError('invalid_argument', `the manifest ${client.host} sent for ${repo}@${reference} has the digest ${digest}: refused`);
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new EngineError('invalid_argument', `the manifest for ${repo}:${reference} from ${client.host} is not valid JSON`);
  }
  const mediaType = String(parsed.mediaType ?? String(res.headers['content-type'] ?? '').split(';')[0]);
  if (parsed.schemaVersion === 1 || schema1Types.includes(mediaType)) {
    throw new EngineError('invalid_argument', `${repo}:${reference} has a schema 1 manifest, which Roost (like Docker 26+) does not pull`, { hint: 'push the image again with a current Docker, podman or skopeo' });
  }
  if (!accepted.includes(mediaType as (typeof accepted)[number])) {
    throw new EngineError('invalid_argument', `the manifest for ${repo}:${reference} has the unknown media type ${JSON.stringify(mediaType)}`);
  }
  return { bytes, digest, mediaType, parsed };
}

function matches(want: Platform, have: Platform | undefined): boolean {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return false;
  return !want.variant || !have.variant || want.variant === have.variant;
}

/** The manifest a tag or digest names, for `platform` when it names an index. */
export async function fetchManifest(client: RegistryClient, repo: string, reference: string, platform: Platform = hostPlatform()): Promise<FetchedManifest> {
  const top = await fetchOne(client, repo, reference);
  let chosen = top;
  if (top.mediaType === mediaTypes.ociIndex || top.mediaType === mediaTypes.dockerManifestList) {
    const index = top.parsed as unknown as ImageIndex;
    const entry = (index.manifests ?? []).find((m) => matches(platform, m.platform));
    if (!entry) {
      const offered = (index.manifests ?? []).map((m) => m.platform && `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}`).filter(Boolean);
      throw new EngineError('not_found', `no image for ${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''} in ${repo}:${reference} (it has ${offered.join(', ') || 'none'})`);
    }
    chosen = await fetchOne(client, repo, entry.digest);
  }
  const manifest = chosen.parsed as unknown as ImageManifest;
  if (!manifest.config?.digest || !Array.isArray(manifest.layers)) throw new EngineError('invalid_argument', `the manifest for ${repo}:${reference} has no config or layers`);
  for (const d of [manifest.config, ...manifest.layers]) {
    if (!/^sha256:[a-f0-9]{64}$/.test(d.digest ?? '')) throw new EngineError('invalid_argument', `the manifest for ${repo}:${reference} names a blob with an unsupported digest ${JSON.stringify(d.digest)}`);
  }
  return { manifest, bytes: chosen.bytes, digest: chosen.digest, mediaType: chosen.mediaType, topDigest: top.digest };
}
