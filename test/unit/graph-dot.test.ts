import { delayed } from '../../src/graph';
import { Future, type FutureHost } from '../../src/client/future';

const inc = (x: number) => x + 1;
const add = (a: number, b: number) => a + b;

/** Nodes and edges of Graphviz text as toDot writes it (one statement per line). */
function parseDot(text: string): { nodes: Map<string, string>; edges: [string, string][] } {
  const lines = text.trim().split('\n');
  expect(lines[0]).toMatch(/^digraph \w+ \{$/);
  expect(lines[lines.length - 1]).toBe('}');
  const nodes = new Map<string, string>();
  const edges: [string, string][] = [];
  for (const line of lines.slice(1, -1)) {
    const edge = /^\s*"([^"]+)" -> "([^"]+)";$/.exec(line);
    const node = /^\s*"([^"]+)" \[label="([^"]*)"[^\]]*\];$/.exec(line);
    if (edge) edges.push([edge[1], edge[2]]);
    else if (node) nodes.set(node[1], node[2]);
    else expect(line).toMatch(/^\s*rankdir=BT;$/);
  }
  return { nodes, edges };
}

test('toDot of a diamond: four nodes labelled by function, four edges into dependents', () => {
  const a = delayed(inc)(1);
  const b = delayed(inc)(a);
  const c = delayed((x: number) => x * 2, { name: 'double' })(a);
  const d = delayed(add)(b, c);
  const { nodes, edges } = parseDot(d.toDot());
  expect(nodes.size).toBe(4);
  expect(nodes.get(d.key)).toBe('add');
  expect(nodes.get(c.key)).toBe('double');
  expect(edges).toHaveLength(4);
  expect(edges).toEqual(
    expect.arrayContaining([
      [a.key, b.key],
      [a.key, c.key],
      [b.key, d.key],
      [c.key, d.key],
    ]),
  );
});

test('toDot shows data as boxes and futures as dashed boxes, each once', () => {
  const host = {} as FutureHost;
  const f = new Future<number>('scatter-1', host);
  const data = delayed([1, 2]);
  const n = delayed((xs: number[], y: number, z: number) => xs.length + y + z)(data, f, f);
  const text = n.toDot();
  const { nodes, edges } = parseDot(text);
  expect(nodes.size).toBe(3);
  expect(nodes.get('scatter-1')).toBe('future');
  expect(edges).toHaveLength(2);
  expect(text).toContain(`"${data.key}" [label="array", shape=box]`);
});
