/**
 * Tasks that submit tasks (issue 22, item 4), the executor thread's side.
 *
 * - getClient(): inside a task, a Client of the task's own cluster. One connection per executor
 *   thread, made on first use and shared by every later task on that thread; it connects with the
 *   scheduler address and keys the pool handed the thread in workerData (never on disk or in the
 *   environment). It becomes the thread's default client, so `node.compute()` and `new
 *   Variable(name)` in a task use it once a task on the thread has called getClient().
 * - Secede/rejoin done for the user: while a task waits on futures of that client (result(),
 *   gather, wait, exception, compute, a coordination wait), its run is reported seceded, so the
 *   pool gives its slot to other work and the scheduler stops counting it against the worker's
 *   threads; when the wait ends it is reported rejoined and simply goes on (for a while the
 *   thread runs more than its share, as Dask's rejoin may). Which task waits is known from a
 *   per-task context (AsyncLocalStorage), so only the waiting task secedes.
 * - fireAndForget(future): the scheduler keeps the task running to its end with no client
 *   holding its future, then lets its result go.
 *
 * Client code loads only when a task first asks for a client: threads that never do pay nothing.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ClusterError } from '../errors';
import type { Client } from '../client/client';
import type { Future } from '../client/future';
import type { CoordAction } from '../protocol';
import type { ThreadData } from './thread-messages';

/** One running task's context: its run id, and how many waits on the cluster it is inside. */
export interface TaskContext {
  readonly run: number;
  waits: number;
  /** Ended: a wait that settles later reports nothing (the pool forgot the run). */
  ended: boolean;
  /** Called when it first secedes: the executor runs the next tasks meanwhile. */
  readonly onSecede?: () => void;
}

/** Reports a run seceded (true) or rejoined (false): the executor posts it to the pool. */
export type SecedeReport = (run: number, seceded: boolean) => void;

interface Shared {
  tasks: AsyncLocalStorage<TaskContext>;
  data: ThreadData | null;
  report: SecedeReport | null;
  client: Promise<Client> | null;
}

/**
 * Kept on globalThis: a task's `require('mpi-cluster')` may load another copy of this module
 * (the user's own install) than the executor's; both must see the same task and connection.
 */
const SHARED = Symbol.for('mpi-cluster.task-client');
const shared: Shared =
  ((globalThis as Record<symbol, unknown>)[SHARED] as Shared | undefined) ??
  ((globalThis as Record<symbol, unknown>)[SHARED] = {
    tasks: new AsyncLocalStorage<TaskContext>(),
    data: null,
    report: null,
    client: null,
  } as Shared);

/** The executor, once at start: where tasks' clients connect, and where seceding is reported. */
export function setupTaskClient(data: ThreadData, report: SecedeReport): void {
  shared.data = data;
  shared.report = report;
}

/** Runs one task's function inside its context (everything it awaits carries the context). */
export function runInTask<T>(ctx: TaskContext, fn: () => Promise<T>): Promise<T> {
  return shared.tasks.run(ctx, fn);
}

/**
 * Counts a task's wait on the cluster around `p`: the first wait secedes its run, the end of the
 * last rejoins it. Outside a task (or once it ended) it is `p` itself.
 */
function waiting<T>(p: Promise<T>): Promise<T> {
  const ctx = shared.tasks.getStore();
  if (!ctx || ctx.ended || !shared.report) return p;
  const report = shared.report;
  if (ctx.waits++ === 0) {
    report(ctx.run, true);
    ctx.onSecede?.();
  }
  const done = () => {
    if (--ctx.waits === 0 && !ctx.ended) report(ctx.run, false);
  };
  return p.then(
    (v) => (done(), v),
    (err: unknown) => {
      done();
      throw err;
    },
  );
}

/** Coordination requests that may wait on another task or client (a Variable's get, ...). */
const WAITING_ACTIONS: ReadonlySet<CoordAction> = new Set<CoordAction>([
  'var-get',
  'queue-get',
  'queue-put',
  'event-wait',
  'lock-acquire',
  'sem-acquire',
]);

/** The Client's internals the hook wraps (private there; checked to exist, see hookWaits). */
interface Waits {
  allSettled(keys: string[]): Promise<void>;
  whenSettled(key: string): Promise<void>;
  coordinate(req: { action: CoordAction }, value?: unknown): Promise<unknown>;
}

const unsettled = (c: Client, key: string): boolean => {
  const s = c.stateOf(key).status;
  return s === 'pending' || s === 'lost';
};

/**
 * Wraps the client's waits so a task that waits on a future not yet settled secedes. Every wait
 * of the client goes through these three: results and gathers through allSettled, wait(),
 * exception() and asCompleted through whenSettled, coordination through coordinate.
 */
function hookWaits(c: Client): void {
  const w = c as unknown as Waits;
  if (
    typeof w.allSettled !== 'function' ||
    typeof w.whenSettled !== 'function' ||
    typeof w.coordinate !== 'function'
  ) {
    throw new ClusterError(
      'ERR_INTERNAL',
      "getClient: the Client's wait methods (allSettled, whenSettled, coordinate) are gone; worker/task-client.ts must follow client.ts",
    );
  }
  const allSettled = w.allSettled.bind(c);
  const whenSettled = w.whenSettled.bind(c);
  const coordinate = w.coordinate.bind(c);
  w.allSettled = (keys) =>
    keys.some((k) => unsettled(c, k)) ? waiting(allSettled(keys)) : allSettled(keys);
  w.whenSettled = (key) => (unsettled(c, key) ? waiting(whenSettled(key)) : whenSettled(key));
  w.coordinate = (req, value) =>
    WAITING_ACTIONS.has(req.action) ? waiting(coordinate(req, value)) : coordinate(req, value);
}

async function connect(data: ThreadData): Promise<Client> {
  // Loaded here, not at the top: executor threads whose tasks never ask load no client code.
  const { Client: ClientClass } = require('../client/client') as typeof import('../client/client');
  const { threadId } = require('node:worker_threads') as typeof import('node:worker_threads');
  const c = await ClientClass.open({
    address: data.scheduler!,
    // The cluster's keys came in memory (workerData); false only where the cluster runs without.
    security: data.keys ?? false,
    name: `tasks-of-thread-${threadId}-pid-${process.pid}`,
  });
  hookWaits(c);
  return c;
}

/**
 * Inside a task: a Client of the task's cluster, shared by every task on this executor thread
 * (one connection, made on first use). A Promise because the first call connects (a handshake
 * with the scheduler); later calls resolve at once with the same client. Outside a task it throws
 * ERR_NOT_IN_TASK: a script connects its own with Client.connect().
 */
export function getClient(): Promise<Client> {
  const data = shared.data;
  if (!shared.tasks.getStore() || !data?.scheduler) {
    throw new ClusterError(
      'ERR_NOT_IN_TASK',
      'getClient() works only inside a task running on a worker; outside one, connect a client with await Client.connect(...)',
    );
  }
  if (!shared.client) {
    const p = connect(data);
    shared.client = p;
    // A failed connection is not kept: the next task's getClient() tries again.
    p.catch(() => {
      if (shared.client === p) shared.client = null;
    });
  }
  return shared.client.then((c) => {
    // The default client of this thread (node.compute(), new Variable(name)): this one, even if
    // a task connected another client meanwhile.
    (require('../graph/default-client') as typeof import('../graph/default-client')).noteClient(c);
    return c;
  });
}

/**
 * Keeps a task running to its end though no client holds its future any more (Dask's
 * fire_and_forget): the scheduler wants the key until it is in memory or erred, then lets it go,
 * so its result is not kept after. Resolves once the scheduler holds it: the future may be
 * released then.
 */
export function fireAndForget(future: Future): Promise<void> {
  // A Future's client is private to it; this module is the client package's own helper.
  const host = (future as unknown as { host?: Waits }).host;
  if (!host || typeof host.coordinate !== 'function') {
    return Promise.reject(
      new ClusterError('ERR_INTERNAL', 'fireAndForget: the future has no client'),
    );
  }
  const sent = host
    .coordinate({ action: 'fire-and-forget', name: future.key } as never)
    .then(() => undefined);
  // Called as Dask's fire_and_forget is, without await, a client closed meanwhile must not end
  // the process with an unhandled rejection; whoever awaits still sees the error.
  sent.catch(() => undefined);
  return sent;
}
