import * as zmq from 'zeromq';
import { context, secureClient, type ClusterKeys } from './security';

/**
 * Messages queued per peer in libzmq, each way. Messages are at most MAX_OPS_PER_MESSAGE ops and
 * about MAX_BYTES_PER_MESSAGE bytes (outbox.ts), or one op's frames, so this bounds what a slow
 * reader can make its sender's libzmq hold; beyond it the sender's Outbox waits.
 */
export const HIGH_WATER_MARK = 100;
/**
 * The largest part a peer may send to a socket that accepts peers; a peer sending more is
 * disconnected by libzmq before any of it is buffered. Our own parts are at most a 16 MiB
 * frame (FRAME_CHUNK), a blob of small frames or a JSON header of one message.
 */
export const MAX_MESSAGE_SIZE = 256 * 2 ** 20;

function common(s: zmq.Router | zmq.Dealer): void {
  s.sendHighWaterMark = HIGH_WATER_MARK;
  s.receiveHighWaterMark = HIGH_WATER_MARK;
  s.linger = 200;
}

/**
 * A ROUTER that accepts peers. `mandatory` makes a send to a full or unknown peer fail instead
 * of dropping the message silently, and sendTimeout 0 makes it fail at once, so the Outbox can
 * serve other peers meanwhile.
 */
export function router(): zmq.Router {
  const s = new zmq.Router({ mandatory: true, context });
  common(s);
  s.sendTimeout = 0;
  s.maxMessageSize = MAX_MESSAGE_SIZE;
  return s;
}

/**
 * A DEALER to one peer: its send waits while that peer is full. With the cluster's keys it is a
 * CURVE client (set before it connects).
 */
export function dealer(keys: ClusterKeys | null, routingId?: string): zmq.Dealer {
  const s = new zmq.Dealer(routingId ? { routingId, context } : { context });
  common(s);
  if (keys) secureClient(s, keys);
  return s;
}

/** The bound endpoint with the OS-chosen port filled in. */
export function boundEndpoint(s: zmq.Router): string {
  const ep = s.lastEndpoint;
  if (!ep) throw new Error('socket is not bound');
  return ep;
}
