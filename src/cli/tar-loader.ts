import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The tar machinery, loaded only by the commands that need it (every CLI call loads this module): from its
 * own bundle next to the CLI's (dist/cli-tar.cjs), or from the sources when run by tsx.
 */
export const tarTools = async (): Promise<typeof import('./tar-tools.js')> => {
  if (typeof __filename === 'string' && __filename.endsWith('.cjs')) {
    // require, not import(): an import of a CommonJS file first scans all of it for its export names (~10 ms).
    return createRequire(__filename)(path.join(path.dirname(__filename), 'cli-tar.cjs')) as typeof import('./tar-tools.js');
  }
  // A computed specifier, so the bundler leaves the sources out of the CLI bundle.
  const sources = './tar-tools.js';
  return (await import(sources)) as typeof import('./tar-tools.js');
};
