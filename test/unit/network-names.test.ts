import test from 'ava';
import { addressesOf, type NamedNetwork } from '../../src/net/network-names.js';

const web = 'abcdef0123456789'.padEnd(64, '0');
const db = '0123456789abcdef'.padEnd(64, '1');
const networks: NamedNetwork[] = [
  { Name: 'mynet', endpoints: { [web]: { ContainerId: web, Name: 'web', Aliases: ['front'], IPv4: '10.89.1.2' }, [db]: { ContainerId: db, Name: 'db', Aliases: [], IPv4: '10.89.1.3' } } },
  { Name: 'back.end', endpoints: { [db]: { ContainerId: db, Name: 'db', Aliases: ['database'], IPv4: '10.89.2.2' } } },
];

test('a name, an alias or a short ID alone answers on every network of the asker', (t) => {
  t.deepEqual(addressesOf('web', networks), ['10.89.1.2']);
  t.deepEqual(addressesOf('FRONT', networks), ['10.89.1.2']);
  t.deepEqual(addressesOf('abcdef012345', networks), ['10.89.1.2']);
  t.deepEqual(addressesOf('db', networks), ['10.89.1.3', '10.89.2.2']);
  t.deepEqual(addressesOf('database', networks), ['10.89.2.2'], 'an alias is scoped to the network it was given on');
  t.is(addressesOf('abcdef0123456789', networks), undefined, 'only the 12-character short ID');
});

test('NAME.NETWORK answers with the address on that network only, network names with dots included', (t) => {
  t.deepEqual(addressesOf('web.mynet', networks), ['10.89.1.2']);
  t.deepEqual(addressesOf('Web.MyNet.', networks), ['10.89.1.2']);
  t.deepEqual(addressesOf('front.mynet', networks), ['10.89.1.2']);
  t.deepEqual(addressesOf('abcdef012345.mynet', networks), ['10.89.1.2']);
  t.deepEqual(addressesOf('db.mynet', networks), ['10.89.1.3']);
  t.deepEqual(addressesOf('db.back.end', networks), ['10.89.2.2']);
  t.deepEqual(addressesOf('database.back.end', networks), ['10.89.2.2']);
  t.is(addressesOf('web.back.end', networks), undefined, 'web is not on back.end');
  t.is(addressesOf('database.mynet', networks), undefined, "the alias is not mynet's");
  t.is(addressesOf('web.othernet', networks), undefined, 'not a network of the asker: forwarded');
  t.is(addressesOf('www.example.com', networks), undefined);
});

test('IPv6 (AAAA): the same names, the addresses of members on --ipv6 networks; none is an empty answer, not an unknown name', (t) => {
  const v6: NamedNetwork[] = [...networks, { Name: 'six', endpoints: { [web]: { ContainerId: web, Name: 'web', Aliases: [], IPv4: '10.89.3.2', IPv6: 'fd00:1::2' } } }];
  t.deepEqual(addressesOf('web', v6, 'IPv6'), ['fd00:1::2']);
  t.deepEqual(addressesOf('web.six', v6, 'IPv6'), ['fd00:1::2']);
  t.deepEqual(addressesOf('web.mynet', v6, 'IPv6'), []);
  t.deepEqual(addressesOf('db', v6, 'IPv6'), []);
  t.is(addressesOf('nobody', v6, 'IPv6'), undefined);
});
