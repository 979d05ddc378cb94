import { randomUUID } from 'node:crypto';
import * as v8 from 'node:v8';
import type { OpSource } from '../net/outbox';
import type { Envelope, TaskSpecWire } from '../protocol';
import type { ResolvedTaskOptions } from './task-options';

/**
 * A large map's submits, made in the background (issue 23, items 3 and 5): `map` creates the
 * futures and returns; the client's Outbox asks this source for the submits when their turn to
 * be sent comes, a message at a time, so packing 300,000 arguments never blocks the caller and
 * the packed bytes of a message are garbage as soon as it is sent.
 *
 * Only arguments that are all scalars come here (isScalarArgs): structured clone takes every
 * one of them, so packing them later cannot fail, and none can be a future (no dependencies).
 */

/** A serializer serves this many tasks before a new one (it remembers every array it wrote). */
const SERIALIZER_REUSE = 1000;

/** Whether every argument is a value that packing always takes and that holds nothing inside. */
export function isScalarArgs(columns: readonly unknown[][], n: number): boolean {
  for (const col of columns) {
    for (let i = 0; i < n; i++) {
      const v = col[i];
      const t = typeof v;
      if (!(
        v === null ||
        t === 'number' ||
        t === 'string' ||
        t === 'boolean' ||
        t === 'undefined' ||
        t === 'bigint'
      ))
        return false;
    }
  }
  return true;
}

/**
 * `n` fresh keys `<prefix><i>`, the prefix `name-<uuid>-`: one random id per map, unique per
 * task by its index (the client's KeyTable keeps them as one batch by that prefix).
 */
export function mapKeys(name: string, n: number): { prefix: string; keys: string[] } {
  const prefix = `${name}-${randomUUID()}-`;
  const keys = new Array<string>(n);
  for (let i = 0; i < n; i++) keys[i] = prefix + i;
  return { prefix, keys };
}

export class MapSubmits implements OpSource {
  private at = 0;
  private serializer = new v8.Serializer();
  private served = 0;
  private columns: unknown[][] | null;

  /**
   * @param keys the tasks' keys, in argument order
   * @param columns one array per iterable of `map` (task i's arguments are `columns[*][i]`)
   * @param fn the function's id (defined with the scheduler before this source was posted)
   */
  constructor(
    private readonly keys: readonly string[],
    columns: unknown[][],
    private readonly fn: string,
    private readonly opts: ResolvedTaskOptions,
  ) {
    this.columns = columns;
  }

  get left(): number {
    return this.keys.length - this.at;
  }

  next(): Envelope | null {
    const columns = this.columns;
    if (columns === null) return null;
    if (this.at >= this.keys.length) {
      this.columns = null; // the arguments are garbage once the last submit is made
      return null;
    }
    const i = this.at++;
    const args = new Array<unknown>(columns.length);
    for (let c = 0; c < columns.length; c++) args[c] = columns[c][i];
    if (this.served++ === SERIALIZER_REUSE) {
      this.serializer = new v8.Serializer();
      this.served = 1;
    }
    // The format v8.serialize writes; a reused plain Serializer is several times cheaper per
    // value than v8.serialize, and these values hold no buffers (the default's host objects).
    this.serializer.writeHeader();
    this.serializer.writeValue(args);
    const frame = this.serializer.releaseBuffer();
    const o = this.opts;
    const task: TaskSpecWire = {
      key: this.keys[i],
      fn: this.fn,
      deps: [],
      priority: o.priority,
      retries: o.retries,
      nf: 1,
    };
    if (o.workers) task.workers = o.workers;
    if (o.resources) task.resources = o.resources;
    if (o.ranks !== undefined) task.ranks = o.ranks;
    return { op: { t: 'submit', task }, frames: [frame] };
  }
}
