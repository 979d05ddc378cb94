import { SchedulerCore, type SchedulerAction, type SubmittedTask } from '../../src/scheduler';
import type { WorkerInfoWire } from '../../src/protocol';

/**
 * The pure scheduler core at the sizes HPC users run: a million-task map, 100,000-long chains,
 * 100,000-wide fan-in and fan-out, 100,000 restricted tasks. Each would overflow the call stack
 * or take quadratic time if the core recursed along the graph or scanned its queues.
 */
type P = number;
let core: SchedulerCore<P>;

const worker = (id: string, extra: Partial<WorkerInfoWire> = {}): WorkerInfoWire => ({
  id,
  name: id,
  host: 'h',
  address: `tcp://h:${id}`,
  nthreads: 1,
  memoryLimit: 1e9,
  pid: 1,
  localDirectory: '/tmp',
  ...extra,
});

const task = (key: string, deps: string[] = [], extra: Partial<SubmittedTask<P>> = {}) => ({
  key,
  deps,
  priority: 0,
  retries: 0,
  payload: 0,
  ...extra,
});

type Compute = Extract<SchedulerAction<P>, { type: 'compute' }>;

/** Finishes every compute handed out, and what those release, until the scheduler is idle. */
function runToEnd(first: SchedulerAction<P>[], onAction?: (a: SchedulerAction<P>) => void): number {
  let todo: Compute[] = [];
  let finished = 0;
  const take = (acts: SchedulerAction<P>[]) => {
    for (const a of acts) {
      if (a.type === 'compute') todo.push(a);
      onAction?.(a);
    }
  };
  take(first);
  while (todo.length > 0) {
    const batch = todo;
    todo = [];
    take(
      core.handle(
        batch.map((c) => ({
          type: 'task-finished' as const,
          worker: c.worker,
          key: c.key,
          nbytes: 8,
          duration: 1e-5,
          inline: null,
        })),
      ),
    );
    finished += batch.length;
  }
  return finished;
}

const count = (acts: SchedulerAction<P>[], type: SchedulerAction<P>['type']) =>
  acts.reduce((n, a) => n + (a.type === type ? 1 : 0), 0);

const chain = (n: number) =>
  Array.from({ length: n }, (_, i) => task(`c${i}`, i ? [`c${i - 1}`] : []));

beforeEach(() => {
  core = new SchedulerCore<P>();
  core.handle({ type: 'client-join', client: 'c1', now: 0 });
});
afterEach(() => core.validateState());

test('a map of 1,000,000 tasks: every result reaches the client, then everything is forgotten', () => {
  const n = 1_000_000;
  const first = core.handle(
    ['a', 'b', 'c', 'd'].map((id) => ({
      type: 'worker-join' as const,
      worker: worker(id),
      now: 0,
    })),
  );
  const acts: SchedulerAction<P>[] = [...first];
  for (let i = 0; i < n; i += 10_000) {
    const tasks = Array.from({ length: 10_000 }, (_, j) => task(`m${i + j}`));
    const out = core.handle({ type: 'submit', client: 'c1', tasks });
    for (const a of out) acts.push(a);
  }
  let done = 0;
  const finished = runToEnd(acts, (a) => (done += a.type === 'key-done' ? 1 : 0));
  expect(finished).toBe(n);
  expect(done).toBe(n);
  expect(core.counts()).toEqual({ memory: n });
  core.validateState();
  const keys = Array.from({ length: n }, (_, i) => `m${i}`);
  const freed = core.handle({ type: 'release', client: 'c1', keys });
  expect(count(freed, 'free-keys')).toBe(n);
  expect(core.tasks.size).toBe(0);
});

describe('a chain of 100,000 tasks', () => {
  const n = 100_000;
  const last = `c${n - 1}`;
  const allButLast = Array.from({ length: n - 1 }, (_, i) => `c${i}`);

  test('computes in order, freeing each link once its dependent is done', () => {
    const first = core.handle([
      { type: 'worker-join', worker: worker('a'), now: 0 },
      { type: 'submit', client: 'c1', tasks: chain(n) },
      { type: 'release', client: 'c1', keys: allButLast },
    ]);
    let freed = 0;
    const order: string[] = [];
    const finished = runToEnd(first, (a) => {
      if (a.type === 'compute') order.push(a.key);
      if (a.type === 'free-keys') freed += a.keys.length;
    });
    expect(finished).toBe(n);
    expect(order.every((k, i) => k === `c${i}`)).toBe(true);
    expect(freed).toBe(n - 1);
    // The freed links stay as lineage (released), in case the last result must be recomputed.
    expect(core.counts()).toEqual({ memory: 1, released: n - 1 });
  });

  test('released while pending: every link is forgotten', () => {
    core.handle({ type: 'submit', client: 'c1', tasks: chain(n) });
    expect(core.counts()).toEqual({ waiting: n - 1, queued: 1 });
    core.handle({ type: 'release', client: 'c1', keys: [...allButLast, last] });
    expect(core.tasks.size).toBe(0);
  });

  test('released after computing: every result is freed on its worker', () => {
    const first = core.handle([
      { type: 'worker-join', worker: worker('a'), now: 0 },
      { type: 'submit', client: 'c1', tasks: chain(n) },
    ]);
    runToEnd(first);
    expect(core.counts()).toEqual({ memory: n });
    const acts = core.handle({ type: 'release', client: 'c1', keys: [last, ...allButLast] });
    expect(count(acts, 'free-keys')).toBe(n);
    expect(core.tasks.size).toBe(0);
  });

  test('failed at the root: every link errs with the root error', () => {
    const acts = core.handle([
      { type: 'worker-join', worker: worker('a'), now: 0 },
      { type: 'submit', client: 'c1', tasks: chain(n) },
    ]);
    expect(acts.filter((a) => a.type === 'compute').map((a) => (a as Compute).key)).toEqual(['c0']);
    const erred = core.handle({
      type: 'task-erred',
      worker: 'a',
      key: 'c0',
      duration: 0,
      error: { name: 'Error', message: 'boom' },
    });
    const errs = erred.filter((a) => a.type === 'key-erred');
    expect(errs).toHaveLength(n);
    expect(errs.every((a) => a.type === 'key-erred' && a.error.message === 'boom')).toBe(true);
    expect(core.counts()).toEqual({ erred: n });
    core.handle({ type: 'release', client: 'c1', keys: [last, ...allButLast] });
    expect(core.tasks.size).toBe(0);
  });

  test('cancelled at the root: every link is cancelled and forgotten', () => {
    core.handle([
      { type: 'worker-join', worker: worker('a'), now: 0 },
      { type: 'submit', client: 'c1', tasks: chain(n) },
    ]);
    const acts = core.handle({ type: 'cancel', client: 'c1', keys: ['c0'] });
    expect(count(acts, 'key-cancelled')).toBe(n);
    expect(count(acts, 'cancel-compute')).toBe(1);
    expect(core.tasks.size).toBe(0);
  });
});

test('one task taking 100,000 futures runs once all are in memory, with every input located', () => {
  const n = 100_000;
  const leaves = Array.from({ length: n }, (_, i) => task(`l${i}`));
  const first = core.handle([
    { type: 'worker-join', worker: worker('a'), now: 0 },
    { type: 'worker-join', worker: worker('b'), now: 0 },
    {
      type: 'submit',
      client: 'c1',
      tasks: [
        ...leaves,
        task(
          'sum',
          leaves.map((l) => l.key),
        ),
      ],
    },
    { type: 'release', client: 'c1', keys: leaves.map((l) => l.key) },
  ]);
  let sum: Compute | undefined;
  runToEnd(first, (a) => {
    if (a.type === 'compute' && a.key === 'sum') sum = a;
  });
  expect(sum!.deps).toHaveLength(n);
  expect(sum!.deps.every((d) => d.who.length === 1)).toBe(true);
  // Once the sum is in memory its inputs are freed, kept only as lineage.
  expect(core.counts()).toEqual({ memory: 1, released: n });
});

test('one future feeding 100,000 tasks: each runs after it, and it is freed after the last', () => {
  const n = 100_000;
  const fan = Array.from({ length: n }, (_, i) => task(`f${i}`, ['root']));
  const first = core.handle([
    { type: 'worker-join', worker: worker('a', { nthreads: 4 }), now: 0 },
    { type: 'submit', client: 'c1', tasks: [task('root'), ...fan] },
    { type: 'release', client: 'c1', keys: ['root'] },
  ]);
  let rootFreed = false;
  let doneAfterFree = 0;
  const finished = runToEnd(first, (a) => {
    if (a.type === 'free-keys' && a.keys.includes('root')) rootFreed = true;
    if (a.type === 'key-done' && rootFreed) doneAfterFree += 1;
  });
  expect(finished).toBe(n + 1);
  expect(rootFreed).toBe(true);
  expect(doneAfterFree).toBe(0);
  expect(core.counts()).toEqual({ memory: n, released: 1 });
});

test('100,000 restricted tasks leave the queue in priority order, interleaved with free ones', () => {
  const n = 100_000;
  let x = 12345;
  const rand = () => (x = (x * 1103515245 + 12345) % 2 ** 31) % 50;
  const tasks = Array.from({ length: n }, (_, i) => {
    const kind = i % 3;
    const extra: Partial<SubmittedTask<P>> =
      kind === 0 ? { workers: ['gpu-node'] } : kind === 1 ? { resources: { GPU: 1 } } : {};
    return task(`r${i}`, [], { priority: rand(), ...extra });
  });
  core.handle({ type: 'submit', client: 'c1', tasks });
  expect(core.counts()).toEqual({ queued: n });
  const order: string[] = [];
  const first = core.handle({
    type: 'worker-join',
    worker: worker('gpu-node', { resources: { GPU: n } }),
    now: 0,
  });
  runToEnd(first, (a) => {
    if (a.type === 'compute') order.push(a.key);
  });
  expect(order).toHaveLength(n);
  const rank = new Map(tasks.map((t, i) => [t.key, { p: t.priority, i }]));
  const sorted = [...order].sort((a, b) => {
    const ra = rank.get(a)!;
    const rb = rank.get(b)!;
    return ra.p !== rb.p ? rb.p - ra.p : ra.i - rb.i;
  });
  expect(order.findIndex((k, i) => k !== sorted[i])).toBe(-1);
});

test('a restricted task no present worker may run stays queued, and others pass it', () => {
  const first = core.handle([
    { type: 'worker-join', worker: worker('a'), now: 0 },
    {
      type: 'submit',
      client: 'c1',
      tasks: [task('gpu', [], { resources: { GPU: 1 }, priority: 10 }), task('cpu')],
    },
  ]);
  runToEnd(first);
  expect(core.tasks.get('gpu')!.state).toBe('queued');
  expect(core.tasks.get('cpu')!.state).toBe('memory');
  const acts = core.handle({ type: 'cancel', client: 'c1', keys: ['gpu'] });
  expect(count(acts, 'key-cancelled')).toBe(1);
  expect(core.tasks.has('gpu')).toBe(false);
});
