import type { RestrictedGroup } from './ready-queue';
import type { TaskState, WorkerState } from './types';

/**
 * Ready tasks whose restrictions (`resources`, `workers`) no connected worker can ever meet: they
 * wait in silence until such a worker joins, as in Dask, where this is the "no-worker" state.
 * This notices them, so the scheduler can warn, and the clients that submitted them. Pure: the
 * core passes its ready queue and the time.
 */

/** What a restricted task asks of a worker. */
export interface Restriction {
  workers?: string[];
  resources?: Record<string, number>;
}

/** One warning: a task as the example of its restriction, and the clients to tell. */
export interface UnrunnableNotice extends Restriction {
  key: string;
  clients: string[];
  message: string;
}

/**
 * Whether worker `w` could run a task so restricted once it is free: what it offers in all, not
 * what is free now (a busy worker will be free again). A retiring worker takes nothing new. The
 * name match is Placement.allowed's: a worker's id, name, host or address.
 */
export function couldRun(w: WorkerState, r: Restriction): boolean {
  if (w.retiring) return false;
  if (r.workers) {
    const { id, name, host, address } = w.info;
    if (!r.workers.some((x) => x === id || x === name || x === host || x === address)) return false;
  }
  if (r.resources) {
    const have = w.info.resources ?? {};
    for (const [k, amount] of Object.entries(r.resources))
      if ((have[k] ?? 0) < amount) return false;
  }
  return true;
}

const LISTED = 5;
const list = (xs: string[]) =>
  xs.length <= LISTED
    ? xs.join(', ')
    : `${xs.slice(0, LISTED).join(', ')} and ${xs.length - LISTED} more`;
const amounts = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/** What the connected workers offer, by what matters to `r`: their resources, their names. */
function offers(r: Restriction, workers: WorkerState[]): string {
  const parts: string[] = [];
  if (r.resources) {
    const by = new Map<string, string[]>();
    for (const w of workers) {
      const has = w.info.resources && Object.keys(w.info.resources).length > 0;
      const what = has ? amounts(w.info.resources!) : 'no resources';
      by.set(what, [...(by.get(what) ?? []), w.info.name]);
    }
    for (const [what, names] of by) {
      parts.push(
        names.length === 1
          ? `${names[0]} offers ${what}`
          : `${names.length} (${list(names)}) offer ${what}`,
      );
    }
  }
  if (r.workers) {
    const hosts = [...new Set(workers.map((w) => w.info.host))];
    const names = list(workers.map((w) => w.info.name));
    parts.push(`${names} on host${hosts.length > 1 ? 's' : ''} ${list(hosts)}`);
  }
  const retiring = workers.filter((w) => w.retiring).map((w) => w.info.name);
  if (retiring.length > 0) parts.push(`retiring (no new tasks): ${list(retiring)}`);
  return parts.join('; ');
}

/** The warning's text: the task, what it asks for, what the workers offer, what to do. */
export function describeUnrunnable(key: string, r: Restriction, workers: WorkerState[]): string {
  const asks = [
    r.workers ? `on workers ${list(r.workers)} (by name, host, id or address)` : '',
    r.resources ? `with resources ${amounts(r.resources)}` : '',
  ].filter(Boolean);
  const n = workers.length;
  const none =
    n === 1 ? 'the one connected worker cannot' : `none of the ${n} connected workers can`;
  const hint = r.resources
    ? `; start one that offers them (mpi-cluster-worker --resources ${amounts(r.resources)})`
    : '';
  return (
    `task ${key} can run only ${asks.join(' and ')}, and ${none}: ${offers(r, workers)}. ` +
    `It waits until such a worker joins${hint}.`
  );
}

interface Stuck {
  /** When it was first found unmeetable (ms). */
  since: number;
  warned: boolean;
  /** Clients told about this restriction. */
  told: Set<string>;
}

export class UnrunnableWatch<P> {
  /** Restriction signatures some connected worker meets: true until a worker leaves or retires. */
  private readonly met = new Set<string>();
  private readonly stuck = new Map<string, Stuck>();

  /**
   * @param after How long (ms) a restriction stays unmet before the warning: workers of a cluster
   *   join over seconds, and the one that meets it may simply not have joined yet.
   */
  constructor(
    private readonly workers: ReadonlyMap<string, WorkerState>,
    private readonly after: number,
  ) {}

  /** A worker left or is retiring: what it met may be met no more. */
  workersShrank(): void {
    this.met.clear();
  }

  /**
   * Looks at the queued restricted tasks at `now`; returns the warnings now due, one per
   * restriction (to every client with a task queued under it). With no worker connected nothing
   * is judged: every task waits then, restricted or not.
   */
  check(groups: Iterable<RestrictedGroup<P>>, now: number): UnrunnableNotice[] {
    const out: UnrunnableNotice[] = [];
    if (this.workers.size === 0) return out;
    const queued = new Set<string>();
    for (const g of groups) {
      queued.add(g.signature);
      if (this.met.has(g.signature)) continue;
      let meets = false;
      for (const w of this.workers.values()) if ((meets = couldRun(w, g.top))) break;
      if (meets) {
        this.met.add(g.signature);
        this.stuck.delete(g.signature);
        continue;
      }
      let s = this.stuck.get(g.signature);
      if (!s) this.stuck.set(g.signature, (s = { since: now, warned: false, told: new Set() }));
      if (s.warned || now - s.since < this.after) continue;
      s.warned = true;
      // Once per episode: every client with a task queued under it.
      for (const ts of g.tasks()) for (const c of ts.wantedBy) s.told.add(c);
      out.push(this.notice(g.top, [...s.told]));
    }
    // Restrictions no task is queued under any more start afresh if one comes back.
    for (const sig of this.stuck.keys()) if (!queued.has(sig)) this.stuck.delete(sig);
    return out;
  }

  /** A task just queued: a warning for its clients not yet told, if its restriction was warned of. */
  queued(ts: TaskState<P>): UnrunnableNotice | null {
    const s = ts.signature === undefined ? undefined : this.stuck.get(ts.signature);
    if (!s?.warned) return null;
    const fresh = [...ts.wantedBy].filter((c) => !s.told.has(c));
    if (fresh.length === 0) return null;
    for (const c of fresh) s.told.add(c);
    return this.notice(ts, fresh);
  }

  private notice(ts: TaskState<P>, clients: string[]): UnrunnableNotice {
    const r: Restriction = {};
    if (ts.workers) r.workers = ts.workers;
    if (ts.resources) r.resources = ts.resources;
    const message = describeUnrunnable(ts.key, r, [...this.workers.values()]);
    return { key: ts.key, clients, ...r, message };
  }
}
