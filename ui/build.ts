/**
 * Builds the dashboard (ui/src) into dist/ui: one bundled app.js (Preact included), index.html
 * and style.css. `npm run build` runs it; the admin listener serves the result at /ui/.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const UI = fileURLToPath(new URL('.', import.meta.url));
export const DEFAULT_UI_OUT = join(UI, '..', 'dist', 'ui');

export async function buildUi(outDir: string = DEFAULT_UI_OUT): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(UI, 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    outfile: join(outDir, 'app.js'),
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'style.css', 'icon.svg']) copyFileSync(join(UI, file), join(outDir, file));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await buildUi();
