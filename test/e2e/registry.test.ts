import anyTest, { type TestFn } from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { e2eUnavailable, RoostEnv } from '../helpers/roost-env.js';
import { FakeRegistry, fetchImage, makeCertificates, registryAvailable, startRegistry, type RunningRegistry } from '../helpers/registry.js';

const skip = e2eUnavailable() ?? (registryAvailable() ? undefined : 'docker-registry or openssl is not installed (scripts/prepare-host.sh --test installs them)');
const test = anyTest as TestFn<{ roost: RoostEnv; plain: RunningRegistry }>;
const e2e = skip ? test.skip : test.serial;
if (skip) test('end-to-end: registries (skipped)', (t) => { t.log(skip); t.pass(); });

test.before(async (t) => {
  t.context.roost = new RoostEnv('registry');
  if (skip) return;
  await t.context.roost.loadBusybox(t as never);
  t.context.plain = await startRegistry(path.join(t.context.roost.base, 'plain'));
});
test.after.always(async (t) => {
  await t.context.plain?.stop();
  await t.context.roost?.destroy();
});

const lines = (text: string) => text.trim().split('\n');

/** An image with a layer of its own (300 kB that do not compress), pushed to the plain registry and not kept locally. */
let fat: Promise<Awaited<ReturnType<typeof fetchImage>>> | undefined;
function fatImage(roost: RoostEnv, plain: RunningRegistry) {
  fat ??= (async () => {
    await roost.roost(['run', '--name', 'mkfat', 'busybox', 'sh', '-c', 'head -c 300000 /dev/urandom > /blob']);
    await roost.roost(['commit', 'mkfat', `${plain.host}/tools/fat:1`]);
    await roost.roost(['rm', 'mkfat']);
    const push = await roost.roost(['push', `${plain.host}/tools/fat:1`]);
    if (push.exitCode !== 0) throw new Error(push.stderr);
    await roost.roost(['rmi', `${plain.host}/tools/fat:1`]);
    return fetchImage(plain.host, 'tools/fat', '1');
  })();
  return fat;
}

e2e('push to a plain-HTTP loopback registry, skopeo sees the same digest; rmi, pull and run it back', async (t) => {
  const { roost, plain } = t.context;
  const name = `${plain.host}/tools/busybox:1`;
  await roost.roost(['tag', 'busybox', name]);
  const push = await roost.roost(['push', name]);
  t.is(push.exitCode, 0, push.stderr);
  const digest = /1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(push.stdout)?.[1];
  t.truthy(digest, push.stdout);
  const inspect = await execa('skopeo', ['inspect', '--tls-verify=false', `docker://${name}`], { reject: false });
  t.is(JSON.parse(inspect.stdout).Digest, digest, 'skopeo reads the pushed manifest by the same digest');
  t.regex((await roost.roost(['push', name])).stdout, /Layer already exists/, 'a second push skips the blobs the registry has');

  await roost.roost(['rmi', name]);
  await roost.roost(['rmi', 'busybox']);
  const pull = await roost.roost(['pull', name]);
  t.is(pull.exitCode, 0, pull.stderr);
  t.deepEqual(lines(pull.stdout).slice(-3), [`Digest: ${digest}`, `Status: Downloaded newer image for ${name}`, name]);
  t.is((await roost.roost(['run', '--rm', name, 'sh', '-c', 'echo $((6*7))'])).stdout, '42\n');
  t.regex((await roost.roost(['images', '--digests', '--format', '{{.Repository}} {{.Digest}}'])).stdout, new RegExp(`${plain.host}/tools/busybox ${digest}`));
  t.regex((await roost.roost(['pull', name])).stdout, /Already exists[\s\S]*Status: Image is up to date/);
  t.is((await roost.roost(['pull', '-q', name])).stdout, `${name}\n`);
  // run pulls what is missing; --pull never does not.
  await roost.roost(['rmi', name]);
  const run = await roost.roost(['run', '--rm', name, 'echo', 'pulled by run']);
  t.is(run.stdout, 'pulled by run\n');
  t.regex(run.stderr, /Unable to find image .* locally/);
  const never = await roost.roost(['run', '--rm', '--pull', 'never', `${plain.host}/tools/busybox:2`, 'true']);
  t.is(never.exitCode, 125);
  t.regex(never.stderr, /No such image/);
  await roost.roost(['tag', name, 'busybox:latest']);
});

e2e('an image pulled through a multi-platform index is known by the index digest, as Docker records it', async (t) => {
  const { roost, plain } = t.context;
  // An OCI layout of busybox (skopeo), its manifest wrapped in an index for linux/amd64 and linux/arm64.
  const dir = path.join(roost.base, 'multi-layout');
  const toLayout = await execa('skopeo', ['copy', `docker-archive:${roost.busyboxArchive()}`, `oci:${dir}:1`], { reject: false });
  t.is(toLayout.exitCode, 0, toLayout.stderr);
  const layoutIndex = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const manifest = layoutIndex.manifests[0] as { mediaType: string; digest: string; size: number };
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: ['amd64', 'arm64'].map((architecture) => ({ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, platform: { os: 'linux', architecture } })),
  }));
  const indexDigest = `sha256:${createHash('sha256').update(index).digest('hex')}`;
  fs.writeFileSync(path.join(dir, 'blobs', 'sha256', indexDigest.slice(7)), index);
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': '1' } }],
  }));
  const repo = `${plain.host}/tools/multi`;
  const push = await execa('skopeo', ['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${dir}:1`, `docker://${repo}:1`], { reject: false });
  t.is(push.exitCode, 0, push.stderr);

  const pull = await roost.roost(['pull', `${repo}:1`]);
  t.is(pull.exitCode, 0, pull.stderr);
  t.regex(pull.stdout, new RegExp(`Digest: ${indexDigest}`));
  t.is((await roost.roost(['inspect', '-f', '{{json .RepoDigests}}', `${repo}:1`])).stdout, `${JSON.stringify([`${repo}@${indexDigest}`])}\n`);
  t.regex((await roost.roost(['images', '--digests', '--format', '{{.Repository}} {{.Digest}}', repo])).stdout, new RegExp(`^${repo} ${indexDigest}$`, 'm'));
  // Kept in the store: a new daemon knows it.
  process.kill(roost.daemonPid(), 'SIGKILL');
  t.is((await roost.roost(['inspect', '-f', '{{json .RepoDigests}}', `${repo}:1`])).stdout, `${JSON.stringify([`${repo}@${indexDigest}`])}\n`);
  // The index digest names the image, locally and in a pull by digest.
  t.is((await roost.roost(['run', '--rm', `${repo}@${indexDigest}`, 'echo', 'by index digest'])).stdout, 'by index digest\n');
  await roost.roost(['rmi', `${repo}:1`]);
  const byDigest = await roost.roost(['pull', `${repo}@${indexDigest}`]);
  t.is(byDigest.exitCode, 0, byDigest.stderr);
  t.is((await roost.roost(['inspect', '-f', '{{json .RepoTags}} {{json .RepoDigests}}', `${repo}@${indexDigest}`])).stdout, `[] ${JSON.stringify([`${repo}@${indexDigest}`])}\n`);
  await roost.roost(['rmi', `${repo}@${indexDigest}`]);
});

e2e('an image pushed by skopeo pulls into Roost; the docker CLI pulls and pushes through the socket', async (t) => {
  const { roost, plain } = t.context;
  const copy = await execa('skopeo', ['copy', '--dest-tls-verify=false', `docker-archive:${roost.busyboxArchive()}`, `docker://${plain.host}/by-skopeo:1`], { reject: false });
  t.is(copy.exitCode, 0, copy.stderr);
  const pull = await roost.roost(['pull', `${plain.host}/by-skopeo:1`]);
  t.is(pull.exitCode, 0, pull.stderr);
  t.is((await roost.roost(['run', '--rm', `${plain.host}/by-skopeo:1`, 'echo', 'from skopeo'])).stdout, 'from skopeo\n');
  const tagged = `${plain.host}/by-docker:1`;
  t.is((await roost.docker(['tag', 'busybox', tagged])).exitCode, 0);
  const push = await roost.docker(['push', tagged]);
  t.is(push.exitCode, 0, push.stderr);
  t.regex(push.stdout, /1: digest: sha256:[a-f0-9]{64}/);
  await roost.docker(['rmi', tagged]);
  const dockerPull = await roost.docker(['pull', tagged]);
  t.is(dockerPull.exitCode, 0, dockerPull.stderr);
  t.regex(dockerPull.stdout, /Status: Downloaded newer image/);
  t.is((await roost.docker(['run', '--rm', tagged, 'echo', 'docker run'])).stdout, 'docker run\n');
});

e2e('pull errors are one line with what to do, and leave no image: unknown tag, wrong platform, nothing listening', async (t) => {
  const { roost, plain } = t.context;
  const cases: Array<[string[], RegExp]> = [
    [['pull', `${plain.host}/tools/busybox:nope`], /^roost: manifest for tools\/busybox:nope not found on 127\.0\.0\.1:\d+/],
    [['pull', '--platform', 'linux/s390x', `${plain.host}/tools/busybox:1`], /does not match the requested platform: wanted linux\/s390x, it is linux\/amd64/],
    [['pull', '--platform', 'linux', `${plain.host}/tools/busybox:1`], /invalid platform "linux"/],
    [['pull', '127.0.0.1:1/x:1'], /^roost: cannot reach the registry 127\.0\.0\.1:1: connection refused/],
    [['pull', 'Busybox'], /invalid reference format: repository name must be lowercase/],
  ];
  const before = (await roost.roost(['images', '-q'])).stdout;
  for (const [args, pattern] of cases) {
    const result = await roost.roost(args);
    t.is(result.exitCode, 125, args.join(' '));
    t.regex(result.stderr, pattern, args.join(' '));
  }
  t.is((await roost.roost(['images', '-q'])).stdout, before, 'nothing half-pulled');
});

e2e('TLS registry with htpasswd: an unknown CA is explained, login checks the password, then push and pull work; logout forgets', async (t) => {
  const { roost } = t.context;
  const dir = path.join(roost.base, 'secure');
  const certs = makeCertificates(path.join(dir, 'certs'));
  const secure = await startRegistry(dir, { tls: { cert: certs.cert, key: certs.key }, users: { alice: 's3cret' } });
  try {
    const name = `${secure.host}/private/busybox:1`;
    const untrusted = await roost.roost(['pull', name]);
    t.is(untrusted.exitCode, 125);
    t.regex(untrusted.stderr, /^roost: the TLS certificate of 127\.0\.0\.1:\d+ does not verify/);
    t.regex(untrusted.stderr, new RegExp(`hint: add the registry's CA certificate at .*certs\\.d/${secure.host.replace('.', '\\.')}/ca\\.crt`));
    const certsDir = path.join(roost.env.XDG_CONFIG_HOME!, 'roost', 'certs.d', secure.host);
    fs.mkdirSync(certsDir, { recursive: true });
    fs.copyFileSync(certs.caCert, path.join(certsDir, 'ca.crt'));

    const anonymous = await roost.roost(['pull', name]);
    t.regex(anonymous.stderr, /unauthorized: authentication required\nhint: roost login 127\.0\.0\.1:\d+/);
    const wrong = await roost.roost(['login', '-u', 'alice', '--password-stdin', secure.host], { input: 'nope\n' });
    t.is(wrong.exitCode, 125);
    t.is(lines(wrong.stderr)[0], `roost: ${secure.host}: unauthorized: the user name or password was not accepted`);
    const login = await roost.roost(['login', '-u', 'alice', '--password-stdin', secure.host], { input: 's3cret\n' });
    t.is(login.stdout, 'Login Succeeded\n', login.stderr);
    t.false(`${login.stdout}${login.stderr}`.includes('s3cret'), 'the password is never printed');
    const configFile = path.join(roost.env.DOCKER_CONFIG!, 'config.json');
    t.is(fs.statSync(configFile).mode & 0o777, 0o600);
    t.truthy(JSON.parse(fs.readFileSync(configFile, 'utf8')).auths[secure.host].auth);

    await roost.roost(['tag', 'busybox', name]);
    const push = await roost.roost(['push', name]);
    t.is(push.exitCode, 0, push.stderr);
    await roost.roost(['rmi', name]);
    const pull = await roost.roost(['pull', name]);
    t.is(pull.exitCode, 0, pull.stderr);
    t.is((await roost.roost(['run', '--rm', name, 'echo', 'private'])).stdout, 'private\n');
    // The docker CLI logs in through the engine too (POST /auth).
    const dockerLogin = await roost.docker(['login', '-u', 'alice', '--password-stdin', secure.host], { input: 's3cret\n' });
    t.regex(dockerLogin.stdout, /Login Succeeded/, dockerLogin.stderr);

    t.is((await roost.roost(['logout', secure.host])).stdout, `Removing login credentials for ${secure.host}\n`);
    await roost.roost(['rmi', name]);
    const after = await roost.roost(['pull', name]);
    t.is(after.exitCode, 125);
    t.regex(after.stderr, /unauthorized/);
  } finally {
    await secure.stop();
  }
});

e2e('bearer tokens, retries (5xx, 429 Retry-After), a dropped layer download resumed with Range', async (t) => {
  const { roost, plain } = t.context;
  const image = await fatImage(roost, plain);
  const fake = new FakeRegistry(image, 'fake/busybox', { bob: 'pw' });
  await fake.start();
  try {
    const name = `${fake.host}/fake/busybox:latest`;
    const anonymous = await roost.roost(['pull', name]);
    t.regex(anonymous.stderr, /unauthorized/, 'the token server refuses anonymous users');
    t.is((await roost.roost(['login', '-u', 'bob', '--password-stdin', fake.host], { input: 'pw' })).exitCode, 0);
    fake.misbehave = { manifestStatuses: [500, 503], blobStatuses: [429], retryAfterSeconds: 1, dropLayerAfter: 100_000 };
    const pull = await roost.roost(['pull', name]);
    t.is(pull.exitCode, 0, pull.stderr);
    t.true(fake.log.some((l) => /GET \/v2\/fake\/busybox\/blobs\/.* bytes=100000-$/.test(l)), `resumed from byte 100000:\n${fake.log.join('\n')}`);
    t.is((await roost.roost(['run', '--rm', name, 'sh', '-c', 'wc -c < /blob'])).stdout, '300000\n', 'the resumed layer is whole');
    await roost.roost(['rmi', name]);
  } finally {
    await fake.stop();
  }
});

e2e('a layer that does not match its digest, a schema 1 or unknown manifest, 403 and a huge manifest: refused, no image left', async (t) => {
  const { roost, plain } = t.context;
  const image = await fatImage(roost, plain);
  const fake = new FakeRegistry(image, 'bad/busybox');
  await fake.start();
  try {
    const name = `${fake.host}/bad/busybox:latest`;
    const cases: Array<[FakeRegistry['misbehave'], RegExp]> = [
      [{ corruptLayer: true }, /does not match its digest|unpacks to|not a valid|unexpected end/],
      [{ manifestBody: { body: Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'bad/busybox', fsLayers: [] })), type: 'application/vnd.docker.distribution.manifest.v1+prettyjws' } }, /schema 1 manifest/],
      [{ manifestBody: { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/x-strange' })), type: 'application/x-strange' } }, /unknown media type "application\/x-strange"/],
      [{ manifestBody: { body: Buffer.alloc(5 * 1024 * 1024, 32), type: 'application/vnd.oci.image.manifest.v1+json' } }, /more than the 4194304 allowed/],
      [{ manifestStatuses: [403] }, /access to manifest for bad\/busybox:latest denied/],
    ];
    for (const [misbehave, pattern] of cases) {
      fake.misbehave = misbehave;
      const result = await roost.roost(['pull', name]);
      t.is(result.exitCode, 125, JSON.stringify(Object.keys(misbehave)));
      t.regex(result.stderr, pattern);
      t.is(result.stderr.trim().split('\n').filter((l) => !l.startsWith('hint:')).length, 1, 'one line');
      t.is((await roost.roost(['images', '-q', name])).stdout, '', 'no image recorded');
    }
  } finally {
    await fake.stop();
  }
});

e2e('pull --all-tags pulls every tag of the repository, the docker CLI way too; a tag with -a is refused', async (t) => {
  const { roost, plain } = t.context;
  const repo = `${plain.host}/tools/many`;
  for (const tag of ['a', 'b', 'c']) {
    t.is((await roost.roost(['tag', 'busybox', `${repo}:${tag}`])).exitCode, 0);
    const push = await roost.roost(['push', `${repo}:${tag}`]);
    t.is(push.exitCode, 0, push.stderr);
    t.is((await roost.roost(['rmi', `${repo}:${tag}`])).exitCode, 0);
  }
  const pull = await roost.roost(['pull', '--all-tags', repo]);
  t.is(pull.exitCode, 0, pull.stderr);
  for (const tag of ['a', 'b', 'c']) t.regex(pull.stdout, new RegExp(`Status: .* for ${repo.replace(/\./g, '\\.')}:${tag}\\n`));
  const tags = (await roost.roost(['images', repo, '--format', '{{.Tag}}'])).stdout.trim().split('\n').sort();
  t.deepEqual(tags, ['a', 'b', 'c']);
  const withTag = await roost.roost(['pull', '-a', `${repo}:a`]);
  t.is(withTag.exitCode, 125);
  t.is(withTag.stderr, "roost: tag can't be used with --all-tags/-a\n");
  const missing = await roost.roost(['pull', '-a', `${plain.host}/tools/none`]);
  t.not(missing.exitCode, 0);
  t.regex(missing.stderr, /^roost: .*tools\/none/);
  for (const tag of ['a', 'b', 'c']) await roost.roost(['rmi', `${repo}:${tag}`]);
  const docker = await roost.docker(['pull', '-a', repo]);
  if (docker.exitCode === 127 || /not found/.test(docker.stderr) && !docker.stdout) return void t.log('docker CLI missing: its part not run');
  t.is(docker.exitCode, 0, docker.stderr);
  t.deepEqual((await roost.roost(['images', repo, '--format', '{{.Tag}}'])).stdout.trim().split('\n').sort(), ['a', 'b', 'c']);
});

e2e('blobs above the chunk size are pushed in PATCH chunks with Content-Range, a refused chunk sent again; skopeo reads the same digest', async (t) => {
  const { plain } = t.context;
  const roost = new RoostEnv('regchunk');
  roost.env.ROOST_PUSH_CHUNK_BYTES = String(64 * 1024);
  // A proxy in front of the registry that notes each request's method and Content-Range.
  const seen: string[] = [];
  const [registryHost, registryPort] = plain.host.split(':');
  let refused = false;
  const proxy = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.headers['content-range'] ?? ''}`.trim());
    // The second chunk is refused once, as a busy registry would: it is read from the blob again and resent.
    if (req.method === 'PATCH' && req.headers['content-range'] === '65536-131071' && !refused) {
      refused = true;
      req.resume();
      res.writeHead(503).end();
      return;
    }
    const upstream = http.request({ host: registryHost, port: Number(registryPort), method: req.method, path: req.url, headers: { ...req.headers, host: plain.host } }, (up) => {
      const headers = { ...up.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(plain.host, proxyHost);
      res.writeHead(up.statusCode ?? 502, headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyHost = `127.0.0.1:${(proxy.address() as import('node:net').AddressInfo).port}`;
  try {
    await roost.loadBusybox(t);
    await roost.roost(['run', '--name', 'mk', 'busybox', 'sh', '-c', 'head -c 300000 /dev/urandom > /blob']);
    const name = `${proxyHost}/tools/chunked:1`;
    t.is((await roost.roost(['commit', 'mk', name])).exitCode, 0);
    const push = await roost.roost(['push', name]);
    t.is(push.exitCode, 0, push.stderr);
    const digest = /1: digest: (sha256:[a-f0-9]{64})/.exec(push.stdout)?.[1];
    const patches = seen.filter((s) => s.startsWith('PATCH'));
    t.true(patches.length >= 5, `the ~300 kB layer went in 64 KiB chunks: ${patches.join(', ')}`);
    // Layers go up in parallel, so their chunks interleave; each starts at 0 and runs on.
    t.true(patches.includes('PATCH 0-65535'));
    const sends = (range: string) => patches.filter((p) => p === `PATCH ${range}`).length;
    t.is(sends('65536-131071'), sends('131072-196607') + 1, 'the refused chunk was sent again (once more than the next chunk)');
    const inspect = await execa('skopeo', ['inspect', '--tls-verify=false', `docker://${plain.host}/tools/chunked:1`], { reject: false });
    t.is(JSON.parse(inspect.stdout).Digest, digest, 'the registry holds the image the push reported');
  } finally {
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
    await roost.destroy();
  }
});

/** POST /images/create through the socket: the JSON progress messages, in order. */
function apiPull(roost: RoostEnv, repository: string, tag: string): Promise<Array<{ status?: string; id?: string; progressDetail?: { current?: number; total?: number }; error?: string }>> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: roost.socket, method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(repository)}&tag=${tag}` }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (text: string) => { body += text; });
      res.on('end', () => resolve(body.split('\n').filter(Boolean).map((line) => JSON.parse(line))));
    });
    req.on('error', reject);
    req.end();
  });
}

e2e('pull progress shows Docker\'s phases, Extracting included: through the API, roost pull and the docker CLI', async (t) => {
  const { roost, plain } = t.context;
  const image = await fatImage(roost, plain);
  const name = `${plain.host}/tools/fat:1`;
  const manifest = JSON.parse(image.manifest.toString()) as { layers: Array<{ digest: string }> };
  const fatLayer = manifest.layers.at(-1)!.digest;
  const id = fatLayer.slice(7, 19);
  const unpackedSize = zlib.gunzipSync(image.blobs.get(fatLayer)!).length;

  const messages = await apiPull(roost, `${plain.host}/tools/fat`, '1');
  t.false(messages.some((m) => m.error), JSON.stringify(messages));
  const mine = messages.filter((m) => m.id === id);
  t.true(mine.every((m) => typeof m.progressDetail === 'object'), 'every layer message has a progressDetail');
  const phases = mine.map((m) => m.status).filter((s, i, all) => s !== all[i - 1]);
  t.deepEqual(phases, ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']);
  const extracting = mine.filter((m) => m.status === 'Extracting').map((m) => m.progressDetail!.current!);
  t.deepEqual(extracting, [...extracting].sort((a, b) => a - b), 'the unpacked count only grows');
  t.is(extracting.at(-1), unpackedSize, 'the last figure is the whole uncompressed layer');
  t.is((await roost.roost(['rmi', name])).exitCode, 0);

  const pull = await roost.roost(['pull', name]);
  t.is(pull.exitCode, 0, pull.stderr);
  const layerLines = lines(pull.stdout).filter((l) => l.startsWith(`${id}: `));
  t.deepEqual(layerLines, ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete'].map((s) => `${id}: ${s}`));
  t.is((await roost.roost(['rmi', name])).exitCode, 0);

  // The docker CLI draws bars only on a terminal: give it one.
  const docker = await execa('script', ['-qec', `docker pull ${name}`, '/dev/null'], { env: roost.env, reject: false, timeout: 60_000 });
  t.is(docker.exitCode, 0, docker.stdout);
  t.regex(docker.stdout, new RegExp(`${id}: Extracting +\\[=*>? *\\] |${id}: Extracting +[0-9.]+k?B`), 'the docker CLI shows the Extracting phase');
  t.regex(docker.stdout, new RegExp(`${id}: Pull complete`));
  await roost.roost(['rmi', name]);

  // More new layers than are fetched at once (3): the rest wait, and say so.
  const layered = `${plain.host}/tools/layered:1`;
  const dockerfile = 'FROM busybox\nRUN echo 1 > /1\nRUN echo 2 > /2\nRUN echo 3 > /3\nRUN echo 4 > /4\n';
  t.is((await roost.roost(['build', '-q', '-t', layered, '-'], { input: dockerfile })).exitCode, 0);
  t.is((await roost.roost(['push', layered])).exitCode, 0);
  t.is((await roost.roost(['rmi', layered])).exitCode, 0);
  const queued = await apiPull(roost, `${plain.host}/tools/layered`, '1');
  const waited = queued.filter((m) => m.status === 'Waiting').map((m) => m.id);
  t.is(waited.length, queued.filter((m) => m.status === 'Pulling fs layer').length - 3, JSON.stringify(queued.map((m) => `${m.id} ${m.status}`)));
  for (const waiting of waited) {
    const phases = queued.filter((m) => m.id === waiting).map((m) => m.status).filter((s, i, all) => s !== all[i - 1]);
    // The build cache keeps these layers' snapshots: a layer may only be downloaded, then it has no Extracting.
    const unpacked = phases.includes('Extracting') ? ['Extracting'] : [];
    t.deepEqual(phases, ['Pulling fs layer', 'Waiting', 'Downloading', 'Verifying Checksum', 'Download complete', ...unpacked, 'Pull complete']);
  }
  t.true(waited.length >= 1);
  await roost.roost(['rmi', layered]);
});
