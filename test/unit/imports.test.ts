/**
 * No import circles among src/ modules (value imports: `import type` is erased and cannot form
 * one at run time). Before issue 19, client/client.ts and connect.ts imported each other.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve(__dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  const re =
    /(?:^|\n)\s*(?:import|export)\s+(?!type\b)[^'";]*?from\s+'(\.[^']+)'|require\('(\.[^']+)'\)/g;
  for (const m of text.matchAll(re)) {
    const base = path.resolve(path.dirname(file), m[1] ?? m[2]);
    const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
    if (hit) out.push(hit);
  }
  return out;
}

test('no module of src/ imports itself through others', () => {
  const graph = new Map(files(SRC).map((f) => [f, importsOf(f)]));
  const done = new Set<string>();
  const circles: string[] = [];
  const visit = (f: string, stack: string[]) => {
    const at = stack.indexOf(f);
    if (at >= 0) {
      circles.push(
        stack
          .slice(at)
          .concat(f)
          .map((x) => path.relative(SRC, x))
          .join(' -> '),
      );
      return;
    }
    if (done.has(f)) return;
    for (const d of graph.get(f) ?? []) visit(d, [...stack, f]);
    done.add(f);
  };
  for (const f of graph.keys()) visit(f, []);
  expect(circles).toEqual([]);
  expect(graph.size).toBeGreaterThan(50);
});
