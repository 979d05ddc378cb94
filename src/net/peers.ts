import type * as zmq from 'zeromq';
import { log } from '../log';
import { decode, type Envelope, type Op } from '../protocol';
import { Outbox } from './outbox';
import { dealer } from './sockets';

/** Ops that end a reply to a request. */
const TERMINAL = new Set<Op['t']>(['data-end', 'put-ack', 'pong']);

interface Pending {
  envs: Envelope[];
  resolve: (envs: Envelope[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface Conn {
  socket: zmq.Dealer;
  outbox: Outbox;
}

export class PeerTimeoutError extends Error {
  readonly code = 'ERR_TIMEOUT';
}

/**
 * Request/reply to workers' data services (peer-to-peer transfers), one DEALER per peer address.
 * Replies are matched to requests by `req`; a request fails after `timeout` ms.
 */
export class PeerPool {
  private conns = new Map<string, Conn>();
  private pending = new Map<number, Pending>();
  private nextReq = 1;
  private closed = false;

  constructor(private readonly name: string) {}

  request(address: string, op: Op, frames: Buffer[] = [], timeout = 30_000): Promise<Envelope[]> {
    if (this.closed) return Promise.reject(new Error(`${this.name}: peer pool closed`));
    const req = this.nextReq++;
    const conn = this.conn(address);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(req);
        reject(new PeerTimeoutError(`${this.name}: no reply from ${address} in ${timeout} ms`));
      }, timeout);
      this.pending.set(req, { envs: [], resolve, reject, timer });
      conn.outbox.post('', { ...op, req } as Op, frames);
    });
  }

  private conn(address: string): Conn {
    let c = this.conns.get(address);
    if (!c) {
      const socket = dealer();
      socket.connect(address);
      c = { socket, outbox: new Outbox(socket, false, `${this.name}->${address}`) };
      this.conns.set(address, c);
      void this.receive(address, socket);
    }
    return c;
  }

  private async receive(address: string, socket: zmq.Dealer): Promise<void> {
    try {
      for await (const parts of socket) {
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
            clearTimeout(p.timer);
            p.resolve(p.envs);
          }
        }
      }
    } catch (err) {
      if (!this.closed && !socket.closed) log.debug(`${this.name}: ${(err as Error).message}`);
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
    for (const address of [...this.conns.keys()]) this.drop(address);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${this.name}: closed`));
    }
    this.pending.clear();
  }
}
