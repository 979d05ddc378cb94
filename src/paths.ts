import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package root: this file is `<root>/src/paths.ts` or `<root>/dist/paths.js`. */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');

/** A compiled file under dist/, also when the caller runs from TypeScript sources (tests). */
export function distFile(...parts: string[]): string {
  return path.join(PACKAGE_ROOT, 'dist', ...parts);
}

/** This package's version, from its package.json (what every CLI's --version prints). */
export function packageVersion(): string {
  const file = path.join(PACKAGE_ROOT, 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}
