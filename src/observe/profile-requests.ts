import { merge, trim, type ProfileTree } from '../worker/profile';

/**
 * The scheduler's side of /profile (issue 24): one request asks every worker to profile its
 * executor threads for `ms`, and resolves with their trees merged once all have answered, or
 * at `ms` + GRACE_MS with those that did. A worker's answer is checked before it is used: a
 * malformed tree is left out, never trusted.
 */
const GRACE_MS = 5000;
const MAX_DEPTH = 256;

interface Pending {
  trees: ProfileTree[];
  waiting: Set<string>;
  done: () => void;
}

/** A tree as a worker sent it, if it is one: names, sample counts, children, bounded depth. */
export function parseTree(text: string): ProfileTree | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const valid = (t: unknown, depth: number): t is ProfileTree => {
    if (depth > MAX_DEPTH || typeof t !== 'object' || t === null) return false;
    const x = t as Record<string, unknown>;
    return (
      typeof x.n === 'string' &&
      typeof x.s === 'number' &&
      Number.isFinite(x.s) &&
      x.s >= 0 &&
      Array.isArray(x.c) &&
      x.c.every((c) => valid(c, depth + 1))
    );
  };
  return valid(value, 0) ? value : null;
}

export class ProfileRequests {
  private next = 0;
  private readonly pending = new Map<number, Pending>();

  /** Asks each of `workers` (through `ask`) and resolves with the merged tree. */
  start(
    workers: readonly string[],
    ms: number,
    ask: (worker: string, req: number) => void,
  ): Promise<ProfileTree> {
    const req = ++this.next;
    return new Promise((resolve) => {
      const p: Pending = {
        trees: [],
        waiting: new Set(workers),
        done: () => {
          clearTimeout(timer);
          this.pending.delete(req);
          resolve(trim(merge({ n: 'all', s: 0, c: [] }, ...p.trees)));
        },
      };
      const timer = setTimeout(p.done, ms + GRACE_MS);
      this.pending.set(req, p);
      for (const w of workers) ask(w, req);
      if (p.waiting.size === 0) p.done();
    });
  }

  /** A worker's answer; false if it was malformed or not asked for. */
  answer(worker: string, req: number, text: string): boolean {
    const p = this.pending.get(req);
    if (!p || !p.waiting.delete(worker)) return false;
    const tree = parseTree(text);
    if (tree) p.trees.push(tree);
    if (p.waiting.size === 0) p.done();
    return tree !== null;
  }

  /** A worker that left answers nothing: no request waits for it. */
  workerGone(worker: string): void {
    for (const p of [...this.pending.values()]) {
      if (p.waiting.delete(worker) && p.waiting.size === 0) p.done();
    }
  }
}
