/**
 * The worker's side of gang tasks (issue 21), on its main thread: the MPI communicator of each
 * gang this worker is a member of, and the calls its task's thread asks for over a MessagePort.
 *
 * MPI is called from the main thread only (MPI_THREAD_FUNNELED, what initialize() asks for): a
 * thread can be terminated at any time (a cancelled task), and MPI's requests and the memory they
 * read and write must outlive it; funnelled is granted by every MPI build, where MPI_THREAD_MULTIPLE
 * is not and slows every call where it is. The thread's typed arrays are on SharedArrayBuffers,
 * which both threads see, so the calls move no extra copies of them.
 */
import { MessageChannel, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { ClusterError } from '../errors';
import { log } from '../log';
import type { Communicator } from '../mpi';
import type { GangWire } from '../protocol';
import type { Carried, GangReply, GangRequest, GangSeat, NumericArray } from './gang-messages';

/** The worker's place in its MPI job (initialize(), mpi-init): the cluster's communicator. */
export interface WorkerMpi {
  comm: Communicator;
  /** The same on every rank of the job (a worker of another job is never in the same gang). */
  job: string;
}

interface Gang {
  comm: Communicator;
  /** The main thread's end of the task's port (made when the task starts). */
  port: MessagePort | null;
  index: number;
  size: number;
  /** Calls not answered yet: an abandoned communicator with calls in flight is never freed. */
  inFlight: number;
  abandoned: boolean;
  /** The task is over here: answers still to come go nowhere. */
  ended: boolean;
}

/** One tag per gang, the same on every member: MPI_Comm_create_group tells gangs apart by it. */
function tagOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return (h >>> 0) % 32768;
}

const CTORS: Record<string, new (b: ArrayBufferLike, o?: number, n?: number) => NumericArray> = {
  Float64Array,
  Float32Array,
  Int8Array,
  Uint8Array,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
};

export class GangRuntime {
  private readonly gangs = new Map<string, Gang>();

  constructor(private readonly mpi: WorkerMpi) {}

  /** What the worker tells the scheduler when it registers. */
  get wire(): { rank: number; size: number; job: string } {
    return { rank: this.mpi.comm.rank, size: this.mpi.comm.size, job: this.mpi.job };
  }

  /** Gangs this worker is in now. */
  get size(): number {
    return this.gangs.size;
  }

  /**
   * Makes the gang's communicator as soon as the compute arrives, before its inputs are fetched:
   * MPI_Comm_create_group blocks until every member calls it, and a member that waited for an
   * input held by another member blocked there would wait for ever.
   */
  join(key: string, gang: GangWire): void {
    // A new attempt of a gang whose old run here was cancelled: the old communicator is done for.
    if (this.gangs.has(key)) this.retire(key);
    const comm = this.mpi.comm.createGroup(gang.ranks, tagOf(key));
    this.gangs.set(key, {
      comm,
      port: null,
      index: gang.index,
      size: gang.ranks.length,
      inFlight: 0,
      abandoned: false,
      ended: false,
    });
  }

  /**
   * A gang's compute came: its communicator is made now unless it is a repeat of a compute already
   * here (`here`, the key's task state on this worker: waiting or executing). A compute of a key
   * whose run here was cancelled is a new attempt of the gang and gets a new communicator. Returns
   * why it could not be made, else undefined.
   */
  compute(
    key: string,
    gang: GangWire,
    here: string | undefined,
    worker: string,
  ): string | undefined {
    if (here === 'waiting' || here === 'executing') return undefined;
    try {
      this.join(key, gang);
      return undefined;
    } catch (err) {
      return `worker ${worker} could not make the gang's MPI communicator: ${(err as Error).message}`;
    }
  }

  /** The thread's seat when the task starts, and its port's transfer. */
  seat(key: string): { seat: GangSeat; transfer: TransferListItem[] } | null {
    const g = this.gangs.get(key);
    if (!g) return null;
    const { port1, port2 } = new MessageChannel();
    g.port = port1;
    // The worker's own lifetime is not the port's to decide.
    port1.unref();
    port1.on('message', (req: GangRequest) => void this.serve(g, req));
    return { seat: { port: port2, rank: g.index, size: g.size }, transfer: [port2] };
  }

  /**
   * Another member failed or the task was cancelled: every call in flight or to come on this
   * gang's communicator rejects, and it is never used again (a collective in flight cannot be
   * cancelled in MPI; its memory stays referenced).
   */
  abandon(key: string, why: string): void {
    const g = this.gangs.get(key);
    if (!g || g.abandoned) return;
    g.abandoned = true;
    g.comm.abandon(new ClusterError('ERR_GANG_ABANDONED', why));
  }

  /**
   * An old attempt's communicator: abandoned (its thread's calls reject, so its run ends), its
   * port left open for those answers.
   */
  private retire(key: string): void {
    const g = this.gangs.get(key)!;
    this.gangs.delete(key);
    if (!g.abandoned) {
      g.abandoned = true;
      g.comm.abandon(new ClusterError('ERR_GANG_ABANDONED', `gang task ${key} is being run again`));
    }
  }

  /** The task is over here: its port closes; its communicator is freed if nothing is in flight. */
  end(key: string): void {
    const g = this.gangs.get(key);
    if (!g) return;
    this.gangs.delete(key);
    g.ended = true;
    g.port?.close();
    if (g.abandoned) return;
    if (g.inFlight > 0) {
      g.abandoned = true;
      g.comm.abandon(
        new ClusterError('ERR_GANG_ABANDONED', 'the gang task ended with calls still in flight'),
      );
      return;
    }
    try {
      g.comm.free();
    } catch (err) {
      log.debug(`gang ${key}: freeing its communicator: ${(err as Error).message}`);
    }
  }

  /** Ends every gang whose task this worker no longer has. */
  sweep(alive: (key: string) => boolean): void {
    for (const key of Array.from(this.gangs.keys())) if (!alive(key)) this.end(key);
  }

  private async serve(g: Gang, req: GangRequest): Promise<void> {
    g.inFlight++;
    let reply: GangReply;
    const transfer: TransferListItem[] = [];
    try {
      const value = await this.run(g.comm, req, transfer);
      reply = { id: req.id, ok: true, value };
    } catch (err) {
      const e = err as Error & { code?: string };
      reply = { id: req.id, ok: false, error: { name: e.name, message: e.message, code: e.code } };
      transfer.length = 0;
    } finally {
      g.inFlight--;
    }
    if (g.port === null || g.ended) return;
    try {
      g.port.postMessage(reply, transfer);
    } catch {
      // The thread is gone (terminated): nobody waits for the answer.
    }
  }

  private async run(
    comm: Communicator,
    req: GangRequest,
    transfer: TransferListItem[],
  ): Promise<Carried | Uint8Array[] | null> {
    switch (req.op) {
      case 'barrier':
        await comm.barrier();
        return null;
      case 'bcast':
        return bcast(comm, req.root, req.value, transfer);
      case 'reduce': {
        const v = req.value;
        if (v.k === 'number') {
          const one = new Float64Array([v.n]);
          const out = req.all
            ? await comm.allreduce(one, req.red)
            : await comm.reduce(one, req.red, req.root);
          return out === null ? null : { k: 'number', n: out[0] };
        }
        if (v.k !== 'typed') throw new TypeError('reduce takes a number or a typed array');
        const out = req.out ?? new CTORS[v.ctor](new SharedArrayBuffer(v.a.byteLength));
        const done = req.all
          ? await comm.allreduce(v.a, req.red, out)
          : await comm.reduce(v.a, req.red, req.root, out);
        return done === null ? null : { k: 'typed', ctor: v.ctor, a: out };
      }
      case 'gather': {
        const mine = Buffer.from(req.value.buffer, req.value.byteOffset, req.value.byteLength);
        return req.all ? await comm.allgather(mine) : await comm.gather(mine, req.root);
      }
      case 'send':
        await comm.send(
          Buffer.from(req.value.buffer, req.value.byteOffset, req.value.byteLength),
          req.dest,
          req.tag,
        );
        return null;
      case 'recv': {
        const b = await comm.recv(req.source, req.tag);
        return { k: 'bytes', b };
      }
    }
  }
}

/**
 * bcast of any value: a header (what it is, and a number's value) and then the bytes. A typed
 * array's bytes are MPI's buffer as they are on the root; elsewhere they arrive in memory of their
 * own, which moves to the thread without a copy.
 */
async function bcast(
  comm: Communicator,
  root: number,
  value: Carried | null,
  transfer: TransferListItem[],
): Promise<Carried> {
  const head =
    value === null
      ? null
      : Buffer.from(
          JSON.stringify(
            value.k === 'number'
              ? { k: 'number', n: value.n }
              : value.k === 'typed'
                ? { k: 'typed', ctor: value.ctor }
                : { k: 'bytes' },
          ),
        );
  const h = JSON.parse((await comm.bcast(head, root)).toString()) as {
    k: Carried['k'];
    n?: number;
    ctor?: string;
  };
  if (h.k === 'number') return { k: 'number', n: h.n! };
  let body: Buffer | null = null;
  if (value?.k === 'typed')
    body = Buffer.from(value.a.buffer, value.a.byteOffset, value.a.byteLength);
  else if (value?.k === 'bytes')
    body = Buffer.from(value.b.buffer, value.b.byteOffset, value.b.byteLength);
  const got = await comm.bcast(body, root);
  if (value) return value;
  const own = got.byteOffset === 0 && got.byteLength === got.buffer.byteLength;
  if (own && !(got.buffer instanceof SharedArrayBuffer)) transfer.push(got.buffer);
  if (h.k === 'bytes') return { k: 'bytes', b: own ? got : new Uint8Array(got) };
  const ctor = CTORS[h.ctor!];
  const width = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (own) return { k: 'typed', ctor: h.ctor!, a: new ctor(got.buffer, 0, got.byteLength / width) };
  const a = new ctor(new SharedArrayBuffer(got.byteLength));
  new Uint8Array(a.buffer).set(got);
  return { k: 'typed', ctor: h.ctor!, a };
}
