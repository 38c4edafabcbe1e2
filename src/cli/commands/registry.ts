import { familiarName, fullName, parseReference } from '../../image/reference.js';
import { invalid } from '../../util/errors.js';
import type { Command } from '../command.js';
import { eraseCredentials, getCredentials, registryAuthHeader, serverKey, storeCredentials } from '../credentials.js';
import { ProgressView, type ProgressLine } from '../progress-view.js';
import type { ApiClient } from '../../api/client.js';

/** Pulls `name` through the engine with the saved credentials, showing progress unless quiet. */
export async function pullImage(client: ApiClient, name: string, opts: { quiet?: boolean; platform?: string; out?: NodeJS.WriteStream; allTags?: boolean } = {}): Promise<string> {
  const ref = parseReference(name);
  if (opts.allTags && (ref.digest || /:[^/]*$/.test(name))) throw invalid(`tag can't be used with --all-tags/-a`);
  const view = new ProgressView(opts.out ?? process.stdout);
  // As the docker CLI sends it: the tag (or digest) apart, and none at all for every tag.
  const repository = familiarName({ ...ref, tag: undefined, digest: undefined });
  const tag = opts.allTags ? undefined : ref.digest ?? ref.tag ?? 'latest';
  const lines = client.jsonLines<ProgressLine>('/images/create', {
    method: 'POST',
    query: { fromImage: repository, tag, platform: opts.platform },
    headers: { 'X-Registry-Auth': await registryAuthHeader(ref.domain) },
  });
  for await (const line of lines) {
    if (opts.quiet) {
      if (line.error || line.errorDetail) view.show(line);
    } else view.show(line);
  }
  return opts.allTags ? fullName({ ...ref, tag: undefined }) : fullName(ref);
}

const pull: Command = {
  name: 'pull', synopsis: '[OPTIONS] NAME[:TAG|@DIGEST]', description: 'Download an image from a registry',
  flags: [
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable (os/arch[/variant])' },
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Download all tagged images in the repository' },
  ],
  minArgs: 1, maxArgs: 1,
  async run(ctx) {
    const name = ctx.args.positionals[0]!;
    const full = await pullImage(await ctx.client(), name, { quiet: Boolean(ctx.args.flags.quiet), platform: ctx.args.flags.platform as string | undefined, allTags: Boolean(ctx.args.flags['all-tags']) });
    process.stdout.write(`${full}\n`);
    return 0;
  },
};

const push: Command = {
  name: 'push', synopsis: '[OPTIONS] NAME[:TAG]', description: 'Upload an image to a registry',
  flags: [{ name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' }],
  minArgs: 1, maxArgs: 1,
  async run(ctx) {
    const name = ctx.args.positionals[0]!;
    const ref = parseReference(name);
    if (ref.digest) throw invalid(`cannot push a digest reference: ${name}`);
    const view = new ProgressView();
    const client = await ctx.client();
    let digest = '';
    for await (const line of client.jsonLines<ProgressLine & { aux?: { Digest?: string } }>(`/images/${encodeURIComponent(familiarName({ ...ref, tag: undefined }))}/push`, {
      method: 'POST', query: { tag: ref.tag }, headers: { 'X-Registry-Auth': await registryAuthHeader(ref.domain) },
    })) {
      if (line.aux?.Digest) digest = line.aux.Digest;
      if (!ctx.args.flags.quiet || line.error || line.errorDetail) view.show(line);
    }
    if (ctx.args.flags.quiet) process.stdout.write(`${fullName(ref)}\n`);
    return digest ? 0 : 1;
  },
};

async function ask(question: string, hidden: boolean): Promise<string> {
  const readline = await import('node:readline');
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      const write = (rl as unknown as { _writeToOutput: (s: string) => void });
      write._writeToOutput = (s: string) => { if (s.includes(question)) process.stderr.write(s); };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `host[:port]`, a URL, or nothing (Docker Hub) → the registry's domain. */
function serverDomain(server: string | undefined): string {
  if (!server) return 'docker.io';
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

const login: Command = {
  name: 'login', synopsis: '[OPTIONS] [SERVER]', description: 'Log in to a registry',
  flags: [
    { name: 'username', short: 'u', type: 'string', help: 'Username' },
    { name: 'password', short: 'p', type: 'string', help: 'Password (prefer --password-stdin)' },
    { name: 'password-stdin', type: 'bool', help: 'Take the password from stdin' },
  ],
  maxArgs: 1,
  async run(ctx) {
    const domain = serverDomain(ctx.args.positionals[0]);
    const f = ctx.args.flags;
    if (f.password !== undefined && f['password-stdin']) throw invalid('--password and --password-stdin are mutually exclusive');
    let username = f.username as string | undefined;
    let password = f.password as string | undefined;
    if (f['password-stdin']) {
      if (!username) throw invalid('must provide --username with --password-stdin');
      password = await readStdin();
    } else if (f.password !== undefined) {
      process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    }
    if (!username || password === undefined) {
      const saved = await getCredentials(domain);
      if (!process.stdin.isTTY) {
        if (!saved) throw invalid('cannot perform an interactive login from a non TTY device', 'use --username and --password-stdin');
      }
      if (process.stdin.isTTY) {
        username ||= (await ask(`Username${saved?.username ? ` (${saved.username})` : ''}: `, false)) || saved?.username;
        if (!username) throw invalid('username is required');
        password = await ask('Password: ', true);
      } else {
        username = saved!.username;
        password = saved!.password;
      }
    }
    if (!password) throw invalid('password is required');
    const result = await (await ctx.client()).json<{ Status: string; IdentityToken?: string }>('/auth', {
      method: 'POST', body: { username, password, serveraddress: serverKey(domain) },
    });
    await storeCredentials(domain, result.IdentityToken ? { username: username!, identitytoken: result.IdentityToken } : { username: username!, password });
    process.stdout.write(`${result.Status || 'Login Succeeded'}\n`);
    return 0;
  },
};

const logout: Command = {
  name: 'logout', synopsis: '[SERVER]', description: 'Log out from a registry', flags: [], maxArgs: 1,
  async run(ctx) {
    const domain = serverDomain(ctx.args.positionals[0]);
    const removed = await eraseCredentials(domain);
    process.stdout.write(removed ? `Removing login credentials for ${serverKey(domain)}\n` : `Not logged in to ${serverKey(domain)}\n`);
    return 0;
  },
};

export const registryCommands: Command[] = [pull, push, login, logout];
