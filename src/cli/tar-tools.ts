// The tar machinery `cp` needs on the host side, built as a bundle of its own (dist/cli-tar.cjs) so that
// every other CLI call does not load tar-stream and the container-files code.
export * from '../engine/container-files.js';
export { applyLayer, normalizeEntryPath } from '../fs/layer-apply.js';
