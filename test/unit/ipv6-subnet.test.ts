import test from 'ava';
import { bigIntToIPv6, freeAddress6, gateway6, ipv6ToBigInt, overlaps6, parseSubnet6, randomUlaSubnet } from '../../src/net/ipv6-subnet.js';
import { ipamConfigs } from '../../src/cli/commands/networks.js';

test('IPv6 addresses are read in any form and written in the shortest one', (t) => {
  t.is(bigIntToIPv6(ipv6ToBigInt('fd00:0001:0000:0000:0000:0000:0000:0002')), 'fd00:1::2');
  t.is(bigIntToIPv6(ipv6ToBigInt('FD00:1::')), 'fd00:1::');
  t.is(bigIntToIPv6(ipv6ToBigInt('fd00:0:0:1:0:0:0:1')), 'fd00:0:0:1::1', 'the longest run of zeros is elided');
  t.is(bigIntToIPv6(ipv6ToBigInt('1:2:3:4:5:6:7:8')), '1:2:3:4:5:6:7:8');
  t.throws(() => ipv6ToBigInt('fd00::1::2'), { message: /invalid IPv6 address/ });
});

test('IPv6 subnets: host bits, prefix lengths and overlaps are checked', (t) => {
  t.is(parseSubnet6('fd00:1::/64').prefix, 64);
  t.throws(() => parseSubnet6('fd00:1::1/64'), { message: 'invalid subnet fd00:1::1/64: host bits are set (did you mean fd00:1::/64?)' });
  t.throws(() => parseSubnet6('fd00::/32'), { message: /prefix length of an IPv6 subnet must be between 48 and 120/ });
  t.throws(() => parseSubnet6('10.0.0.0/8'), { message: /expected an IPv6 CIDR/ });
  t.true(overlaps6('fd00:1::/64', 'fd00:1::/96'));
  t.false(overlaps6('fd00:1::/64', 'fd00:2::/64'));
  t.regex(randomUlaSubnet(), /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
});

test('the gateway is the first address unless given; containers get the lowest free ones', (t) => {
  t.is(gateway6('fd00:1::/64'), 'fd00:1::1');
  t.is(gateway6('fd00:1::/64', 'fd00:1::fe'), 'fd00:1::fe');
  t.throws(() => gateway6('fd00:1::/64', 'fd00:2::1'), { message: 'gateway fd00:2::1 is not in subnet fd00:1::/64' });
  t.is(freeAddress6('fd00:1::/64', ['fd00:1::1']), 'fd00:1::2');
  t.is(freeAddress6('fd00:1::/64', ['fd00:1::1', 'fd00:1::2', 'fd00:1::4']), 'fd00:1::3');
  const all = Array.from({ length: 255 }, (_, i) => `fd00:1::${(i + 1).toString(16)}`);
  t.is(freeAddress6('fd00:1::/120', all.slice(0, 254)), 'fd00:1::ff');
  t.is(freeAddress6('fd00:1::/120', all), undefined, 'full');
});

test('network create --subnet/--gateway/--ip-range pair by address family, as the docker CLI does', (t) => {
  t.deepEqual(ipamConfigs([], []), []);
  t.deepEqual(ipamConfigs(['fd00:1::/64'], []), [{ Subnet: 'fd00:1::/64' }]);
  t.deepEqual(ipamConfigs(['10.9.0.0/24', 'fd00:1::/64'], ['fd00:1::9', '10.9.0.9'], '10.9.0.128/25'),
    [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.9', IPRange: '10.9.0.128/25' }, { Subnet: 'fd00:1::/64', Gateway: 'fd00:1::9' }]);
  t.deepEqual(ipamConfigs([], ['10.9.0.1']), [{ Gateway: '10.9.0.1' }], 'left for the engine to refuse');
});
