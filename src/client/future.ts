import { inspect } from 'node:util';
import { ClusterError } from '../errors';
import type { RemoteError } from '../protocol';

export type FutureStatus = 'pending' | 'finished' | 'error' | 'cancelled' | 'lost';

/** An error raised in a task, with the remote stack and the worker it ran on. */
const PASSED_THROUGH = new Set([
  'ERR_KILLED_WORKER',
  'ERR_WORKER_LOST',
  'ERR_THREAD_EXITED',
  'ERR_KEY_CONFLICT',
  'ERR_PROTOCOL',
  'ERR_GANG_NO_MPI',
  'ERR_GANG_TOO_LARGE',
]);

export class TaskError extends ClusterError {
  readonly remote: RemoteError;
  constructor(remote: RemoteError) {
    super(
      'ERR_TASK_FAILED',
      `${remote.name}: ${remote.message}${remote.key ? ` (task ${remote.key}` : ''}${remote.worker ? ` on worker ${remote.worker})` : remote.key ? ')' : ''}`,
    );
    this.name = 'TaskError';
    this.remote = remote;
    // The cluster's own verdicts keep their codes; a task's own failure is ERR_TASK_FAILED.
    if (remote.code && PASSED_THROUGH.has(remote.code)) {
      (this as { code: string }).code = remote.code;
    }
    if (remote.stack)
      this.stack = `${this.name}: ${this.message}\n--- remote stack ---\n${remote.stack}`;
  }
}

/**
 * A result that came with its completion notice: its one frame kept as its place in the message
 * it came in (a Buffer view and an array cost about 100 bytes more per key), or its frames.
 */
export type InlineResult = Buffer[] | { bytes: ArrayBufferLike; offset: number; length: number };

export function inlineResult(frames: Buffer[]): InlineResult {
  if (frames.length !== 1) return frames;
  const f = frames[0];
  return { bytes: f.buffer, offset: f.byteOffset, length: f.length };
}

export function inlineFrames(r: InlineResult): Buffer[] {
  return Array.isArray(r) ? r : [Buffer.from(r.bytes, r.offset, r.length)];
}

/** The client's view of one key, shared by every Future object for it. */
export interface KeyState {
  key: string;
  status: FutureStatus;
  error: Error | null;
  inline: InlineResult | null;
  who: string[];
  refs: number;
  waiters: (() => void)[];
  /** `removals` when `who` was learnt (a worker that left since may have been a holder). */
  whoAsOf?: number;
  /** Fingerprint of an explicit key's function, arguments and dependencies (conflict check). */
  fp?: string;
}

/** The shared empty lists a key's state starts with (never changed: replaced on first use). */
export const NO_HOLDERS: string[] = [];
export const NO_WAITERS: (() => void)[] = [];

/** Adds a waiter to a key's state, giving it a list of its own first. */
export function addWaiter(ks: KeyState, waiter: () => void): void {
  if (ks.waiters === NO_WAITERS) ks.waiters = [];
  ks.waiters.push(waiter);
}

/** What a Future needs from its client. */
export interface FutureHost {
  resultOf(key: string): Promise<unknown>;
  cancelKeys(keys: string[]): Promise<void>;
  stateOf(key: string): KeyState;
  releaseRef(key: string, future: object): void;
  whenSettled(key: string): Promise<void>;
}

/**
 * Keeps `future` reachable until `p` settles: the client releases a key when its last Future is
 * garbage collected, and `await submit(f).result()` holds no other reference to it.
 */
function keepAlive<T>(future: object, p: Promise<T>): Promise<T> {
  return p.finally(() => future);
}

/**
 * A task's eventual result. Passing it to another task makes that task depend on it.
 *
 * Not a promise, on purpose: `await future` gives the Future itself; `await future.result()`
 * gives its value. Promises unwrap anything with a `then`, so a thenable Future could not be
 * returned from an async function, yielded by `asCompleted` or handed out by `scatter` as a
 * Future. Printed, a Future says how to get its value.
 */
export class Future<T = unknown> {
  private released = false;
  /** @internal */
  constructor(
    readonly key: string,
    private readonly host: FutureHost,
  ) {}

  get status(): FutureStatus {
    return this.released ? 'cancelled' : this.host.stateOf(this.key).status;
  }

  done(): boolean {
    const s = this.status;
    return s === 'finished' || s === 'error' || s === 'cancelled';
  }

  result(): Promise<T> {
    return keepAlive(this, this.host.resultOf(this.key) as Promise<T>);
  }

  /** The task's error, or null once it finished well. */
  exception(): Promise<Error | null> {
    return keepAlive(
      this,
      this.host.whenSettled(this.key).then(() => this.host.stateOf(this.key).error),
    );
  }

  cancel(): Promise<void> {
    return this.host.cancelKeys([this.key]);
  }

  /** Drops this reference now instead of waiting for garbage collection. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.host.releaseRef(this.key, this);
  }

  toString(): string {
    return `<Future ${this.key} ${this.status}: await future.result() for its value>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
