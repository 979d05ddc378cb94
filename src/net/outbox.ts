import type * as zmq from 'zeromq';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { encode, type Envelope } from '../protocol';
import { log } from '../log';

type Sendable = zmq.Router | zmq.Dealer;

/** Ops in one message at most, so a receiver decodes and handles any message in a few ms. */
export const MAX_OPS_PER_MESSAGE = 1000;
/** Frame bytes in one message at most (a single op whose frames are larger travels alone). */
export const MAX_BYTES_PER_MESSAGE = 4 * 2 ** 20;
/** The pump gives the event loop a turn after this much work (ms), so timers and reads go on. */
const SLICE_MS = 10;
/** A ROUTER peer at its high-water mark is tried again after this long, doubling up to the max. */
const RETRY_MIN_MS = 1;
const RETRY_MAX_MS = 50;

/**
 * Ops made only when their turn to be sent comes, in order with everything posted around them:
 * a large map's submits are packed in the background, a message at a time, while `map` has
 * returned long ago. `next()` gives the next op, or null once there is none left.
 */
export interface OpSource {
  next(): Envelope | null;
  /** Ops still to come (for `backlog`). */
  readonly left: number;
}

type Entry = Envelope | OpSource;

/** Ops that carry only a list of keys, which postKeys merges. */
type KeysOpType = 'release' | 'free-keys';
/** Keys in one merged op at most, so no message's header grows past a few megabytes. */
export const KEYS_PER_OP = 64;
/** Ops made by postKeys: their key lists are the Outbox's own, free to grow. */
const merged = new WeakSet<object>();

const isSource = (e: Entry): e is OpSource => typeof (e as OpSource).next === 'function';

interface PeerQueue {
  envs: Entry[];
  /** Index of the first op not yet encoded. */
  head: number;
  /** A message that met the peer's high-water mark, sent first when the peer takes more. */
  parked: Buffer[] | null;
  retryMs: number;
  retryAt: number;
}

type SendResult = 'sent' | 'full' | 'dropped' | 'closed';

/**
 * One send queue per socket, with a queue per peer inside. zeromq.js allows a single pending
 * `send` per socket (EBUSY otherwise), so every op is posted here and one pump sends messages one
 * after another: ops posted for a peer are batched into messages of at most
 * MAX_OPS_PER_MESSAGE ops and about MAX_BYTES_PER_MESSAGE bytes, encoded only when their turn
 * comes, peers served round robin.
 *
 * Flow control: sockets have finite high-water marks (`sockets.ts`). A DEALER's send waits while
 * its one peer is full. A ROUTER's send fails at once for a full peer (sendTimeout 0, mandatory);
 * that peer's message is parked and tried again later while other peers are served, so one slow
 * reader never stalls the rest. What waits here is what the owner posted and the peer has not
 * taken yet; its bound is the owner's (the scheduler's per-peer traffic is bounded by the
 * protocol: at most one notice per key a client wants, computes up to a worker's capacity, one
 * reply per request). A peer that is gone (EHOSTUNREACH) has its message dropped, and the owner
 * is told (`onGone`).
 */
export class Outbox {
  private readonly queues = new Map<string, PeerQueue>();
  private scheduled = false;
  private pumping = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  /**
   * @param onGone called with a ROUTER peer whose connection is gone (EHOSTUNREACH: its process
   *   exited or its connection closed); its message is dropped.
   */
  constructor(
    private readonly socket: Sendable,
    private readonly routed: boolean,
    private readonly name: string,
    private readonly onGone: (peer: string) => void = () => {},
  ) {}

  /** Queues an op for `peer` (a routing id on a ROUTER; ignored on a DEALER). */
  post(peer: string, op: Envelope['op'], frames: Buffer[] = []): void {
    this.enqueue(peer, { op, frames });
  }

  /**
   * Queues `{ t, keys }`, or adds the keys to the peer's last queued op when that is one of the
   * same type that nothing was queued after: the order of everything sent is as if each were
   * its own op, and a release of 300,000 futures is a few thousand ops, not 300,000.
   */
  postKeys(peer: string, t: KeysOpType, keys: readonly string[]): void {
    const q = this.queues.get(peer);
    const last = q && q.envs.length > q.head ? q.envs[q.envs.length - 1] : undefined;
    if (last && !isSource(last) && last.op.t === t && merged.has(last.op)) {
      const into = (last.op as { keys: string[] }).keys;
      if (into.length + keys.length <= KEYS_PER_OP) {
        for (const k of keys) into.push(k);
        return;
      }
    }
    const op = { t, keys: keys.slice() };
    merged.add(op);
    this.post(peer, op);
  }

  /** Queues ops that `source` makes when their turn comes (after everything posted before). */
  postSource(peer: string, source: OpSource): void {
    this.enqueue(peer, source);
  }

  private enqueue(peer: string, entry: Entry): void {
    if (this.closed) return;
    let q = this.queues.get(peer);
    if (!q) {
      q = { envs: [], head: 0, parked: null, retryMs: RETRY_MIN_MS, retryAt: 0 };
      this.queues.set(peer, q);
    }
    q.envs.push(entry);
    this.schedule();
  }

  /** Ops posted and not yet handed to ZeroMQ, for every peer. */
  get backlog(): number {
    let n = 0;
    for (const q of this.queues.values()) {
      for (let i = q.head; i < q.envs.length; i++) {
        const e = q.envs[i];
        n += isSource(e) ? e.left : 1;
      }
      if (q.parked) n += 1;
    }
    return n;
  }

  private schedule(): void {
    if (this.scheduled || this.pumping) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    let sliceStart = performance.now();
    try {
      for (;;) {
        let progressed = false;
        const now = Date.now();
        for (const [peer, q] of this.queues) {
          if (q.parked && now < q.retryAt) continue;
          const parts = q.parked ?? this.take(peer, q);
          q.parked = null;
          if (!parts) {
            // Only exhausted sources were left.
            if (q.head >= q.envs.length) this.queues.delete(peer);
            continue;
          }
          const r = await this.send(parts);
          if (r === 'closed') return this.close(); // the socket is gone: nothing more can leave
          if (r === 'full') {
            q.parked = parts;
            q.retryAt = Date.now() + q.retryMs;
            q.retryMs = Math.min(RETRY_MAX_MS, q.retryMs * 2);
          } else {
            q.retryMs = RETRY_MIN_MS;
            progressed = true;
          }
          if (!q.parked && q.head >= q.envs.length) this.queues.delete(peer);
          if (performance.now() - sliceStart > SLICE_MS) {
            await nextTurn();
            if (this.closed) return;
            sliceStart = performance.now();
          }
        }
        if (!progressed) break;
      }
    } finally {
      this.pumping = false;
    }
    if (this.queues.size === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    } else this.retryLater();
  }

  /** Only parked peers are left: try again when the first of them is due. */
  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    let due = Infinity;
    for (const q of this.queues.values()) due = Math.min(due, q.parked ? q.retryAt : 0);
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        void this.pump();
      },
      Math.max(0, due - Date.now()),
    );
  }

  /** Encodes the peer's next message from its queue; null when nothing was left to send. */
  private take(peer: string, q: PeerQueue): Buffer[] | null {
    const batch: Envelope[] = [];
    let bytes = 0;
    while (q.head < q.envs.length && batch.length < MAX_OPS_PER_MESSAGE) {
      if (bytes >= MAX_BYTES_PER_MESSAGE) break;
      const e = q.envs[q.head];
      let env: Envelope | null;
      if (isSource(e)) {
        env = e.next();
        if (env === null) {
          q.head++;
          continue;
        }
      } else {
        env = e;
        q.head++;
      }
      for (const f of env.frames) bytes += f.length;
      batch.push(env);
    }
    if (q.head === q.envs.length) {
      q.envs = [];
      q.head = 0;
    } else if (q.head > 4096 && q.head * 2 > q.envs.length) {
      q.envs = q.envs.slice(q.head);
      q.head = 0;
    }
    if (batch.length === 0) return null;
    const parts = encode(batch);
    if (this.routed) parts.unshift(Buffer.from(peer, 'latin1'));
    return parts;
  }

  private async send(parts: Buffer[]): Promise<SendResult> {
    try {
      await this.socket.send(parts);
      return 'sent';
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EAGAIN') return 'full';
      if (this.socket.closed || code === 'ETERM' || code === 'ENOTSOCK') return 'closed';
      if (code === 'EHOSTUNREACH') {
        const peer = parts[0].toString('latin1');
        log.debug(`${this.name}: peer ${peer} is gone, message dropped`);
        this.onGone(peer);
      } else log.warn(`${this.name}: send failed: ${(err as Error).message}`);
      return 'dropped';
    }
  }

  /**
   * Resolves once everything posted so far has been handed to ZeroMQ, or after `timeout` ms (a
   * peer that never reads must not hold up a close); returns whether it all went.
   */
  drained(timeout = Infinity): Promise<boolean> {
    if (this.queues.size === 0 && !this.pumping) return Promise.resolve(true);
    this.schedule();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
      if (Number.isFinite(timeout)) {
        timer = setTimeout(() => {
          this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
          resolve(false);
        }, timeout);
      }
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.queues.clear();
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
