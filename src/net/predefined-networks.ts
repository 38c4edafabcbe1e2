import { conflict, invalid } from '../util/errors.js';
import { predefinedNetworks } from './user-networks.js';

/**
 * `network connect` and `disconnect` with the predefined networks (`bridge`, `host`, `none`), and the
 * network modes that cannot be combined with any other network: Docker's rules and Docker's exact
 * messages (its runconfig errors). What Docker would then do but Roost cannot is refused with a reason:
 * Roost's `bridge` (the shared bridge, or where that cannot be used, a per-container uplink) is made with
 * the container's network namespace, so there is no bridge endpoint to add to or take from a running
 * container (see docs/architecture.md, Network).
 */
export const hostNetworkConflict = 'container cannot be disconnected from host network or connected to host network';
export const sharedNetworkConflict = 'container sharing network namespace with another container or host cannot be connected to any other network';
export const noNetworkConflict = 'container cannot be connected to multiple networks with one of the networks in private (none) mode';

/** The networks a container is on: its predefined mode (`default` is `bridge`), then its user-defined networks. */
export function currentNetworks(mode: string, userNetworks: string[]): string[] {
  const predefined = mode === 'default' || mode === '' ? 'bridge' : mode;
  return [...new Set([...(predefinedNetworks.includes(predefined) || predefined.startsWith('container:') ? [predefined] : []), ...userNetworks])];
}

/**
 * Throws the error of `network connect TARGET` for a container with network mode `mode` on networks
 * `current`; returns when the connection may be made (TARGET then is a user-defined network).
 */
export function checkConnect(container: string, mode: string, current: string[], target: string): void {
  if (mode.startsWith('container:')) throw invalid(sharedNetworkConflict);
  if (target === 'host' && mode !== 'host') throw invalid(hostNetworkConflict);
  for (const network of current) {
    if (network === target) throw conflict(`endpoint with name ${container} already exists in network ${target}`);
    if (network === 'host' || target === 'host') throw invalid(sharedNetworkConflict);
    if (network === 'none' || target === 'none') throw invalid(noNetworkConflict);
  }
  if (target === 'bridge') {
    throw invalid(`container ${container} cannot be connected to network bridge: Roost puts a container on its bridge network as its namespace is made, so it can only be chosen at creation (--network bridge)`);
  }
  if (target === 'none') {
    throw invalid(`container ${container} cannot be connected to network none: choose it at creation (--network none)`);
  }
}

/** Throws the error of `network disconnect TARGET` (a predefined network) for a container on `current`. */
export function checkDisconnectPredefined(container: string, mode: string, current: string[], target: string, running: boolean): never {
  if (!current.includes(target)) throw invalid(`container ${container} is not connected to network ${target}`);
  if (target === 'host' && mode === 'host' && running) throw invalid(hostNetworkConflict);
  throw invalid(`container ${container} cannot be disconnected from network ${target}: Roost's predefined networks are chosen at creation (--network) and stay for the container's life`);
}
