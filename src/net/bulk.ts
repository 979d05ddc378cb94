import * as crypto from 'node:crypto';
import * as zmq from 'zeromq';
import { ClusterError } from '../errors';
import { log } from '../log';
import { BULK_MESSAGE_MAX, Opener, Sealer, splitMessage, type Announce } from './bulk-seal';
import { context } from './security';

/**
 * The bulk channel (issue 23, item 4): CurveZMQ encrypts every byte on one ZeroMQ I/O thread, a
 * third to a half slower than no security for a large value. So with security on, a worker's data
 * service has a second port, a plain (NULL) ROUTER, on which values of BULK_MIN_BYTES or more go
 * to a requester in pieces sealed with AES-256-GCM (bulk-seal.ts) under a key per transfer, told
 * over the CURVE connection the request came on. The plain port admits anyone, but a stranger
 * learns nothing there: it is only sent sealed pieces of transfers someone asked for over CURVE,
 * to the routing id given in that request (128 random bits), and what it sends is dropped.
 *
 * The requester's side is a BulkReceiver per peer connection: a DEALER with that routing id,
 * connected once the worker names its bulk address (`bulk-at`), saying `hello` so the worker
 * knows it can be reached.
 */

/** How long a worker waits for a requester's hello before sending a value over CURVE instead (ms). */
export const BULK_HELLO_MS = 2000;
/** What a requester sends the bulk port, once, so the worker learns its routing id is there. */
const HELLO = Buffer.from('hello');
/** Routing ids of bulk receivers: 16 random bytes in hex. */
const ID_PATTERN = /^[0-9a-f]{32}$/;
/** Routing ids remembered as reachable at most (a stranger's hellos cannot grow it past this). */
const MAX_LIVE = 4096;
/** Messages (of PIECES_PER_MESSAGE sealed pieces) queued in libzmq per receiver at most. */
const MESSAGES_IN_FLIGHT = 16;
/** A receiver that takes no message for this long is given up on (ms); its request times out. */
const SEND_TIMEOUT_MS = 30_000;
/** A receiver at its high-water mark is tried again after this long, doubling up to the max (ms). */
const RETRY_MIN_MS = 1;
const RETRY_MAX_MS = 20;
/** The pump gives the event loop a turn after this much work (ms). */
const SLICE_MS = 10;

/** What waits for one receiver: its transfers in order, and the next message, once sealed. */
interface PeerQueue {
  routing: Buffer;
  transfers: Sealer[];
  next: Buffer | null;
  retryAt: number;
  wait: number;
  /** When it last took a message (or was first queued for). */
  takenAt: number;
}

/** A worker's bulk port: sends sealed transfers to receivers that said hello. */
export class BulkServer {
  /** Routing ids that said hello, oldest first. */
  private readonly live = new Set<string>();
  private readonly waiters = new Map<string, (() => void)[]>();
  /**
   * Receivers that did not say hello when told where to: their values go over CURVE without
   * waiting again (a bulk port they cannot reach costs one wait, not one per request).
   */
  private readonly silent = new Set<string>();
  /** Transfer ids grow across all receivers: a receiver only needs them to grow. */
  private lastId = 0;
  private readonly queues = new Map<string, PeerQueue>();
  private pumping = false;
  private closed = false;

  private constructor(
    private readonly socket: zmq.Router,
    readonly address: string,
    private readonly name: string,
    private readonly onStranger: (err: ClusterError) => void,
  ) {}

  /** Binds a bulk port on `host`; `onStranger` hears of each message that is not a hello. */
  static async start(
    host: string,
    name: string,
    onStranger: (err: ClusterError) => void = (err) =>
      log.warnOften('bulk stranger', `${err.message} [${err.code}]`),
  ): Promise<BulkServer> {
    const s = new zmq.Router({ mandatory: true, context });
    s.sendHighWaterMark = MESSAGES_IN_FLIGHT;
    // A ROUTER's send to one full peer waits for a writable event that a ROUTER need never give
    // (it is writable while any peer is): fail at once and try again on a timer, as Outbox does.
    s.sendTimeout = 0;
    s.receiveHighWaterMark = 16;
    // Nothing larger than a hello ever comes in: libzmq cuts off a peer sending more. (It also
    // bounds the handshake's metadata, which carries the 32-byte routing id: 64 is too small.)
    s.maxMessageSize = 256;
    s.linger = 0;
    await s.bind(`tcp://${host}:*`);
    const server = new BulkServer(s, s.lastEndpoint!, name, onStranger);
    void server.listen();
    return server;
  }

  private async listen(): Promise<void> {
    try {
      for await (const parts of this.socket) {
        const peer = parts[0].toString('latin1');
        if (parts.length !== 2 || !parts[1].equals(HELLO) || !ID_PATTERN.test(peer)) {
          const what = `a message of ${parts.length - 1} frame(s) that is not a hello`;
          this.onStranger(
            new ClusterError('ERR_BULK_FRAME', `${this.name}: bulk port: ${what}; dropped`),
          );
          continue;
        }
        this.live.delete(peer);
        this.live.add(peer);
        this.silent.delete(peer);
        if (this.live.size > MAX_LIVE) this.live.delete(this.live.values().next().value!);
        for (const w of this.waiters.get(peer) ?? []) w();
        this.waiters.delete(peer);
      }
    } catch (err) {
      if (!this.closed) log.error(`${this.name}: bulk port: ${(err as Error).message}`);
    }
  }

  /** Whether receiver `peer` said hello; else waits up to `ms` for it to. */
  reachable(peer: string, ms: number): Promise<boolean> {
    if (this.live.has(peer)) return Promise.resolve(true);
    if (this.closed || !ID_PATTERN.test(peer)) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.silent.add(peer);
        if (this.silent.size > MAX_LIVE) this.silent.delete(this.silent.values().next().value!);
        const ws = this.waiters.get(peer) ?? [];
        ws.splice(ws.indexOf(done), 1);
        if (ws.length === 0) this.waiters.delete(peer);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve(!this.closed);
      };
      this.waiters.set(peer, [...(this.waiters.get(peer) ?? []), done]);
    });
  }

  isReachable(peer: string): boolean {
    return this.live.has(peer);
  }

  /** Whether to tell `peer` where the port is and wait for its hello: not if it failed to once. */
  worthWaitingFor(peer: string): boolean {
    return !this.silent.has(peer);
  }

  /** Queues `frames` for `peer` (which said hello); returns what to announce over CURVE. */
  send(peer: string, frames: readonly Buffer[]): Announce {
    // Past 2^32 - 1 transfers in one worker's life the ids would wrap; receivers would refuse.
    const id = ++this.lastId;
    const sealer = new Sealer(id, frames);
    let q = this.queues.get(peer);
    if (!q) {
      q = {
        routing: Buffer.from(peer, 'latin1'),
        transfers: [],
        next: null,
        retryAt: 0,
        wait: RETRY_MIN_MS,
        takenAt: Date.now(),
      };
      this.queues.set(peer, q);
    }
    q.transfers.push(sealer);
    if (!this.pumping)
      this.pump().catch((err: Error) => log.error(`${this.name}: bulk port: ${err.message}`));
    return sealer.announce;
  }

  /** Transfers queued for `peer` and not all handed to ZeroMQ. */
  backlog(peer: string): number {
    return this.queues.get(peer)?.transfers.length ?? 0;
  }

  /**
   * Receivers served round robin, a message at a time, so a slow one holds up no other; a
   * message is sealed only when its receiver's turn comes. One that is full is tried again
   * later; one that takes nothing for SEND_TIMEOUT_MS, or is gone, is given up (its requests
   * time out at the requester).
   */
  private async pump(): Promise<void> {
    this.pumping = true;
    let sliceStart = performance.now();
    try {
      while (this.queues.size > 0 && !this.closed) {
        // Sealing is CPU work: give the event loop a turn every SLICE_MS of it.
        if (performance.now() - sliceStart > SLICE_MS) {
          await new Promise((r) => setImmediate(r));
          sliceStart = performance.now();
        }
        let due = Infinity;
        let progressed = false;
        for (const [peer, q] of this.queues) {
          const now = Date.now();
          if (now < q.retryAt) {
            due = Math.min(due, q.retryAt);
            continue;
          }
          while (!q.next && q.transfers.length > 0) {
            q.next = q.transfers[0].nextMessage();
            if (!q.next) q.transfers.shift();
          }
          if (!q.next) {
            this.queues.delete(peer);
            continue;
          }
          const err = await this.trySend([q.routing, q.next]);
          if (this.closed) return;
          if (err === null) {
            q.next = null;
            q.wait = RETRY_MIN_MS;
            q.takenAt = Date.now();
            progressed = true;
          } else if (err === 'full' && Date.now() - q.takenAt < SEND_TIMEOUT_MS) {
            q.retryAt = Date.now() + q.wait;
            q.wait = Math.min(RETRY_MAX_MS, q.wait * 2);
            due = Math.min(due, q.retryAt);
          } else {
            log.debug(
              `${this.name}: bulk to ${peer}: ${err === 'full' ? 'takes nothing' : err.message}`,
            );
            this.live.delete(peer);
            this.queues.delete(peer);
          }
        }
        if (!progressed && Number.isFinite(due)) {
          await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Hands one message to ZeroMQ: null if it went, 'full' if the receiver is at its mark. */
  private async trySend(parts: Buffer[]): Promise<Error | 'full' | null> {
    try {
      await this.socket.send(parts);
      return null;
    } catch (err) {
      return (err as { code?: string }).code === 'EAGAIN' ? 'full' : (err as Error);
    }
  }

  close(): void {
    this.closed = true;
    this.queues.clear();
    for (const ws of this.waiters.values()) for (const w of ws) w();
    this.waiters.clear();
    this.socket.close();
  }
}

/** What this process's bulk receivers took in: transfers and bytes opened, pieces refused. */
export const bulkStats = { transfers: 0, bytes: 0, refused: 0 };

interface Expecting {
  resolve: (frames: Buffer[]) => void;
  reject: (err: Error) => void;
}

/**
 * A requester's end of one peer's bulk channel. `expect` returns the value's frames once every
 * piece has opened; pieces that are malformed, tampered with or replayed are refused (told to
 * `onRefused`) and the transfer goes on waiting for the genuine ones.
 */
export class BulkReceiver {
  /** The routing id the requester names in its get-data. */
  readonly id = crypto.randomBytes(16).toString('hex');
  private socket: zmq.Dealer | null = null;
  private address = '';
  private readonly opener: Opener;
  private readonly expecting = new Map<number, Expecting>();
  /**
   * A message whose piece at `at` is of a transfer not announced yet: reading waits for the
   * announcement, then goes on from that piece.
   */
  private held: { pieces: Buffer[][]; at: number } | null = null;
  private reading = false;
  private closed = false;

  constructor(
    private readonly name: string,
    private readonly onRefused: (err: ClusterError) => void = (err) =>
      log.warnOften(`bulk ${err.code}`, `${err.message} [${err.code}]`),
  ) {
    this.opener = new Opener(name);
  }

  /** Connects to the peer's bulk port (once; a later address is ignored) and says hello. */
  connect(address: string): void {
    if (this.closed) return;
    if (this.socket) {
      // The worker forgot us (a send to us failed, or we reconnected): say hello again.
      if (address === this.address) void this.socket.send(HELLO).catch(() => {});
      return;
    }
    const s = new zmq.Dealer({ routingId: this.id, context });
    s.receiveHighWaterMark = 0;
    // Nothing larger than a message of pieces is sent here: libzmq cuts off a sender of more.
    s.maxMessageSize = BULK_MESSAGE_MAX + 64;
    s.linger = 0;
    s.connect(address);
    this.socket = s;
    this.address = address;
    void s.send(HELLO).catch(() => {});
  }

  /** Waits for an announced transfer's frames. */
  expect(a: Announce): Promise<Buffer[]> {
    if (this.closed) return Promise.reject(new Error(`${this.name}: bulk channel closed`));
    try {
      this.opener.expect(a);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const p = new Promise<Buffer[]>((resolve, reject) =>
      this.expecting.set(a.id, { resolve, reject }),
    );
    if (this.held) this.open(this.held.pieces, this.held.at);
    if (!this.reading && !this.held) void this.read();
    return p;
  }

  private async read(): Promise<void> {
    const s = this.socket;
    if (!s) return;
    this.reading = true;
    try {
      while (this.opener.pending > 0 && !this.held && !this.closed) this.take(await s.receive());
    } catch (err) {
      if (!this.closed)
        this.close(new Error(`${this.name}: bulk channel: ${(err as Error).message}`));
    } finally {
      this.reading = false;
    }
  }

  /** Opens a message (one frame of pieces back to back). */
  private take(parts: Buffer[]): void {
    const pieces = parts.length === 1 ? splitMessage(parts[0]) : null;
    if (pieces) return this.open(pieces, 0);
    bulkStats.refused += 1;
    this.onRefused(
      new ClusterError(
        'ERR_BULK_FRAME',
        `${this.name}: a bulk message of ${parts.length} frame(s) that is not sealed pieces; dropped`,
      ),
    );
  }

  /** Opens a message's pieces from the one at `from`. */
  private open(pieces: Buffer[][], from: number): void {
    this.held = null;
    for (let at = from; at < pieces.length; at++) {
      const r = this.opener.open(pieces[at]);
      if (r.kind === 'early') {
        this.held = { pieces, at };
        return;
      }
      if (r.kind === 'refused') {
        bulkStats.refused += 1;
        this.onRefused(r.error);
      } else if (r.kind === 'done') {
        bulkStats.transfers += 1;
        for (const f of r.frames) bulkStats.bytes += f.length;
        this.expecting.get(r.id)?.resolve(r.frames);
        this.expecting.delete(r.id);
      }
    }
  }

  /** Gives up on a transfer whose request failed (and any announced before it). */
  abandon(id: number): void {
    this.opener.abandon(id);
    for (const [at, e] of this.expecting) {
      if (at > id) continue;
      e.reject(new Error(`${this.name}: bulk transfer ${at} abandoned`));
      this.expecting.delete(at);
    }
  }

  /** Where it is connected ('' before `connect`). */
  get connectedTo(): string {
    return this.address;
  }

  close(err = new Error(`${this.name}: bulk channel closed`)): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.expecting.values()) e.reject(err);
    this.expecting.clear();
    this.socket?.close();
  }
}
