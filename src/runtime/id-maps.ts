/**
 * Owners across a container's own user namespace (--userns=keep-id): what the engine sees (host side of
 * the mappings) and what the container sees (container side). Ids outside the mappings are the overflow
 * id, as the kernel shows them.
 */
import type { IdMap } from './oci-spec.js';

export interface IdMappings {
  uidMappings: IdMap[];
  gidMappings: IdMap[];
}

export interface Owner {
  uid: number;
  gid: number;
}

const OVERFLOW_ID = 65534;

function translate(id: number, maps: IdMap[], from: 'containerID' | 'hostID', to: 'containerID' | 'hostID'): number {
  for (const m of maps) if (id >= m[from] && id < m[from] + m.size) return m[to] + (id - m[from]);
  return OVERFLOW_ID;
}

/** An owner as the engine sees it, shown as the container sees it. */
export function toContainerOwner(owner: Owner, maps: IdMappings): Owner {
  return { uid: translate(owner.uid, maps.uidMappings, 'hostID', 'containerID'), gid: translate(owner.gid, maps.gidMappings, 'hostID', 'containerID') };
}

/** An owner the container names, as the engine must write it. */
export function toEngineOwner(owner: Owner, maps: IdMappings): Owner {
  return { uid: translate(owner.uid, maps.uidMappings, 'containerID', 'hostID'), gid: translate(owner.gid, maps.gidMappings, 'containerID', 'hostID') };
}
