import * as fs from 'node:fs';
import * as path from 'node:path';

let version: string | undefined;

/** This package's version, read once from its package.json (src/ and dist/ sit one level down). */
export function packageVersion(): string {
  if (version === undefined) {
    try {
      const file = path.join(__dirname, '..', '..', 'package.json');
      version = String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version);
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
