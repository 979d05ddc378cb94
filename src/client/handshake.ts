/** The client's waits for its scheduler: a bounded wait, and the probe of a refused handshake. */
import type * as zmq from 'zeromq';
import { ClusterError } from '../errors';
import { dealer, type ClusterKeys } from '../net';

/** `p`, or ERR_TIMEOUT with `message()` after `ms` (no bound when ms is undefined). */
export async function withTimeout<T>(
  p: Promise<T>,
  ms: number | undefined,
  message: () => string,
): Promise<T> {
  if (ms === undefined) return p;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ClusterError('ERR_TIMEOUT', message())), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a client waits for the welcome before it probes the handshake (ms). */
const PROBE_AFTER_MS = 1000;

/**
 * After PROBE_AFTER_MS, connects a probe socket with the same keys and watches its handshake: a
 * CURVE server refusing us (or a plain client at a secured port) rejects with ERR_SECURITY. The
 * probe (and its monitor, whose pending read would keep Node alive) is closed as soon as the
 * handshake is decided or `stop()` is called. A probe, not the client's own socket, because a
 * socket's monitor endpoint stays bound until the socket closes.
 */
export function handshakeRefused(
  address: string,
  keys: ClusterKeys | null,
): { promise: Promise<never>; stop: () => void } {
  let probe: zmq.Dealer | null = null;
  let stopped = false;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    if (probe && !probe.closed) probe.close();
  };
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      if (stopped) return;
      const p = dealer(keys);
      p.linger = 0;
      probe = p;
      const events = p.events;
      p.connect(address);
      void (async () => {
        try {
          for await (const ev of events) {
            if (ev.type === 'handshake') break;
            if (ev.type.startsWith('handshake:error')) {
              reject(
                new ClusterError(
                  'ERR_SECURITY',
                  keys
                    ? `the scheduler at ${address} refused this client's keys: they are not its cluster's (take them from its scheduler file or LocalCluster)`
                    : `the scheduler at ${address} is secured and this client has no keys: connect with { schedulerFile } (the file holds them), pass security: keys, or set MPI_CLUSTER_KEYS`,
                ),
              );
              break;
            }
          }
        } catch {
          // the probe closed: nothing more to learn
        } finally {
          if (!p.closed) p.close();
        }
      })();
    }, PROBE_AFTER_MS);
  });
  promise.catch(() => {});
  return { promise, stop };
}
