import type { NativeRequest } from './native';

/** Polls before the first timer: a request that completes quickly costs no timer latency. */
const IMMEDIATE_POLLS = 8;
/**
 * How long a gang's communicator polls without sleeping since the last progress (ms). The bench's
 * 8-byte allreduce in a 4-rank gang took 18 ms (the ranks' back-off sleeps adding up over the
 * collective's rounds) without it.
 */
export const GANG_SPIN_MS = 20;
/** Longest sleep between polls, in ms: bounds the added latency of a slow collective. */
const MAX_DELAY_MS = 8;
/**
 * An MPI_Test that takes longer than this moved data (an idle one returns in ~1 µs), so
 * polling restarts at full speed. Without it MPICH's 64 MiB ibcast, which advances one
 * shared-memory fragment per test, took 1-2 s instead of ~40 ms.
 */
const BUSY_TEST_NS = 20_000n;

/**
 * Delay before poll number `attempt` since the last sign of progress (0-based): -1 means
 * setImmediate, otherwise a setTimeout of that many ms, doubling up to MAX_DELAY_MS.
 */
export function pollDelay(attempt: number): number {
  if (attempt < IMMEDIATE_POLLS) return -1;
  return Math.min(MAX_DELAY_MS, 2 ** (attempt - IMMEDIATE_POLLS));
}

/**
 * Resolves once `request` completes, polling MPI_Test from the main thread with back-off.
 * Neither Open MPI nor MPICH progresses without calls into it, and a thread blocked in
 * MPI_Wait busy-spins a core (both default to polling), which starves the other ranks on
 * an oversubscribed node and would block the event loop.
 *
 * When `signal` aborts, the promise rejects with its reason at once and polling stops. The
 * MPI operation itself goes on (MPI cannot cancel a collective); the native request keeps
 * itself and its buffers alive until it completes, so memory MPI may still write is never
 * released (if it never completes, never).
 */
export function waitFor(
  request: NativeRequest,
  signal?: AbortSignal,
  /**
   * Poll with setImmediate for this long (ms) since the last sign of progress before backing off:
   * a gang's communicator (its ranks are there to run MPI, as a blocking MPI call spins) spins
   * for GANG_SPIN_MS; the bootstrap's calls do not, so waiting ranks leave the cores to the rest.
   */
  spinMs = 0,
): Promise<void> {
  const spinNs = BigInt(Math.round(spinMs * 1e6));
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let attempt = 0;
    let progress = process.hrtime.bigint();
    let cancel = (): void => undefined;
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason);
    };
    const settle = (outcome: () => void): void => {
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    const poll = (): void => {
      const started = process.hrtime.bigint();
      let done: boolean;
      try {
        done = request.test();
      } catch (error) {
        settle(() => reject(error));
        return;
      }
      if (done) {
        settle(resolve);
        return;
      }
      const now = process.hrtime.bigint();
      if (now - started > BUSY_TEST_NS) {
        attempt = 0;
        progress = now;
      }
      const delay = now - progress < spinNs ? -1 : pollDelay(attempt++);
      if (delay < 0) {
        const immediate = setImmediate(poll);
        cancel = () => clearImmediate(immediate);
      } else {
        const timer = setTimeout(poll, delay);
        cancel = () => clearTimeout(timer);
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    poll();
  });
}
