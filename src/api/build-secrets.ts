import { invalid } from '../util/errors.js';

/**
 * Build secrets ride in a request header, never in the context tar or the query (which may be logged):
 * base64 of a JSON map id → base64 bytes. Roost's CLI sends it for `--secret`; the docker CLI's classic
 * builder has no secrets. Header values stay well under Node's 16 KiB header limit.
 */
export const secretsHeader = 'x-roost-build-secrets';
export const secretsLimit = 12 * 1024;

export function encodeSecrets(secrets: Record<string, Buffer>): string {
  if (Object.keys(secrets).length === 0) return '';
  const value = Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(secrets).map(([id, data]) => [id, data.toString('base64')])))).toString('base64');
  if (value.length > secretsLimit) throw invalid(`the build's secrets are too large (${value.length} bytes encoded; at most ${secretsLimit})`);
  return value;
}

export function decodeSecrets(value: string | string[] | undefined): Record<string, Buffer> {
  if (typeof value !== 'string' || value === '') return {};
  try {
    const map = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as Record<string, string>;
    return Object.fromEntries(Object.entries(map).map(([id, data]) => [id, Buffer.from(data, 'base64')]));
  } catch {
    throw invalid(`the ${secretsHeader} header is not base64 JSON`);
  }
}
