import { readFileSync } from 'node:fs';

/** The package version, read from package.json (src/ when run from source, dist/src/ when built). */
export function packageVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout
    }
  }
  return 'unknown';
}
