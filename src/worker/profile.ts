/**
 * Statistical profiles of what the executor threads run (the dashboard's /profile, issue 24):
 * V8's sampling profiler through node:inspector, in the thread itself, for a few seconds; the
 * call tree comes back aggregated by function (name, file, line) and trimmed, so its size is
 * bounded whatever the program. Merging and trimming are pure (the worker and the scheduler
 * merge the trees of threads and workers).
 */

/** A call tree node: a function, the samples taken in it (self), its callees. */
export interface ProfileTree {
  n: string;
  s: number;
  c: ProfileTree[];
}

/** Nodes kept per tree after trimming. */
export const PROFILE_NODES = 2000;
/** The profiler's sampling interval (microseconds). */
const SAMPLE_US = 1000;

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const frameName = (f: CpuNode['callFrame']): string => {
  const file = f.url ? f.url.slice(f.url.lastIndexOf('/') + 1) : '';
  return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
};

/** V8's profile (a flat list of nodes with child ids) as a tree of names. */
export function treeOf(nodes: readonly CpuNode[]): ProfileTree {
  const byId = new Map(nodes.map((x) => [x.id, x]));
  const root = nodes[0];
  const build = (x: CpuNode, depth: number): ProfileTree => ({
    n: depth === 0 ? 'all' : frameName(x.callFrame),
    s: depth === 0 ? 0 : (x.hitCount ?? 0),
    c:
      depth > 200
        ? []
        : (x.children ?? []).flatMap((id) => {
            const child = byId.get(id);
            return child ? [build(child, depth + 1)] : [];
          }),
  });
  return root ? merge(build(root, 0)) : { n: 'all', s: 0, c: [] };
}

/** Total samples under a node. */
export const total = (t: ProfileTree): number => t.c.reduce((a, c) => a + total(c), t.s);

/** Several trees as one: children of the same name merged, recursively. */
export function merge(...trees: ProfileTree[]): ProfileTree {
  const out: ProfileTree = { n: trees[0]?.n ?? 'all', s: 0, c: [] };
  const kids = new Map<string, ProfileTree[]>();
  for (const t of trees) {
    out.s += t.s;
    for (const c of t.c) {
      const same = kids.get(c.n);
      if (same) same.push(c);
      else kids.set(c.n, [c]);
    }
  }
  for (const group of kids.values()) out.c.push(merge(...group));
  return out;
}

/** Keeps the heaviest nodes, at most `limit`; what is cut is counted in its parent's self. */
export function trim(tree: ProfileTree, limit = PROFILE_NODES): ProfileTree {
  const all = total(tree);
  let floor = 0;
  const count = (t: ProfileTree, min: number): number =>
    1 + t.c.filter((c) => total(c) >= min).reduce((a, c) => a + count(c, min), 0);
  while (count(tree, floor) > limit && floor < all) floor = Math.max(1, floor * 2);
  const cut = (t: ProfileTree): ProfileTree => {
    const kept = t.c.filter((c) => total(c) >= floor);
    const lost = t.c.filter((c) => total(c) < floor).reduce((a, c) => a + total(c), 0);
    return { n: t.n, s: t.s + lost, c: kept.map(cut) };
  };
  return cut(tree);
}

/** Profiles this thread for `ms`: what ran meanwhile, as a trimmed tree. */
export async function profileThread(ms: number): Promise<ProfileTree> {
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))),
    );
  try {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: SAMPLE_US });
    await post('Profiler.start');
    await new Promise((r) => setTimeout(r, ms));
    const { profile } = (await post('Profiler.stop')) as { profile: { nodes: CpuNode[] } };
    return trim(treeOf(profile.nodes));
  } finally {
    session.disconnect();
  }
}
