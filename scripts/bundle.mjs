// Two bundles. dist/cli.cjs: the whole CLI as one CommonJS file, because Node loads that several times
// faster than the same code as dozens of ES modules, and a CLI call is mostly start-up. dist/daemon/: the
// engine (ESM, split at its dynamic imports), loaded only by `roost daemon`.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

rmSync('dist', { recursive: true, force: true });
const common = { bundle: true, platform: 'node', target: 'node20', minifySyntax: true, legalComments: 'none', logLevel: 'warning' };
const require = createRequire(import.meta.url);

/**
 * For the CommonJS bundles: each `import fs from 'node:fs'` would become esbuild's interop copy of the whole
 * module (a getter defined per property, ~100 for fs) in every file that imports it, ~2.3 ms of every CLI
 * call for the CLI's two dozen such imports. Instead every built-in goes through one small ES module that
 * requires it once and exports it as its default and its properties by name. Accessor properties (fs.promises
 * loads node:fs/promises when read) are not exported: importing one by name fails the build.
 */
const builtinsOnce = {
  name: 'builtins-once',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.namespace === 'builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => {
      const mod = require(args.path);
      const names = Object.keys(mod).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default' && !Object.getOwnPropertyDescriptor(mod, name).get);
      return { contents: `const m = require(${JSON.stringify(args.path)});\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`, loader: 'js' };
    });
  },
};

await build({
  ...common,
  plugins: [builtinsOnce],
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli.cjs',
  format: 'cjs',
  // main.ts loads the daemon by a computed path, never by bundling it.
  logOverride: { 'unsupported-dynamic-import': 'silent', 'empty-import-meta': 'silent' },
  // (files.ts's tsx fallback import is computed too: its code lives in dist/cli-tar.cjs.)
});
// cp's host-side tar code, loaded by path from the CLI only when a copy needs it.
// (src/wasm/instance.ts finds build/kernels.wasm through __dirname when import.meta is empty, as here.)
await build({ ...common, plugins: [builtinsOnce], entryPoints: ['src/cli/tar-tools.ts'], outfile: 'dist/cli-tar.cjs', format: 'cjs', logOverride: { 'empty-import-meta': 'silent' } });
await build({
  ...common,
  entryPoints: { entry: 'src/daemon/run-daemon.ts' },
  outdir: 'dist/daemon',
  splitting: true,
  format: 'esm',
  // CommonJS dependencies (tar-stream) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __roostRequire } from 'node:module'; const require = __roostRequire(import.meta.url);" },
});
// The dashboard (Ink, React): ESM because Ink is, loaded by path from `roost tui` alone.
await build({
  ...common,
  entryPoints: { entry: 'src/tui/run-tui.tsx' },
  outdir: 'dist/tui',
  format: 'esm',
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Ink loads React's devtools only when DEV=true; they are not a dependency, so that module is left out.
  plugins: [{
    name: 'no-devtools',
    setup(b) {
      b.onResolve({ filter: /\/devtools\.js$/ }, (args) => (args.importer.includes('/ink/') ? { path: args.path, namespace: 'no-devtools' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'no-devtools' }, () => ({ contents: 'export {};', loader: 'js' }));
    },
  }],
  banner: { js: "import { createRequire as __roostRequire } from 'node:module'; const require = __roostRequire(import.meta.url);" },
});
// The kernels benchmark group (bench/run.js --only kernels); two levels below the checkout, like src/wasm/, so
// that it finds build/kernels.wasm the same way.
await build({
  ...common,
  entryPoints: ['bench/kernels.ts'],
  outfile: 'dist/bench/kernels.mjs',
  format: 'esm',
  banner: { js: "import { createRequire as __roostRequire } from 'node:module'; const require = __roostRequire(import.meta.url);" },
});
