/**
 * What a member's message means to the scheduler core: core events built field by field from
 * validated ops (never a peer's object spread into an event), by the role the peer has. Pure: the
 * server does the I/O (replies, the dashboard, stats) around these.
 */
import type { Envelope, FnSpec, OpOf, RemoteError, WorkerInfoWire } from '../protocol';
import { CompactPayload } from './payload';
import type { Payload } from './server';
import type { SchedulerEvent } from './types';

type Event = SchedulerEvent<Payload>;

/** A registering worker's record, field by field. */
export function workerJoin(w: WorkerInfoWire, now: number): Event {
  return {
    type: 'worker-join',
    worker: {
      id: w.id,
      name: w.name,
      host: w.host,
      address: w.address,
      nthreads: w.nthreads,
      memoryLimit: w.memoryLimit,
      pid: w.pid,
      localDirectory: w.localDirectory,
      resources: w.resources,
      // Only the fields the gang placement reads (checked on receipt, schema.ts).
      mpi: w.mpi && { rank: w.mpi.rank, size: w.mpi.size, job: w.mpi.job },
    },
    now,
  };
}

/** A client's task, with the function it defined earlier. */
export function submitted(
  client: string,
  t: OpOf<'submit'>['task'],
  spec: FnSpec,
  frames: Buffer[],
): Event {
  return {
    type: 'submit',
    client,
    tasks: [
      {
        key: t.key,
        deps: t.deps,
        priority: t.priority,
        retries: t.retries,
        workers: t.workers,
        resources: t.resources,
        fingerprint: t.fp,
        ranks: t.ranks,
        payload: new CompactPayload(t.fn, spec, frames),
      },
    ],
  };
}

/** The core event of a client's op that is one (release, cancel, scattered, bye); else null. */
export function clientEvent(client: string, op: Envelope['op']): Event | null {
  switch (op.t) {
    case 'release':
      return { type: 'release', client, keys: op.keys };
    case 'cancel':
      return { type: 'cancel', client, keys: op.keys };
    case 'scattered':
      return { type: 'scattered', client, keys: op.keys, workers: op.workers, nbytes: op.nbytes };
    case 'bye':
      return { type: 'client-leave', client, reason: 'closed by the client' };
    default:
      return null;
  }
}

/** A client's rebalance request (its `req` answers it). */
export function rebalanceRequest(client: string, op: OpOf<'rebalance'>, now: number): Event {
  return { type: 'rebalance', client, req: op.req, keys: op.keys ?? null, now };
}

/** The memory figures of a worker's heartbeat, or null when it carries none (issue 20). */
export function memoryReport(worker: string, op: OpOf<'heartbeat'>): Event | null {
  const { managed, rss, spilled, spilledCount, paused } = op;
  const none = [managed, rss, spilled, spilledCount, paused].every((x) => x === undefined);
  if (none) return null;
  const ev: Event = { type: 'worker-memory', worker };
  if (managed !== undefined) ev.managed = managed;
  if (rss !== undefined) ev.rss = rss;
  if (spilled !== undefined) ev.spilled = spilled;
  if (spilledCount !== undefined) ev.spilledCount = spilledCount;
  if (paused !== undefined) ev.paused = paused === 1;
  return ev;
}

/** The core event of a worker's op that is one (results, keys, missing data, secede, retire, bye); else null. */
export function workerEvent(worker: string, { op, frames }: Envelope): Event | null {
  switch (op.t) {
    case 'task-finished':
      return {
        type: 'task-finished',
        worker,
        key: op.key,
        nbytes: op.nbytes,
        duration: op.duration,
        inline: frames.length > 0 ? frames : null,
      };
    case 'task-erred':
      return {
        type: 'task-erred',
        worker,
        key: op.key,
        error: remoteError(op.error),
        duration: op.duration,
      };
    case 'add-keys':
      return { type: 'add-keys', worker, keys: op.keys, nbytes: op.nbytes };
    case 'missing-data':
      return { type: 'missing-data', worker, key: op.key, dep: op.dep, from: op.from };
    case 'long-running':
      return { type: 'task-seceded', worker, key: op.key };
    case 'rejoined':
      return { type: 'task-rejoined', worker, key: op.key };
    case 'retire':
      // Its lifetime is up (a batch job's walltime near): hand its data over, then leave.
      return { type: 'retire-workers', workers: [worker] };
    case 'bye':
      return { type: 'worker-leave', worker, reason: 'closed by the worker' };
    default:
      return null;
  }
}

/** A worker's error report, field by field (the schema checked these; nothing else is kept). */
function remoteError(e: RemoteError): RemoteError {
  const out: RemoteError = { name: e.name, message: e.message };
  if (e.stack !== undefined) out.stack = e.stack;
  if (e.code !== undefined) out.code = e.code;
  return out;
}
