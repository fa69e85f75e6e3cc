#!/usr/bin/env node
// The `strangler` command. It runs the compiled code in dist/, which `npm ci` builds (prepare script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('strangler: dist/ is missing; run `npm run build` (or `npm ci`) first');
  process.exit(2);
}
const { run } = await import(entry.href);
await run(process.argv.slice(2));
