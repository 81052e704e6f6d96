import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Tests run from dist/test/…; the repository root is three levels up from this compiled file.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A path inside the repository (contract/, schema.graphql, package.json). */
export function repoPath(...parts: string[]): string {
  return path.join(ROOT, ...parts);
}

/** A compiled file under dist/ (src/main.js, src/cli/index.js). */
export function distPath(...parts: string[]): string {
  return path.join(ROOT, 'dist', ...parts);
}

/** package.json of the project, read directly (not through src/version.ts, which is under test). */
export const PKG = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { name: string; version: string };
