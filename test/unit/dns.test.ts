import test from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import { checkDnsSettings, extraHostsLines, parseExtraHost, resolvConfContent } from '../../src/net/dns-config.js';
import { buildResponse, parseQuery, Rcode, reverseIPv6, RR } from '../../src/net/dns-message.js';
import { defaultUpstreams, EmbeddedDns, parseUpstream, type DnsClient } from '../../src/net/embedded-dns.js';
import { bigIntToIPv6 } from '../../src/net/ipv6-subnet.js';
import { EngineError } from '../../src/util/errors.js';

/** A query as a stub resolver sends it. */
function query(name: string, type: number = RR.A, id = 0x1234): Buffer {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, type >> 8, type & 255, 0, 1])]);
}

/** rcode and the answers' data (A as dotted quads, PTR as names) of a response. */
function readResponse(packet: Buffer): { id: number; rcode: number; answers: string[]; aa: boolean } {
  const q = parseQuery(Buffer.concat([packet.subarray(0, 2), Buffer.from([0x01, 0x00]), packet.subarray(4)]))!;
  let at = 12 + q.question.length;
  const answers: string[] = [];
  for (let i = 0; i < packet.readUInt16BE(6); i++) {
    const type = packet.readUInt16BE(at + 2);
    const length = packet.readUInt16BE(at + 10);
    const data = packet.subarray(at + 12, at + 12 + length);
    if (type === RR.A) answers.push([...data].join('.'));
    else if (type === RR.AAAA) answers.push(bigIntToIPv6(BigInt(`0x${data.toString('hex')}`)));
    else {
      const labels: string[] = [];
      for (let j = 0; data[j]! > 0; j += data[j]! + 1) labels.push(data.subarray(j + 1, j + 1 + data[j]!).toString());
      answers.push(labels.join('.'));
    }
    at += 12 + length;
  }
  return { id: packet.readUInt16BE(0), rcode: packet.readUInt16BE(2) & 0xf, answers, aa: Boolean(packet.readUInt16BE(2) & 0x0400) };
}

test('--add-host specs: name:ip, name=ip, IPv6 with or without brackets, host-gateway; bad ones are refused', (t) => {
  t.deepEqual(parseExtraHost('db:10.0.0.5'), { name: 'db', address: '10.0.0.5' });
  t.deepEqual(parseExtraHost('db=10.0.0.5'), { name: 'db', address: '10.0.0.5' });
  t.deepEqual(parseExtraHost('six:::1'), { name: 'six', address: '::1' });
  t.deepEqual(parseExtraHost('six=[fe80::1]'), { name: 'six', address: 'fe80::1' });
  t.deepEqual(parseExtraHost('gw:host-gateway'), { name: 'gw', address: 'host-gateway' });
  for (const bad of ['noseparator', ':10.0.0.1', 'x:10.0.0', 'x:', 'a b:10.0.0.1']) t.throws(() => parseExtraHost(bad), { instanceOf: EngineError }, bad);
  t.deepEqual(extraHostsLines(['a:10.0.0.1', 'h:host-gateway'], '10.0.2.2'), ['10.0.0.1\ta', '10.0.2.2\th']);
  t.notThrows(() => checkDnsSettings({ Dns: ['10.0.0.1', '::1'], DnsSearch: ['example.com', 'example.com.', '.'], DnsOptions: ['ndots:2', 'rotate'] }));
  for (const bad of [{ Dns: ['example.com'] }, { DnsSearch: ['-x'] }, { DnsSearch: ['a..b'] }, { DnsOptions: ['a b'] }, { DnsOptions: [''] }, { ExtraHosts: ['x'] }]) {
    t.throws(() => checkDnsSettings(bad), { instanceOf: EngineError }, JSON.stringify(bad));
  }
});

test("resolv.conf: each --dns* flag replaces the host's line of its kind; the embedded server adds ndots:0", (t) => {
  const host = '# generated\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch lan corp\noptions edns0\n';
  t.is(resolvConfContent(host, {}), 'nameserver 10.1.1.1\nsearch lan corp\noptions edns0\n', 'loopback resolvers dropped');
  t.is(resolvConfContent(host, {}, { hostNetwork: true }), 'nameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch lan corp\noptions edns0\n');
  t.is(resolvConfContent(host, { Dns: ['9.9.9.9'], DnsSearch: ['.'], DnsOptions: ['ndots:2'] }), 'nameserver 9.9.9.9\noptions ndots:2\n');
  t.is(resolvConfContent(host, { Dns: ['9.9.9.9'] }, { embeddedServer: '10.89.1.1' }), 'nameserver 10.89.1.1\nsearch lan corp\noptions edns0 ndots:0\n');
  t.is(resolvConfContent(host, { DnsOptions: ['ndots:3'] }, { embeddedServer: '10.89.1.1' }), 'nameserver 10.89.1.1\nsearch lan corp\noptions ndots:3\n');
});

test('upstream addresses and the default upstream list', (t) => {
  t.deepEqual(parseUpstream('10.0.0.1'), { host: '10.0.0.1', port: 53 });
  t.deepEqual(parseUpstream('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  t.deepEqual(parseUpstream('[::1]:5353'), { host: '::1', port: 5353 });
  t.deepEqual(parseUpstream('::1'), { host: '::1', port: 53 });
  t.is(parseUpstream('resolver:53'), undefined);
  t.deepEqual(defaultUpstreams({ ROOST_DNS_UPSTREAM: 'none' }), []);
  t.deepEqual(defaultUpstreams({ ROOST_DNS_UPSTREAM: '127.0.0.1:1053, 127.0.0.2' }), [{ host: '127.0.0.1', port: 1053 }, { host: '127.0.0.2', port: 53 }]);
});

/** A fake upstream on the loopback: every name is 192.0.2.7; counts the queries. */
async function fakeUpstream(t: { teardown(fn: () => void): void }) {
  const udp = dgram.createSocket('udp4');
  const tcp = net.createServer((conn) => conn.on('data', (chunk) => {
    const q = parseQuery(chunk.subarray(2))!;
    const reply = buildResponse(q, Rcode.NOERROR, [{ type: RR.A, ttl: 1, data: '192.0.2.8' }], false);
    conn.end(Buffer.concat([Buffer.from([reply.length >> 8, reply.length & 255]), reply]));
  }));
  const seen = { count: 0 };
  udp.on('message', (packet, from) => {
    seen.count++;
    const q = parseQuery(packet)!;
    udp.send(buildResponse(q, Rcode.NOERROR, [{ type: RR.A, ttl: 1, data: '192.0.2.7' }], false), from.port, from.address);
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  t.teardown(() => { udp.close(); tcp.close(); });
  return { seen, udpPort: udp.address().port, tcpPort: (tcp.address() as net.AddressInfo).port };
}

test('the embedded server answers its names (A, AAAA, PTR), forwards others, refuses strangers and internal networks', async (t) => {
  const upstream = await fakeUpstream(t);
  let upstreams = [{ host: '127.0.0.1', port: upstream.udpPort }];
  const book: Record<string, string[]> = { db: ['10.89.1.2'], svc: ['10.89.1.2', '10.89.1.3'] };
  const client: DnsClient = {
    lookup: (name) => book[name],
    lookup6: (name) => (name === 'db' ? ['fd00:1::2'] : []),
    reverse: (ip) => (ip === '10.89.1.2' || ip === 'fd00:1::2' ? 'db' : undefined),
    get upstreams() { return upstreams; },
  };
  const dns = new EmbeddedDns((address) => (address === '10.89.1.9' ? client : undefined), { timeoutMs: 300 });
  const ask = async (name: string, type: number = RR.A, from = '10.89.1.9') => readResponse((await dns.answer(query(name, type), from, 'udp'))!);

  t.deepEqual(await ask('db'), { id: 0x1234, rcode: Rcode.NOERROR, answers: ['10.89.1.2'], aa: true });
  t.deepEqual((await ask('svc')).answers, ['10.89.1.2', '10.89.1.3'], 'an alias two containers share');
  t.deepEqual(await ask('db', RR.AAAA), { id: 0x1234, rcode: Rcode.NOERROR, answers: ['fd00:1::2'], aa: true }, 'on an --ipv6 network');
  t.deepEqual(await ask('svc', RR.AAAA), { id: 0x1234, rcode: Rcode.NOERROR, answers: [], aa: true }, 'no IPv6 address: no data, not NXDOMAIN');
  t.deepEqual((await ask('2.1.89.10.in-addr.arpa', RR.PTR)).answers, ['db']);
  const ip6arpa = `${'2'}${'.0'.repeat(23)}.1.0.0.0.0.0.d.f.ip6.arpa`;
  t.is(reverseIPv6(ip6arpa), 'fd00:1::2');
  t.is(reverseIPv6('2.0.ip6.arpa'), undefined, 'not 32 nibbles');
  t.deepEqual((await ask(ip6arpa, RR.PTR)).answers, ['db'], 'PTR of an IPv6 address');
  t.is(upstream.seen.count, 0, 'local names are not forwarded');
  t.deepEqual(await ask('www.example.test'), { id: 0x1234, rcode: Rcode.NOERROR, answers: ['192.0.2.7'], aa: false });
  t.is(upstream.seen.count, 1);
  t.is((await ask('db', RR.A, '10.89.1.77')).rcode, Rcode.REFUSED, 'an address that is no container of ours');
  upstreams = [];
  t.is((await ask('www.example.test')).rcode, Rcode.REFUSED, 'no way out');
  upstreams = [{ host: '127.0.0.1', port: upstream.tcpPort }];
  t.deepEqual(readResponse((await dns.answer(query('www.example.test'), '10.89.1.9', 'tcp'))!).answers, ['192.0.2.8'], 'TCP is forwarded over TCP');
  // An upstream that does not answer (a UDP port nobody listens on): SERVFAIL after the timeout.
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  upstreams = [{ host: '127.0.0.1', port: silent.address().port }];
  t.is((await ask('www.example.test')).rcode, Rcode.SERVFAIL);
  silent.close();
  t.is(await dns.answer(Buffer.from([1, 2, 0x81, 0]), '10.89.1.9', 'udp'), undefined, 'a response is never answered');
  const malformed = (await dns.answer(Buffer.from([1, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0]), '10.89.1.9', 'udp'))!;
  t.deepEqual([malformed.readUInt16BE(0), malformed.readUInt16BE(2) & 0x800f], [0x0102, 0x8000 | Rcode.FORMERR], 'a malformed query: FORMERR with its id');
});

test('the embedded server serves its UDP and TCP sockets', async (t) => {
  const client: DnsClient = { lookup: (name) => (name === 'db' ? ['10.89.1.2'] : undefined), reverse: () => undefined, upstreams: [] };
  const dns = new EmbeddedDns(() => client);
  const udp = dgram.createSocket('udp4');
  const tcp = net.createServer();
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  dns.serveUdp(udp);
  dns.serveTcp(tcp);
  t.teardown(() => dns.close());
  const viaUdp = await new Promise<Buffer>((resolve) => {
    const c = dgram.createSocket('udp4');
    c.on('message', (m) => { c.close(); resolve(m); });
    c.send(query('db', RR.A, 7), udp.address().port, '127.0.0.1');
  });
  t.deepEqual(readResponse(viaUdp).answers, ['10.89.1.2']);
  const viaTcp = await new Promise<Buffer>((resolve, reject) => {
    const c = net.createConnection((tcp.address() as net.AddressInfo).port, '127.0.0.1');
    const q = query('db', RR.A, 8);
    let got = Buffer.alloc(0);
    c.on('connect', () => c.write(Buffer.concat([Buffer.from([0, q.length]), q])));
    c.on('data', (d) => { got = Buffer.concat([got, d]); if (got.length >= 2 + got.readUInt16BE(0)) { c.end(); resolve(got.subarray(2)); } });
    c.on('error', reject);
  });
  t.deepEqual(readResponse(viaTcp), { id: 8, rcode: Rcode.NOERROR, answers: ['10.89.1.2'], aa: true });
});
