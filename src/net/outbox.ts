import type * as zmq from 'zeromq';
import { encode, type Envelope } from '../protocol';
import { log } from '../log';

type Sendable = zmq.Router | zmq.Dealer;

/**
 * One send queue per socket. zeromq.js allows a single pending `send` per socket (EBUSY
 * otherwise), so every op is queued here, ops for the same peer posted in one event-loop turn are
 * batched into one multipart message, and one pump sends messages strictly one after another.
 * Sockets are created with an unlimited high water mark and, for ROUTERs, `mandatory`, so a
 * message is never dropped silently: a peer that is gone is logged and its message discarded.
 */
export class Outbox {
  private pending = new Map<string, Envelope[]>();
  private queue: Buffer[][] = [];
  private scheduled = false;
  private pumping = false;
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly socket: Sendable,
    private readonly routed: boolean,
    private readonly name: string,
  ) {}

  /** Queues an op for `peer` (a routing id on a ROUTER; ignored on a DEALER). */
  post(peer: string, op: Envelope['op'], frames: Buffer[] = []): void {
    if (this.closed) return;
    let batch = this.pending.get(peer);
    if (!batch) {
      batch = [];
      this.pending.set(peer, batch);
    }
    batch.push({ op, frames });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Moves batched ops to the send queue now (also done automatically every turn). */
  flush(): void {
    this.scheduled = false;
    for (const [peer, batch] of this.pending) {
      const parts = encode(batch);
      if (this.routed) parts.unshift(Buffer.from(peer, 'latin1'));
      this.queue.push(parts);
    }
    this.pending.clear();
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.queue.length > 0 && !this.closed) {
      const parts = this.queue.shift() as Buffer[];
      try {
        await this.socket.send(parts);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'EHOSTUNREACH') {
          log.debug(`${this.name}: peer ${parts[0].toString('latin1')} is gone, message dropped`);
        } else if (this.socket.closed || code === 'ETERM' || code === 'ENOTSOCK') {
          break;
        } else {
          log.warn(`${this.name}: send failed: ${(err as Error).message}`);
        }
      }
    }
    this.pumping = false;
    if (this.queue.length === 0 && this.pending.size === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Resolves once everything posted so far has been handed to ZeroMQ. */
  drained(): Promise<void> {
    if (this.pending.size > 0) this.flush();
    if (!this.pumping && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
    this.queue.length = 0;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
