/**
 * What the graph modules share about a lazy node, without importing the Delayed class (whose
 * methods import the modules that plan and submit graphs: a value import back would be a circle).
 */
import type { FnSpec } from '../protocol';
import type { TaskFunction } from '../client/fnspec';

/** Brands a Delayed node; Symbol.for, so a node from another copy of this package still counts. */
export const DELAYED: unique symbol = Symbol.for('mpi-cluster.delayed') as never;

/** The per-task options a node is submitted with (a subset of TaskOptions). */
export interface NodeTaskOptions {
  retries?: number;
  priority?: number;
  resources?: Record<string, number>;
  workers?: string[];
}

export interface GraphNode {
  readonly [DELAYED]: true;
  /** Logical key: the same function and arguments give the same key (unless `pure: false`). */
  readonly key: string;
  /** The key's prefix: the function's name, or the data's type for `delayed(value)`. */
  readonly name: string;
  readonly fn: TaskFunction;
  readonly fnId: string;
  readonly spec: FnSpec;
  /** Arguments as given: nodes and futures may sit inside arrays and plain objects. */
  readonly args: readonly unknown[];
  /** Nodes among the arguments (any depth), each once, in the order first met. */
  readonly deps: readonly GraphNode[];
  /** Whether futures sit among the arguments (dependencies outside the graph). */
  readonly hasFutures: boolean;
  /** `delayed(value)` of plain data (no nodes or futures in it): it can be inlined. */
  readonly literal: boolean;
  /** Whether `key` was given explicitly (`delayed(fn, { key })`). */
  readonly explicitKey: boolean;
  /** `pure: false`: a random key, computed anew each time. */
  readonly pure: boolean;
  readonly taskOptions: NodeTaskOptions;
}

export function isDelayed(v: unknown): v is GraphNode {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    (v as { [DELAYED]?: unknown })[DELAYED] === true
  );
}
