import test from 'ava';
import { checkConnect, checkDisconnectPredefined, currentNetworks, hostNetworkConflict, noNetworkConflict, sharedNetworkConflict } from '../../src/net/predefined-networks.js';
import { EngineError } from '../../src/util/errors.js';

const refusal = (fn: () => unknown) => {
  try { fn(); } catch (err) { return { code: (err as EngineError).code, message: (err as Error).message }; }
  return undefined;
};

test('the networks a container is on: its predefined mode, then its user-defined networks', (t) => {
  t.deepEqual(currentNetworks('default', []), ['bridge']);
  t.deepEqual(currentNetworks('host', []), ['host']);
  t.deepEqual(currentNetworks('app', ['app', 'other']), ['app', 'other']);
  t.deepEqual(currentNetworks('bridge', ['app']), ['bridge', 'app']);
});

test("network connect: Docker's refusals with Docker's messages", (t) => {
  const connect = (mode: string, users: string[], target: string) => refusal(() => checkConnect('c', mode, currentNetworks(mode, users), target));
  t.deepEqual(connect('default', [], 'host'), { code: 'invalid_argument', message: hostNetworkConflict });
  t.deepEqual(connect('app', ['app'], 'host'), { code: 'invalid_argument', message: hostNetworkConflict });
  t.deepEqual(connect('default', [], 'none'), { code: 'invalid_argument', message: noNetworkConflict });
  t.deepEqual(connect('app', ['app'], 'none'), { code: 'invalid_argument', message: noNetworkConflict });
  t.deepEqual(connect('none', [], 'app'), { code: 'invalid_argument', message: noNetworkConflict });
  t.deepEqual(connect('host', [], 'app'), { code: 'invalid_argument', message: sharedNetworkConflict });
  t.deepEqual(connect('host', [], 'bridge'), { code: 'invalid_argument', message: sharedNetworkConflict });
  t.deepEqual(connect('container:db', [], 'app'), { code: 'invalid_argument', message: sharedNetworkConflict });
  t.deepEqual(connect('default', [], 'bridge'), { code: 'conflict', message: 'endpoint with name c already exists in network bridge' });
  t.deepEqual(connect('host', [], 'host'), { code: 'conflict', message: 'endpoint with name c already exists in network host' });
  t.deepEqual(connect('none', [], 'none'), { code: 'conflict', message: 'endpoint with name c already exists in network none' });
  t.deepEqual(connect('app', ['app'], 'app'), { code: 'conflict', message: 'endpoint with name c already exists in network app' });
  t.regex(connect('app', ['app'], 'bridge')!.message, /^container c cannot be connected to network bridge: Roost puts a container on its bridge network as its namespace is made/);
  t.is(connect('default', [], 'app'), undefined, 'a user-defined network may be added to the default one');
  t.is(connect('app', ['app'], 'other'), undefined);
});

test('network disconnect from a predefined network: host while running as Docker says; the others are refused with a reason', (t) => {
  const disconnect = (mode: string, target: string, running = true) => refusal(() => checkDisconnectPredefined('c', mode, currentNetworks(mode, []), target, running))!.message;
  t.is(disconnect('host', 'host'), hostNetworkConflict);
  t.is(disconnect('default', 'host'), 'container c is not connected to network host');
  t.is(disconnect('app', 'bridge'), 'container c is not connected to network bridge');
  t.regex(disconnect('default', 'bridge'), /^container c cannot be disconnected from network bridge: /);
  t.regex(disconnect('none', 'none', false), /^container c cannot be disconnected from network none: /);
});
