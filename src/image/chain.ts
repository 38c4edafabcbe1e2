import { createHash } from 'node:crypto';

/** OCI chain IDs: the identity of a layer together with everything below it. */
export function chainIds(diffIds: string[]): string[] {
  const chains: string[] = [];
  for (const diffId of diffIds) {
    const parent = chains.at(-1);
    chains.push(parent === undefined ? diffId : 'sha256:' + createHash('sha256').update(`${parent} ${diffId}`).digest('hex'));
  }
  return chains;
}
