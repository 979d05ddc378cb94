/**
 * Runs in a worker thread: compiles functions once (cached by id), unpacks arguments, runs the
 * task and packs its result, so CPU-bound tasks never stall the worker's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pack, packedBytes, unpack, type FnSpec } from '../protocol';
import { compileFn, taskStack } from './functions';
import { FN_CACHE_SIZE, Lru } from '../util/lru';
import {
  BATCH_BYTES,
  type ThreadData,
  type ThreadProfileRequest,
  type ThreadReply,
  type ThreadResult,
  type ThreadTask,
} from './thread-messages';
import { profileThread } from './profile';
import { ThreadComm } from './gang-comm';
import { runInTask, setupTaskClient, type TaskContext } from './task-client';

type TaskFn = (...args: unknown[]) => unknown;

/** Compiled functions, in step with the pool's record of them (Lru). */
const cache = new Lru<string, Promise<TaskFn>>(FN_CACHE_SIZE);

/** `fn`: the task's function, once compiled; its errors get stacks that show the task. */
function errorInfo(err: unknown, fn?: TaskFn): ThreadResult['error'] {
  if (err instanceof Error) {
    return {
      name: err.name,
      message: err.message,
      stack: fn && err.stack !== undefined ? taskStack(err.stack, fn) : err.stack,
      code: (err as { code?: string }).code,
    };
  }
  return { name: 'Error', message: `task threw a non-Error value: ${String(err)}` };
}

const seconds = (start: number): number => (performance.now() - start) / 1000;

/**
 * A gang member's part: `fn(comm, ...args)`, then every rank's return goes to gang rank 0, whose
 * task result is the array of them in rank order. An error names the gang rank it came from.
 */
async function gangRun(comm: ThreadComm, fn: TaskFn, args: unknown[]): Promise<unknown> {
  let mine: unknown;
  try {
    mine = await fn(comm, ...args);
  } catch (err) {
    if (err instanceof Error)
      err.message = `gang rank ${comm.rank} of ${comm.size}: ${err.message}`;
    throw err;
  }
  return comm.gather(mine, 0);
}

async function run(t: ThreadTask): Promise<{ result: ThreadResult; transfer: ArrayBuffer[] }> {
  const start = performance.now();
  let fn: TaskFn | undefined;
  try {
    let fnP: Promise<TaskFn> | undefined;
    if (t.spec) {
      fnP = compileFn(t.spec as FnSpec);
      cache.set(t.fnId, fnP);
    } else fnP = cache.get(t.fnId);
    if (!fnP) throw new Error(`function ${t.fnId} was never defined on this thread`);
    fn = await fnP;
    const depValues = new Map<string, unknown>();
    for (const [k, frames] of t.deps) depValues.set(k, unpack(frames));
    const args = unpack(t.args, (k) => depValues.get(k)) as unknown[];
    let value: unknown;
    if (t.gang) {
      const comm = new ThreadComm(t.gang.port, t.gang.rank, t.gang.size);
      try {
        value = await gangRun(comm, fn, args);
      } finally {
        comm.close();
      }
      if (comm.rank !== 0) {
        const result = { run: t.run, key: t.key, duration: seconds(start), part: true as const };
        return { result, transfer: [] };
      }
    } else value = await fn(...args);
    const frames = pack(value);
    // Large results move to the main thread without a copy: their memory is transferred (a
    // structured clone of a view would copy its whole backing store once per frame).
    const transfer = new Set<ArrayBuffer>();
    for (const f of frames) {
      if (f.buffer.byteLength >= 1 << 20 && !(f.buffer instanceof SharedArrayBuffer)) {
        transfer.add(f.buffer as ArrayBuffer);
      }
    }
    return {
      result: { run: t.run, key: t.key, frames, duration: (performance.now() - start) / 1000 },
      transfer: [...transfer],
    };
  } catch (err) {
    return {
      result: {
        run: t.run,
        key: t.key,
        error: errorInfo(err, fn),
        duration: (performance.now() - start) / 1000,
      },
      transfer: [],
    };
  }
}

const post = (reply: ThreadReply, transfer: ArrayBuffer[] = []): void =>
  parentPort!.postMessage(reply, transfer);

// Tasks' clients (getClient) connect with what the pool handed this thread; a task that waits
// on one secedes (task-client.ts), reported here so the pool can give its slot other work.
setupTaskClient(workerData as ThreadData, (run, seceded) =>
  post({ t: seceded ? 'seceded' : 'rejoined', run }),
);

type Ran = Awaited<ReturnType<typeof run>>;

/**
 * One task in its own context. Resolves with its result once it ends, or with null as soon as
 * it secedes (it then answers alone when it ends), so the tasks after it in the batch, and later
 * batches, run meanwhile: the tasks it waits on may be among them.
 */
function start(t: ThreadTask): Promise<Ran | null> {
  let onSecede!: () => void;
  const secession = new Promise<null>((r) => (onSecede = () => r(null)));
  let waited = false;
  const ctx: TaskContext = {
    run: t.run,
    waits: 0,
    ended: false,
    onSecede: () => {
      waited = true;
      onSecede();
    },
  };
  const done = runInTask(ctx, () => run(t)).then((r) => {
    ctx.ended = true;
    if (waited) r.result.waited = true;
    return r;
  });
  return Promise.race([done, secession]).then((first) => {
    if (first === null) {
      void done.then((r) => post({ t: 'results', results: [r.result] }, r.transfer));
    }
    return first;
  });
}

// One reply per batch for the tasks that end in it: per-message costs dominate when tasks take
// microseconds. A task that secedes answers on its own when it ends.
parentPort!.on('message', async (batch: ThreadTask[] | ThreadProfileRequest) => {
  if (!Array.isArray(batch)) {
    const { id, ms } = batch;
    profileThread(ms).then(
      (tree) => post({ t: 'profile', id, tree }),
      () => post({ t: 'profile', id, tree: { n: 'all', s: 0, c: [] } }),
    );
    return;
  }
  const results: ThreadResult[] = [];
  const transfers: ArrayBuffer[] = [];
  let bytes = 0;
  for (let i = 0; i < batch.length; i++) {
    const ran = await start(batch[i]);
    if (!ran) continue;
    results.push(ran.result);
    for (const buf of ran.transfer) transfers.push(buf);
    bytes += packedBytes(ran.result.frames ?? []);
    // Large results go to the main thread now, and the rest of the batch back to the pool:
    // the worker may have to pause before it runs them.
    if (bytes >= BATCH_BYTES && i + 1 < batch.length) {
      const returned = batch.slice(i + 1).map((t) => t.run);
      return post({ t: 'results', results, returned }, transfers);
    }
  }
  if (results.length > 0) post({ t: 'results', results }, transfers);
});
