import type * as zmq from 'zeromq';
import { log } from '../log';
import { decode, type Envelope, type Op } from '../protocol';
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
}

interface Conn {
  socket: zmq.Dealer;
  outbox: Outbox;
  /** Requests waiting for their reply; the socket is read only while some are. */
  waiting: number;
  reading: boolean;
  lastUsed: number;
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
        this.pending.delete(req);
        conn.waiting -= 1;
        // A peer that does not answer is presumed gone: closing its socket ends the read.
        if (conn.waiting === 0) this.drop(address);
        reject(new PeerTimeoutError(`${this.name}: no reply from ${address} in ${timeout} ms`));
      }, timeout);
      this.pending.set(req, { envs: [], resolve, reject, timer, conn });
      conn.waiting += 1;
      conn.outbox.post('', { ...op, req } as Op, frames);
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
        reading: false,
        lastUsed: 0,
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
      if (c.waiting > 0) continue;
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
          if (!p) continue;
          p.envs.push(env);
          if (TERMINAL.has(env.op.t)) {
            this.pending.delete(req!);
            p.conn.waiting -= 1;
            clearTimeout(p.timer);
            p.resolve(p.envs);
          }
        }
      }
    } catch (err) {
      if (!this.closed && !socket.closed) log.debug(`${this.name}: ${(err as Error).message}`);
    } finally {
      conn.reading = false;
    }
  }

  /** Forgets a peer that is known to be gone. */
  drop(address: string): void {
    const c = this.conns.get(address);
    if (!c) return;
    this.conns.delete(address);
    c.outbox.close();
    c.socket.close();
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
