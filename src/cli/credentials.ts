import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineError } from '../util/errors.js';
import { findExecutable } from '../util/find-executable.js';

/**
 * Registry credentials in the docker CLI's config file ($DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json), so `roost login` and `docker login` share them: `auths` entries, or a
 * credential helper (`credHelpers` per registry, `credsStore` for all) run as docker-credential-NAME.
 * The CLI reads them and hands them to the engine per request (X-Registry-Auth), as the docker CLI does.
 */

export interface StoredCredentials {
  username: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.DOCKER_CONFIG || path.join(env.HOME ?? os.homedir(), '.docker'), 'config.json');
}

/** The key Docker files a registry under: Docker Hub has its historical URL. */
export function serverKey(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' || domain === 'registry-1.docker.io' ? 'https://index.docker.io/v1/' : domain;
}

function readConfig(file: string): DockerConfig {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DockerConfig;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new EngineError('invalid_argument', `${file} is not valid JSON: fix or remove it`);
  }
}

/** Writes the config back; its writer (node:fs/promises) is loaded only by the calls that save. */
async function saveConfig(file: string, config: DockerConfig): Promise<void> {
  const { writeFileAtomic } = await import('../fs/atomic.js');
  await writeFileAtomic(file, `${JSON.stringify(config, null, '\t')}\n`);
}

function helper(config: DockerConfig, key: string): string | undefined {
  return config.credHelpers?.[key] ?? config.credsStore;
}


async function runHelper(name: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  const helperPath = findExecutable(`docker-credential-${name}`);
  if (!helperPath) throw new EngineError('unavailable', `the credential helper docker-credential-${name} is not installed`, { hint: `install it, or remove "${name}" from ${dockerConfigFile()}` });
  // Loaded here, not with the module: only a helper needs it, and every CLI call would pay for it.
  const { execFileSync } = await import('node:child_process');
  try {
    return execFileSync(helperPath, [action], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new EngineError('unavailable', `the credential helper docker-credential-${name} is not installed`, { hint: `install it, or remove "${name}" from ${dockerConfigFile()}` });
    const said = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
    if (action === 'get' && /credentials not found/i.test(said)) return '';
    throw new EngineError('unavailable', `docker-credential-${name} ${action} failed: ${said || e.message}`);
  }
}

export async function getCredentials(domain: string, file = dockerConfigFile()): Promise<StoredCredentials | undefined> {
  const config = readConfig(file);
  const key = serverKey(domain);
  const helperName = helper(config, key);
  if (helperName) {
    const out = await runHelper(helperName, 'get', key);
    if (!out) return undefined;
    const parsed = JSON.parse(out) as { Username?: string; Secret?: string };
    if (!parsed.Username) return undefined;
    return parsed.Username === '<token>' ? { username: '', identitytoken: parsed.Secret } : { username: parsed.Username, password: parsed.Secret };
  }
  const entry = config.auths?.[key] ?? config.auths?.[`https://${key}`] ?? config.auths?.[`http://${key}`];
  if (!entry) return undefined;
  if (entry.identitytoken) return { username: '', identitytoken: entry.identitytoken };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new EngineError('invalid_argument', `the saved credentials for ${key} in ${file} are malformed`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export async function storeCredentials(domain: string, credentials: StoredCredentials, file = dockerConfigFile()): Promise<void> {
  const config = readConfig(file);
  const key = serverKey(domain);
  const helperName = helper(config, key);
  if (helperName) {
    await runHelper(helperName, 'store', JSON.stringify({ ServerURL: key, Username: credentials.identitytoken ? '<token>' : credentials.username, Secret: credentials.identitytoken ?? credentials.password ?? '' }));
    config.auths = { ...config.auths, [key]: {} };
  } else {
    config.auths = {
      ...config.auths,
      [key]: credentials.identitytoken ? { identitytoken: credentials.identitytoken } : { auth: Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64') },
    };
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  await saveConfig(file, config);
}

/** Returns whether there was anything to remove. */
export async function eraseCredentials(domain: string, file = dockerConfigFile()): Promise<boolean> {
  const config = readConfig(file);
  const key = serverKey(domain);
  const had = Boolean(config.auths?.[key]);
  const helperName = helper(config, key);
  if (helperName) await runHelper(helperName, 'erase', key);
  if (config.auths) delete config.auths[key];
  if (had) await saveConfig(file, config);
  return had;
}

/** The X-Registry-Auth header for a domain, from the saved credentials (empty JSON when there are none). */
export async function registryAuthHeader(domain: string, credentials?: StoredCredentials): Promise<string> {
  credentials ??= await getCredentials(domain);
  const body = credentials ? { username: credentials.username, password: credentials.password, identitytoken: credentials.identitytoken, serveraddress: serverKey(domain) } : {};
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}
