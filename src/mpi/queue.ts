/**
 * Runs asynchronous operations one at a time, in call order. A communicator's collectives
 * go through one of these (multi-step ones, length then data, must not interleave), and
 * receives from one (source, tag) through another (so they match messages in call order).
 * Once `signal` aborts, operations not started yet reject with its reason.
 */
export class SerialQueue {
  /** Operations enqueued and not yet settled. */
  pending = 0;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly signal: AbortSignal,
    /** Called whenever the last pending operation settles. */
    private readonly onIdle?: () => void,
  ) {}

  run<T>(operation: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.turn()
      .then(() => {
        this.signal.throwIfAborted();
        return operation();
      })
      .finally(() => {
        if (--this.pending === 0) this.onIdle?.();
      });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Settles when the operation before has, or at once when the signal aborts: an operation
   * in flight that never settles must not hold those queued behind it.
   */
  private turn(): Promise<void> {
    const before = this.tail;
    const { signal } = this;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      void before.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
