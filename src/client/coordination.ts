/**
 * Coordination between tasks and clients (issue 22, item 5), as Dask's distributed.Variable,
 * Queue, Event, Lock, Semaphore and publish_dataset: named things the scheduler holds
 * (scheduler/coordination.ts), gone with it. Each class takes a client; without one it uses the
 * default client: the last one connected in this process.
 *
 * From inside a task: until a task can get its worker's client (getClient, issue 22 item 4), a
 * task connects its own, `await Client.connect({ address, security })` with the scheduler's
 * address and keys passed in as arguments, and passes it to the classes (the default client is
 * per process, and tasks running side by side in one worker process would share it: a Lock taken
 * through another task's client is released when that task closes it).
 *
 * Values are anything pack() takes, futures included: a future inside a held value keeps its key
 * alive on the scheduler, and whoever takes the value gets a future of its own client.
 */
import { randomUUID } from 'node:crypto';
import { ClusterError, OptionError, type ErrorCode } from '../errors';
import { pack, unpack, type CoordAction, type Envelope, type OpOf } from '../protocol';
import { parseDuration } from '../util/duration';
import type { Client } from './client';
import { Future } from './future';
import { defaultClient as lastClient } from '../graph/default-client';
import type { Duration } from './target';

/** The most characters in a name: the scheduler's bound (COORD_LIMITS.maxName). */
const MAX_NAME = 256;

/** A coordination request as a class builds it (the client adds req, keys and frames). */
export interface CoordRequest {
  action: CoordAction;
  name: string;
  token?: string;
  timeout?: number;
  max?: number;
  override?: number;
}

/** The scheduler's answer, with its value unpacked (futures adopted by the client). */
export type CoordResult = OpOf<'coord-reply'> & { value?: unknown };

// ---------------------------------------------------------------- the default client

/**
 * The client a class without one uses: the last one connected in this process (the same one
 * node.compute() takes, graph/default-client.ts); a closed one refuses with ERR_CLIENT_CLOSED.
 */
export function defaultClient(): Client {
  try {
    return lastClient();
  } catch {
    throw new ClusterError(
      'ERR_NO_CLIENT',
      'no client is connected in this process: connect one first (Client.connect(...)), or pass a client; inside a task, connect one with the scheduler address and keys passed in as arguments',
    );
  }
}

// ---------------------------------------------------------------- wire helpers

/** @internal A value packed for the scheduler, with the keys of the futures inside it. */
export function packValue(value: unknown): { frames: Buffer[]; keys: string[] } {
  const keys = new Set<string>();
  const frames = pack(value, {
    futureKey: (v) => {
      if (!(v instanceof Future)) return undefined;
      keys.add(v.key);
      return v.key;
    },
  });
  return { frames, keys: [...keys] };
}

/**
 * @internal Settles a request from its reply, at once: futures inside the value are made (and
 * tracked by `adopt`) before the key-done notices that follow the reply in the same message.
 */
export function settleReply(
  op: OpOf<'coord-reply'>,
  frames: Buffer[],
  adopt: (key: string) => Future,
  pending: { resolve: (op: Envelope['op']) => void; reject: (err: Error) => void },
): void {
  if (op.error) {
    const code = (op.error.code ?? 'ERR_INTERNAL') as ErrorCode;
    return pending.reject(new ClusterError(code, op.error.message));
  }
  let value: unknown;
  try {
    value = frames.length > 0 ? unpack(frames, adopt) : undefined;
  } catch (err) {
    return pending.reject(
      new ClusterError('ERR_PROTOCOL', `a coordination value could not be unpacked: ${err}`),
    );
  }
  const result: CoordResult = { ...op, value };
  pending.resolve(result);
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) {
    throw new OptionError(`${what}: name must be a string of 1 to ${MAX_NAME} characters`);
  }
  return name;
}

function ms(timeout: Duration | undefined, what: string): number | undefined {
  return timeout === undefined
    ? undefined
    : parseDuration(timeout, { name: `${what}: timeout`, unit: 'ms' });
}

/** What the classes share: a name, a client (or the default) and a request. */
abstract class Named {
  readonly name: string;
  constructor(
    kind: string,
    name: string,
    private readonly given?: Client,
  ) {
    this.name = checkName(name, kind);
  }

  get client(): Client {
    return this.given ?? defaultClient();
  }

  protected ask(req: Omit<CoordRequest, 'name'>, value?: { v: unknown }): Promise<CoordResult> {
    return this.client.coordinate({ ...req, name: this.name }, value);
  }
}

// ---------------------------------------------------------------- the primitives

/** A named value any client or task can set and get (Dask's Variable). */
export class Variable<T = unknown> extends Named {
  constructor(name: string, client?: Client) {
    super('Variable', name, client);
  }

  /** Sets the value (futures in it are kept alive while it is set); waiting gets get it. */
  async set(value: T): Promise<void> {
    await this.ask({ action: 'var-set' }, { v: value });
  }

  /** The value; waits until one is set, at most `timeout` (then ERR_TIMEOUT). */
  async get(timeout?: Duration): Promise<T> {
    const r = await this.ask({ action: 'var-get', timeout: ms(timeout, 'Variable.get') });
    return r.value as T;
  }

  /** Forgets the value (its futures are let go). */
  async delete(): Promise<void> {
    await this.ask({ action: 'var-delete' });
  }
}

/** A named first-in first-out queue (Dask's Queue), at most `maxsize` items. */
export class Queue<T = unknown> extends Named {
  readonly maxsize: number | undefined;
  constructor(name: string, options: { maxsize?: number; client?: Client } = {}) {
    super('Queue', name, options.client);
    const m = options.maxsize;
    if (m !== undefined && m !== 0 && !(Number.isInteger(m) && m > 0)) {
      throw new OptionError(
        `Queue: maxsize must be a positive integer (0: the scheduler's bound), got ${m}`,
      );
    }
    this.maxsize = m || undefined;
  }

  /** Adds an item; waits while the queue is full, at most `timeout` (then ERR_TIMEOUT). */
  async put(value: T, timeout?: Duration): Promise<void> {
    await this.ask(
      { action: 'queue-put', max: this.maxsize, timeout: ms(timeout, 'Queue.put') },
      { v: value },
    );
  }

  /** Takes the first item; waits for one, at most `timeout` (then ERR_TIMEOUT). */
  async get(timeout?: Duration): Promise<T> {
    const r = await this.ask({ action: 'queue-get', timeout: ms(timeout, 'Queue.get') });
    return r.value as T;
  }

  /** How many items wait in the queue. */
  async qsize(): Promise<number> {
    return (await this.ask({ action: 'queue-size' })).n ?? 0;
  }
}

/** A named flag that clients and tasks wait on (Dask's Event). */
export class Event extends Named {
  constructor(name: string, client?: Client) {
    super('Event', name, client);
  }

  /** Sets the flag: every waiter wakes, and later waits return at once. */
  async set(): Promise<void> {
    await this.ask({ action: 'event-set' });
  }

  async clear(): Promise<void> {
    await this.ask({ action: 'event-clear' });
  }

  /** Waits until the flag is set: true, or false after `timeout`. */
  async wait(timeout?: Duration): Promise<boolean> {
    return (
      (await this.ask({ action: 'event-wait', timeout: ms(timeout, 'Event.wait') })).flag === 1
    );
  }

  async isSet(): Promise<boolean> {
    return (await this.ask({ action: 'event-is-set' })).flag === 1;
  }
}

/**
 * A named lock (Dask's Lock). Each Lock object is its own holder (not reentrant); a lock whose
 * client leaves is released.
 */
export class Lock extends Named {
  private readonly token = randomUUID();
  constructor(name: string, client?: Client) {
    super('Lock', name, client);
  }

  /** Takes the lock: true, or false after `timeout` (0: do not wait). */
  async acquire(timeout?: Duration): Promise<boolean> {
    const timeoutMs = ms(timeout, 'Lock.acquire');
    return (
      (await this.ask({ action: 'lock-acquire', token: this.token, timeout: timeoutMs })).flag === 1
    );
  }

  /** Lets go; ERR_COORD_MISUSE when this object does not hold it. */
  async release(): Promise<void> {
    await this.ask({ action: 'lock-release', token: this.token });
  }

  /** Whether anyone holds it. */
  async locked(): Promise<boolean> {
    return (await this.ask({ action: 'lock-locked' })).flag === 1;
  }
}

/**
 * A named semaphore of `maxLeases` leases (Dask's Semaphore). Each Semaphore object is its own
 * holder; the leases of a client that leaves are freed.
 */
export class Semaphore extends Named {
  private readonly token = randomUUID();
  constructor(
    name: string,
    readonly maxLeases = 1,
    client?: Client,
  ) {
    super('Semaphore', name, client);
    if (!Number.isInteger(maxLeases) || maxLeases < 1) {
      throw new OptionError(`Semaphore: maxLeases must be a positive integer, got ${maxLeases}`);
    }
  }

  /** Takes a lease: true, or false after `timeout` (0: do not wait). */
  async acquire(timeout?: Duration): Promise<boolean> {
    const timeoutMs = ms(timeout, 'Semaphore.acquire');
    const r = await this.ask({
      action: 'sem-acquire',
      token: this.token,
      max: this.maxLeases,
      timeout: timeoutMs,
    });
    return r.flag === 1;
  }

  /** Gives one lease of this object back; ERR_COORD_MISUSE when it holds none. */
  async release(): Promise<void> {
    await this.ask({ action: 'sem-release', token: this.token });
  }

  /** Leases taken now, by every holder. */
  async getValue(): Promise<number> {
    return (await this.ask({ action: 'sem-value' })).n ?? 0;
  }
}

// ---------------------------------------------------------------- datasets (Client methods)

/** @internal Client.publishDataset. */
export async function publishDataset(
  client: Client,
  name: string,
  value: unknown,
  options: { override?: boolean } = {},
): Promise<void> {
  checkName(name, 'publishDataset');
  const override = options.override ? 1 : undefined;
  await client.coordinate({ action: 'dataset-publish', name, override }, { v: value });
}

/** @internal Client.getDataset. */
export async function getDataset(client: Client, name: string): Promise<unknown> {
  checkName(name, 'getDataset');
  return (await client.coordinate({ action: 'dataset-get', name })).value;
}

/** @internal Client.listDatasets. */
export async function listDatasets(client: Client): Promise<string[]> {
  return (await client.coordinate({ action: 'dataset-list', name: '' })).names ?? [];
}

/** @internal Client.unpublishDataset. */
export async function unpublishDataset(client: Client, name: string): Promise<void> {
  checkName(name, 'unpublishDataset');
  await client.coordinate({ action: 'dataset-unpublish', name });
}
