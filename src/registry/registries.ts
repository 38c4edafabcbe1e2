import fs from 'node:fs';
import path from 'node:path';
import { invalid } from '../util/errors.js';
import { RegistryClient, type Credentials } from './registry-client.js';
import { HostTransport, type RegistrySettings } from './transport.js';

/**
 * Registry settings (`registries.json` in Roost's config dir) and one transport per host, shared by
 * pulls and pushes so connections and the HTTP/HTTPS answer are reused.
 *
 *   { "insecure": ["myhost:5000"], "mirrors": { "docker.io": ["https://mirror.example"] } }
 */
export class Registries {
  private readonly transports = new Map<string, HostTransport>();
  private settings: RegistrySettings | undefined;

  constructor(private readonly configDir: string) {}

  private load(): RegistrySettings {
    if (this.settings) return this.settings;
    const file = path.join(this.configDir, 'registries.json');
    let parsed: Partial<RegistrySettings> = {};
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<RegistrySettings>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw invalid(`${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (parsed.insecure !== undefined && (!Array.isArray(parsed.insecure) || parsed.insecure.some((h) => typeof h !== 'string'))) throw invalid(`${file}: "insecure" must be a list of host[:port]`);
    this.settings = { insecure: parsed.insecure ?? [], mirrors: parsed.mirrors ?? {} };
    return this.settings;
  }

  /** Docker Hub's API host for the docker.io name. */
  static apiHost(domain: string): string {
    return domain === 'docker.io' ? 'registry-1.docker.io' : domain;
  }

  transport(host: string): HostTransport {
    let transport = this.transports.get(host);
    if (!transport) {
      transport = new HostTransport(host, this.load(), this.configDir);
      this.transports.set(host, transport);
    }
    return transport;
  }

  /** A client for one operation (its tokens are not shared with other users' credentials). */
  client(domain: string, credentials?: Credentials): RegistryClient {
    return new RegistryClient(this.transport(Registries.apiHost(domain)), credentials);
  }

  /** Mirrors to try first for a domain, as hosts. */
  mirrors(domain: string): string[] {
    return (this.load().mirrors[domain] ?? []).map((m) => m.replace(/^https?:\/\//, '').replace(/\/+$/, ''));
  }
}
