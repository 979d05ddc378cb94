import type * as zmq from 'zeromq';
import { log } from '../log';
import { decode, type Envelope, type Op, type OpOf } from '../protocol';
import { BulkReceiver } from './bulk';
import { Outbox } from './outbox';
import type { ClusterKeys } from './security';
import { dealer } from './sockets';

/** Ops that end a reply to a request. */
const TERMINAL = new Set<Op['t']>(['data-end', 'put-ack', 'pong']);

interface Pending {
  envs: Envelope[];
  resolve: (envs: Envelope[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  conn: Conn;
  /** Its terminal reply came (it no longer counts in `conn.waiting`). */
  replied: boolean;
  /** Values still coming on the bulk channel, and their transfer ids. */
  bulk: Promise<void>[];
  bulkIds: number[];
}

interface Conn {
  socket: zmq.Dealer;
  outbox: Outbox;
  /** Requests waiting for their reply; the socket is read only while some are. */
  waiting: number;
  /** Requests replied to whose values are still coming on the bulk channel. */
  bulkWaiting: number;
  reading: boolean;
  lastUsed: number;
  /** With security on, the sealed bulk channel for large values (net/bulk.ts). */
  bulk: BulkReceiver | null;
}

/** A connection with no request for this long is closed (ms). */
export const PEER_IDLE_MS = 30_000;
/** Connections kept open at most; opening one more closes the least recently used idle one. */
export const MAX_PEER_CONNECTIONS = 256;

export class PeerTimeoutError extends Error {
  readonly code = 'ERR_TIMEOUT';
}

/**
 * Request/reply to workers' data services (peer-to-peer transfers), one DEALER per peer address.
 * Replies are matched to requests by `req`; a request fails after `timeout` ms. A socket is read
 * only while a request on it waits, so an idle pool never keeps the process alive.
 */
export class PeerPool {
  private conns = new Map<string, Conn>();
  private pending = new Map<number, Pending>();
  private nextReq = 1;
  private closed = false;
  private sweeper: NodeJS.Timeout | undefined;

  /** @param keys the cluster's keys: every connection is a CURVE client (null: security off). */
  constructor(
    private readonly name: string,
    private readonly keys: ClusterKeys | null,
  ) {}

  request(address: string, op: Op, frames: Buffer[] = [], timeout = 30_000): Promise<Envelope[]> {
    if (this.closed) return Promise.reject(new Error(`${this.name}: peer pool closed`));
    const req = this.nextReq++;
    const conn = this.conn(address);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(req)!;
        this.pending.delete(req);
        if (!p.replied) conn.waiting -= 1;
        else if (p.bulk.length > 0) conn.bulkWaiting -= 1;
        if (p.bulkIds.length > 0) conn.bulk?.abandon(Math.max(...p.bulkIds));
        // A peer that does not answer is presumed gone: closing its socket ends the read.
        if (conn.waiting === 0) this.drop(address);
        reject(new PeerTimeoutError(`${this.name}: no reply from ${address} in ${timeout} ms`));
      }, timeout);
      this.pending.set(req, {
        envs: [],
        resolve,
        reject,
        timer,
        conn,
        replied: false,
        bulk: [],
        bulkIds: [],
      });
      conn.waiting += 1;
      // With security on, large values may come sealed on the bulk channel.
      const sent =
        op.t === 'get-data' && conn.bulk ? { ...op, req, bulk: conn.bulk.id } : { ...op, req };
      conn.outbox.post('', sent as Op, frames);
      if (!conn.reading) void this.receive(address, conn);
    });
  }

  private conn(address: string): Conn {
    let c = this.conns.get(address);
    if (c)
      this.conns.delete(address); // re-inserted below: the map is in order of last use
    else {
      if (this.conns.size >= MAX_PEER_CONNECTIONS) this.closeIdle(0);
      const socket = dealer(this.keys);
      socket.connect(address);
      c = {
        socket,
        outbox: new Outbox(socket, false, `${this.name}->${address}`),
        waiting: 0,
        bulkWaiting: 0,
        reading: false,
        lastUsed: 0,
        bulk: this.keys ? new BulkReceiver(`${this.name}<-${address} bulk`) : null,
      };
    }
    c.lastUsed = Date.now();
    this.conns.set(address, c);
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.closeIdle(PEER_IDLE_MS), PEER_IDLE_MS / 2);
      this.sweeper.unref();
    }
    return c;
  }

  /**
   * Closes connections idle for `idleMs`, oldest first; with 0, only the least recently used
   * idle one (to make room).
   */
  private closeIdle(idleMs: number): void {
    const now = Date.now();
    for (const [address, c] of this.conns) {
      if (c.waiting > 0 || c.bulkWaiting > 0) continue;
      if (now - c.lastUsed < idleMs) break;
      this.drop(address);
      if (idleMs === 0) return;
    }
  }

  private async receive(address: string, conn: Conn): Promise<void> {
    const socket = conn.socket;
    conn.reading = true;
    try {
      while (conn.waiting > 0) {
        const parts = await socket.receive();
        let envs: Envelope[];
        try {
          envs = decode(parts);
        } catch (err) {
          log.warn(`${this.name}: malformed reply from ${address}: ${(err as Error).message}`);
          continue;
        }
        for (const env of envs) {
          const req = (env.op as { req?: number }).req;
          const p = req === undefined ? undefined : this.pending.get(req);
          if (!p || p.replied) continue;
          if (env.op.t === 'bulk-at') {
            p.conn.bulk?.connect(env.op.address);
            continue;
          }
          if (env.op.t === 'data-bulk') this.expectBulk(p, env.op);
          else p.envs.push(env);
          if (TERMINAL.has(env.op.t)) this.replied(req!, p);
        }
      }
    } catch (err) {
      if (!this.closed && !socket.closed) log.debug(`${this.name}: ${(err as Error).message}`);
    } finally {
      conn.reading = false;
    }
  }

  /**
   * A value announced on the bulk channel: its slot among the replies is filled once it has
   * arrived, as if it had come as `data`. Without a bulk channel (security off) none is announced.
   */
  private expectBulk(p: Pending, op: OpOf<'data-bulk'>): void {
    const slot = p.envs.length;
    p.envs.push({ op, frames: [] });
    const arrived = p.conn.bulk
      ? p.conn.bulk.expect(op).then((frames) => {
          p.envs[slot] = { op: { t: 'data', req: op.req, key: op.key, nf: frames.length }, frames };
        })
      : Promise.reject(new Error(`${this.name}: a bulk value without a bulk channel`));
    if (p.conn.bulk) p.bulkIds.push(op.id);
    // A failure reaches the caller through the request (or its timeout), never as unhandled.
    arrived.catch(() => {});
    p.bulk.push(arrived);
  }

  /** The terminal reply came: resolves now, or once its bulk values have all arrived. */
  private replied(req: number, p: Pending): void {
    p.replied = true;
    p.conn.waiting -= 1;
    if (p.bulk.length > 0) p.conn.bulkWaiting += 1;
    const settle = (err?: Error) => {
      if (!this.pending.delete(req)) return;
      if (p.bulk.length > 0) p.conn.bulkWaiting -= 1;
      clearTimeout(p.timer);
      if (err) p.reject(err);
      else p.resolve(p.envs);
    };
    if (p.bulk.length === 0) return settle();
    Promise.all(p.bulk).then(
      () => settle(),
      (err: Error) => settle(err),
    );
  }

  /** Forgets a peer that is known to be gone. */
  drop(address: string): void {
    const c = this.conns.get(address);
    if (!c) return;
    this.conns.delete(address);
    c.outbox.close();
    c.socket.close();
    c.bulk?.close();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const address of Array.from(this.conns.keys())) this.drop(address);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${this.name}: closed`));
    }
    this.pending.clear();
  }
}
