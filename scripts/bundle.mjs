// Bundles the CLI and daemon into dist/bundle/ (one entry, code-split at dynamic imports), so a CLI call
// loads a few files instead of dozens of ESM modules: that is most of `roost`'s start-up time.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli/main.ts'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies (tar-stream) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __roostRequire } from 'node:module'; const require = __roostRequire(import.meta.url);" },
});
