import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eraseCredentials, getCredentials, registryAuthHeader, serverKey, storeCredentials } from '../../src/cli/credentials.js';
import { parseChallenge } from '../../src/registry/registry-client.js';
import { hostPlatform, parsePlatform } from '../../src/registry/manifests.js';

test('credentials are kept in the docker CLI\'s config.json format, 0600, and other settings survive', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'creds-'));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({ auths: {}, psFormat: 'table {{.ID}}' }));
  await storeCredentials('127.0.0.1:5000', { username: 'alice', password: 'p:ss' }, file);
  await storeCredentials('docker.io', { username: 'bob', password: 'x' }, file);
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  t.is(saved.psFormat, 'table {{.ID}}');
  t.is(saved.auths['127.0.0.1:5000'].auth, Buffer.from('alice:p:ss').toString('base64'));
  t.truthy(saved.auths['https://index.docker.io/v1/'], 'Docker Hub under its historical key');
  t.is(fs.statSync(file).mode & 0o777, 0o600);
  t.deepEqual(await getCredentials('127.0.0.1:5000', file), { username: 'alice', password: 'p:ss' });
  t.deepEqual(JSON.parse(Buffer.from(await registryAuthHeader('127.0.0.1:5000', await getCredentials('127.0.0.1:5000', file)), 'base64url').toString()), { username: 'alice', password: 'p:ss', serveraddress: '127.0.0.1:5000' });
  t.true(await eraseCredentials('127.0.0.1:5000', file));
  t.is(await getCredentials('127.0.0.1:5000', file), undefined);
  t.false(await eraseCredentials('127.0.0.1:5000', file));
  t.is(serverKey('docker.io'), 'https://index.docker.io/v1/');
});

test('a credential helper that is not installed is named in the error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'creds-'));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({ credsStore: 'roost-test-missing' }));
  await t.throwsAsync(getCredentials('example.test', file), { message: /docker-credential-roost-test-missing is not installed/ });
  fs.writeFileSync(file, '{ not json');
  await t.throwsAsync(getCredentials('example.test', file), { message: /is not valid JSON/ });
});

test('auth challenges and platforms are parsed as registries and Docker write them', (t) => {
  t.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'), {
    scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
  });
  t.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
  t.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  t.throws(() => parsePlatform('linux'), { message: /expected os\/arch\[\/variant\]/ });
  t.is(hostPlatform().os, 'linux');
});
