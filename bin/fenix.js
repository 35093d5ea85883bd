#!/usr/bin/env node
// The `fenix` command: runs the compiled CLI (built by `npm run build`, which `npm ci` runs via `prepare`).
import('../dist/cli/main.js').then((m) => m.main(process.argv)).catch((err) => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('error NOT_BUILT: fenix is not built (no dist/): run `npm ci` (or `npm run build`) in its folder first');
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
