import { hostPlatform, parsePlatform, type Platform } from '../registry/manifests.js';
import { EngineError, invalid, unavailable } from '../util/errors.js';

/**
 * Roost builds for the platform it runs on: RUN steps execute natively and there is no emulation. A build's
 * `--platform` or a `FROM --platform` naming the host's platform is accepted, any other refused.
 */
export function format(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function checkPlatform(text: string | undefined, what: string): Platform {
  const host = hostPlatform();
  if (text === undefined || text === '') return host;
  let asked: Platform;
  try {
    asked = parsePlatform(text);
  } catch (err) {
    throw err instanceof EngineError ? invalid(`${what}: ${err.message}`) : err;
  }
  const same = asked.os === host.os && asked.architecture === host.architecture && (!asked.variant || asked.variant === host.variant);
  if (!same) {
    throw unavailable(`${what} ${format(asked)} is not this host's platform (${format(host)}): Roost builds only for the host's platform`,
      'build on a host of that platform, or leave --platform out');
  }
  return host;
}

/** BuildKit's automatic platform ARGs; build and target are the same platform here. */
export function platformArgs(target: Platform): Record<string, string> {
  const build = hostPlatform();
  return {
    TARGETPLATFORM: format(target), TARGETOS: target.os, TARGETARCH: target.architecture, TARGETVARIANT: target.variant ?? '',
    BUILDPLATFORM: format(build), BUILDOS: build.os, BUILDARCH: build.architecture, BUILDVARIANT: build.variant ?? '',
  };
}
