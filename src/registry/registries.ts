import fs from 'node:fs';
import path from 'node:path';
import { EngineError, invalid } from '../util/errors.js';
import { RegistryClient, type Credentials } from './registry-client.js';
import { certsDirs, HostTransport, type RegistrySettings } from './transport.js';

/**
 * Registry settings (`registries.json` in Roost's config dir) and one transport per host, shared by
 * pulls and pushes so connections and the HTTP/HTTPS answer are reused.
 *
 *   { "insecure": ["myhost:5000"], "mirrors": { "docker.io": ["https://mirror.example"] }, "blocked": ["docker.io"] }
 */
export class Registries {
  private readonly transports = new Map<string, { key: string; transport: HostTransport }>();

  constructor(private readonly configDir: string) {}

  /** Read for every operation, so an edit applies without restarting the engine. */
  private load(): RegistrySettings {
    const file = path.join(this.configDir, 'registries.json');
    let parsed: Partial<RegistrySettings> = {};
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<RegistrySettings>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw invalid(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (parsed.insecure !== undefined && (!Array.isArray(parsed.insecure) || parsed.insecure.some((h) => typeof h !== 'string'))) throw invalid(`${file}: "insecure" must be a list of host[:port]`);
    if (parsed.mirrors !== undefined && (typeof parsed.mirrors !== 'object' || Object.values(parsed.mirrors).some((m) => !Array.isArray(m)))) throw invalid(`${file}: "mirrors" must map a registry to a list of mirror hosts`);
    if (parsed.blocked !== undefined && (!Array.isArray(parsed.blocked) || parsed.blocked.some((h) => typeof h !== 'string'))) throw invalid(`${file}: "blocked" must be a list of registries`);
    return { insecure: parsed.insecure ?? [], mirrors: parsed.mirrors ?? {}, blocked: parsed.blocked ?? [] };
  }

  /** Docker Hub's API host for the docker.io name. */
  static apiHost(domain: string): string {
    return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
  }

  /** The host's transport; made again when its settings or certificate files changed. */
  transport(host: string): HostTransport {
    const settings = this.load();
    const key = JSON.stringify([settings.insecure, certsSignature(host, this.configDir)]);
    const cached = this.transports.get(host);
    if (cached && cached.key === key) return cached.transport;
    cached?.transport.close();
    const transport = new HostTransport(host, settings, this.configDir);
    this.transports.set(host, { key, transport });
    return transport;
  }

  /** A client for one operation (its tokens are not shared with other users' credentials). */
  client(domain: string, credentials?: Credentials): RegistryClient {
    if (this.load().blocked.includes(domain)) {
      throw new EngineError('unavailable', `the registry ${domain} is blocked in ${path.join(this.configDir, 'registries.json')}`);
    }
    return new RegistryClient(this.transport(Registries.apiHost(domain)), credentials);
  }

  /** Mirrors to try first for a domain, as hosts. */
  mirrors(domain: string): string[] {
    return (this.load().mirrors[domain] ?? []).map((m) => m.replace(/^https?:\/\//, '').replace(/\/+$/, ''));
  }
}

/** Names and mtimes of the host's certs.d files: a change means new TLS material. */
function certsSignature(host: string, configDir: string): string[] {
  const seen: string[] = [];
  for (const dir of certsDirs(host, configDir)) {
    try {
      for (const name of fs.readdirSync(dir)) seen.push(`${dir}/${name}@${fs.statSync(path.join(dir, name)).mtimeMs}`);
    } catch { /* absent */ }
  }
  return seen;
}
