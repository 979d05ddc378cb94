import { membersOf } from './gangs';
import { NONE } from './sets';
import type { TaskState, WorkerState } from './types';

/** Checks every invariant of the scheduler core's state; throws on the first broken one. */
export function validateState<P>(
  tasks: ReadonlyMap<string, TaskState<P>>,
  workers: ReadonlyMap<string, WorkerState>,
): void {
  const fail = (msg: string): never => {
    throw new Error(`scheduler state invalid: ${msg}`);
  };
  if (NONE.size !== 0) fail('the shared empty set was written to');
  for (const ts of tasks.values()) {
    for (const d of ts.deps) {
      const dep = tasks.get(d) ?? fail(`${ts.key} depends on forgotten ${d}`);
      if (!dep.dependents.has(ts.key)) fail(`${d} does not list dependent ${ts.key}`);
    }
    for (const d of ts.dependents) {
      const dep = tasks.get(d) ?? fail(`${ts.key} lists forgotten dependent ${d}`);
      if (!dep.deps.has(ts.key)) fail(`${d} does not list dep ${ts.key}`);
    }
    for (const d of ts.waiters) if (!ts.dependents.has(d)) fail(`${d} waits on non-dep ${ts.key}`);
    if (ts.state === 'processing') {
      if (ts.ranks && !ts.gang) fail(`gang ${ts.key} processes without members`);
      if (ts.gang) checkGang(ts, workers, fail);
      for (const wid of membersOf(ts)) {
        const w = workers.get(wid) ?? fail(`${ts.key} on unknown worker ${wid}`);
        if (!w.processing.has(ts.key)) fail(`${w.id} does not list processing ${ts.key}`);
      }
      for (const d of ts.deps) {
        if (tasks.get(d)!.state !== 'memory') fail(`${ts.key} runs before dep ${d}`);
      }
    } else if (ts.processingOn !== null) fail(`${ts.key} (${ts.state}) has processingOn`);
    else if (ts.gang) fail(`${ts.key} (${ts.state}) has gang members`);
    if (ts.state === 'memory' && ts.who.size === 0) fail(`${ts.key} in memory nowhere`);
    if (ts.state !== 'memory' && ts.who.size > 0) fail(`${ts.key} (${ts.state}) has holders`);
    if (ts.state === 'waiting' && ts.waitingOn.size === 0) fail(`${ts.key} waits on nothing`);
    if (ts.state === 'queued' && ts.waitingOn.size > 0) fail(`${ts.key} queued with deps`);
    if ((ts.state === 'queued') !== ts.heapIndex >= 0) {
      fail(`${ts.key} (${ts.state}) is ${ts.heapIndex >= 0 ? '' : 'not '}in the ready queue`);
    }
    for (const wid of ts.who) {
      if (!workers.get(wid)?.has.has(ts.key)) fail(`${wid} does not hold ${ts.key}`);
    }
    if (ts.wantedBy.size === 0 && ts.dependents.size === 0 && ts.state === 'released') {
      fail(`${ts.key} released and unreferenced but not forgotten`);
    }
  }
  for (const w of workers.values()) {
    let gang: string | null = null;
    const used: Record<string, number> = {};
    for (const key of w.processing) {
      const ts = tasks.get(key);
      if (!ts || !membersOf(ts).includes(w.id)) fail(`${w.id} processes stray ${key}`);
      if (ts!.gang) {
        if (gang !== null) fail(`${w.id} runs two gangs at once: ${gang} and ${key}`);
        gang = key;
      }
      for (const [r, n] of Object.entries(ts!.resources ?? {})) used[r] = (used[r] ?? 0) + n;
    }
    for (const r of new Set([...Object.keys(used), ...Object.keys(w.used)])) {
      if (Math.abs((used[r] ?? 0) - (w.used[r] ?? 0)) > 1e-9) {
        fail(`${w.id} has ${w.used[r] ?? 0} of ${r} in use, its tasks ${used[r] ?? 0}`);
      }
    }
    for (const key of w.has) {
      if (!tasks.get(key)?.who.has(w.id)) fail(`${w.id} holds stray ${key}`);
    }
  }
}

/** A processing gang: N distinct members, the first its processingOn (gang rank 0). */
function checkGang<P>(
  ts: TaskState<P>,
  workers: ReadonlyMap<string, WorkerState>,
  fail: (msg: string) => never,
): void {
  const g = ts.gang!;
  if (g.length !== ts.ranks) fail(`gang ${ts.key} has ${g.length} members for ${ts.ranks} ranks`);
  if (new Set(g).size !== g.length) fail(`gang ${ts.key} has a member twice: ${g.join(', ')}`);
  if (ts.processingOn !== g[0]) fail(`gang ${ts.key} runs on ${ts.processingOn}, not ${g[0]}`);
  for (const wid of g) if (!workers.get(wid)?.info.mpi) fail(`gang ${ts.key} on non-MPI ${wid}`);
}
