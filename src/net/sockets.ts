import * as zmq from 'zeromq';

/** Socket options shared by every socket: never drop at a high water mark, never linger long. */
function common(s: zmq.Router | zmq.Dealer): void {
  s.sendHighWaterMark = 0;
  s.receiveHighWaterMark = 0;
  s.linger = 200;
}

export function router(): zmq.Router {
  const s = new zmq.Router({ mandatory: true });
  common(s);
  return s;
}

export function dealer(routingId?: string): zmq.Dealer {
  const s = new zmq.Dealer(routingId ? { routingId } : {});
  common(s);
  return s;
}

/** The bound endpoint with the OS-chosen port filled in. */
export function boundEndpoint(s: zmq.Router): string {
  const ep = s.lastEndpoint;
  if (!ep) throw new Error('socket is not bound');
  return ep;
}
