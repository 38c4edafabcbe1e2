#!/usr/bin/env -S node --
'use strict';
// Runs the CLI bundle (dist/cli.cjs) with V8's code cache for it, kept in the user's cache directory: parsing
// and compiling the bundle is a fixed cost of every call, and Node 20 keeps no compile cache of its own
// (Node 22's module.enableCompileCache does this). The first call writes the cache as it exits, with the
// code that call compiled; one for another bundle or another Node is V8's to refuse, and is replaced.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const file = path.join(__dirname, '..', 'dist', 'cli.cjs');
// `daemon` and `tui` import the engine's and the dashboard's bundles (ES modules) by path, which a script
// from V8's code cache cannot do on Node 20 (its import callback is lost): they run the bundle as a plain
// module, and so does a Node without the main loader for vm scripts (before 20.12). Both are long-lived.
const mainLoader = vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER;
const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
if (!mainLoader || command === 'daemon' || command === 'tui') {
  require(file);
  return;
}
const source = fs.readFileSync(file, 'utf8');
const stat = fs.statSync(file);
const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME || '/nonexistent', '.cache'), 'roost');
// Per install (two checkouts used in turn must not evict each other's), per Node and per build of the bundle.
let pathHash = 0x811c9dc5;
for (let i = 0; i < file.length; i++) pathHash = Math.imul(pathHash ^ file.charCodeAt(i), 0x01000193) >>> 0;
const installPrefix = `cli-${pathHash.toString(16).padStart(8, '0')}-`;
const cacheName = `${installPrefix}${process.version}-${stat.size}-${Math.floor(stat.mtimeMs)}.v8cache`;
let cachedData;
try { cachedData = fs.readFileSync(path.join(cacheDir, cacheName)); } catch { /* none yet */ }
const script = new vm.Script(Module.wrap(source), {
  filename: file,
  cachedData,
  importModuleDynamically: mainLoader,
});
if (!cachedData || script.cachedDataRejected) {
  process.once('exit', () => {
    try {
      fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      for (const old of fs.readdirSync(cacheDir)) if (old.startsWith(installPrefix) && old.endsWith('.v8cache')) fs.rmSync(path.join(cacheDir, old), { force: true });
      const tmp = path.join(cacheDir, `.${cacheName}.${process.pid}`);
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(tmp, path.join(cacheDir, cacheName));
    } catch { /* no cache directory: the next call compiles again */ }
  });
}
const cli = new Module(file, module);
cli.filename = file;
cli.paths = Module._nodeModulePaths(path.dirname(file));
script.runInThisContext().call(cli.exports, cli.exports, Module.createRequire(file), cli, file, path.dirname(file));
