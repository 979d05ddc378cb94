/**
 * Lazy task graphs (Dask's `dask.delayed`): `delayed(fn)` gives a function whose calls build
 * nodes instead of running; `delayed(value)` wraps data. Nothing reaches a cluster until
 * `compute` or `persist` (run.ts) hands the graph over whole.
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { OptionError } from '../errors';
import type { FnSpec } from '../protocol';
import { fnName, fnSpecOf, isModuleFunction, type TaskFunction } from '../client/fnspec';
import type { Future } from '../client/future';
import { validateTaskOptions } from '../client/task-options';
import { DELAYED, isDelayed, type GraphNode, type NodeTaskOptions } from './types';
import { scan } from './walk';
import { contentHash } from './keys';
import { computeGraph, persistGraph, type GraphRunOptions } from './run';
import { toDot } from './dot';

/** Options of `delayed(fn, options)` and `delayed(value, options)`. */
export interface DelayedOptions {
  /** Default true: the same function and arguments give the same key, computed once. */
  pure?: boolean;
  /** An explicit key for every call (use it for a function called once). */
  key?: string;
  /** The key's prefix instead of the function's name (Dask's `name`). */
  name?: string;
  retries?: number;
  priority?: number;
  resources?: Record<string, number>;
  workers?: string | string[];
}

/** A value, or something that stands for it in a graph: a node, a future, and inside arrays. */
export type Lazy<T> =
  | T
  | Delayed<T>
  | Future<T>
  | (T extends readonly unknown[]
      ? { [I in keyof T]: Lazy<T[I]> }
      : T extends Record<string, unknown>
        ? { [K in keyof T]: Lazy<T[K]> }
        : never);

/** What compute gives for a structure of nodes and futures: the same shape, with their values. */
export type Computed<T> =
  T extends Delayed<infer R>
    ? R
    : T extends Future<infer R>
      ? R
      : T extends readonly unknown[]
        ? { [I in keyof T]: Computed<T[I]> }
        : T extends Record<string, unknown>
          ? { [K in keyof T]: Computed<T[K]> }
          : T;

/** What persist gives: the same shape with a Future for each node. */
export type Persisted<T> =
  T extends Delayed<infer R>
    ? Future<R>
    : T extends readonly unknown[]
      ? { [I in keyof T]: Persisted<T[I]> }
      : T extends Record<string, unknown>
        ? { [K in keyof T]: Persisted<T[K]> }
        : T;

type AnyFn = (...args: never[]) => unknown;
type LazyArgs<F> = F extends (...args: infer A) => unknown ? { [I in keyof A]: Lazy<A[I]> } : never;
/** A `delayed(fn)`: calling it builds a node. */
export type LazyFunction<F extends AnyFn> = (
  ...args: LazyArgs<F>
) => Delayed<Awaited<ReturnType<F>>>;

const OPTION_NAMES = new Set([
  'pure',
  'key',
  'name',
  'retries',
  'priority',
  'resources',
  'workers',
]);

interface Resolved {
  pure: boolean;
  key?: string;
  name?: string;
  task: NodeTaskOptions;
}

function resolveOptions(o: DelayedOptions | undefined): Resolved {
  if (o === undefined) return { pure: true, task: {} };
  if (typeof o !== 'object' || o === null)
    throw new OptionError('delayed options must be an object');
  for (const k of Object.keys(o)) {
    if (!OPTION_NAMES.has(k))
      throw new OptionError(
        `unknown delayed option "${k}"; known: ${[...OPTION_NAMES].join(', ')}`,
      );
  }
  if (o.name !== undefined && (typeof o.name !== 'string' || !/^[^-\s]+$/.test(o.name)))
    throw new OptionError('delayed options.name must be a non-empty string without "-" or spaces');
  if (o.pure !== undefined && typeof o.pure !== 'boolean')
    throw new OptionError(`delayed options.pure must be a boolean, got ${typeof o.pure}`);
  const { key, retries, priority, resources, workers } = validateTaskOptions({
    key: o.key,
    retries: o.retries,
    priority: o.priority,
    resources: o.resources,
    workers: o.workers,
  });
  const task: NodeTaskOptions = {};
  if (retries !== 0) task.retries = retries;
  if (priority !== 0) task.priority = priority;
  if (resources !== undefined) task.resources = resources;
  if (workers !== undefined) task.workers = workers;
  return { pure: o.pure !== false, key, name: o.name, task };
}

/** A lazy call or datum: build graphs with `delayed`, run them with `compute` or `persist`. */
export class Delayed<T = unknown> implements GraphNode {
  readonly [DELAYED] = true as const;
  /** Never set: ties the node's value type to it. */
  declare readonly __value?: T;
  readonly key: string;
  readonly fnId: string;
  readonly spec: FnSpec;
  readonly deps: readonly GraphNode[];
  readonly hasFutures: boolean;
  readonly explicitKey: boolean;
  readonly pure: boolean;
  readonly taskOptions: NodeTaskOptions;

  /** @internal */
  constructor(
    readonly fn: TaskFunction,
    readonly args: readonly unknown[],
    options: Resolved,
    readonly name: string,
    readonly literal: boolean,
  ) {
    const { id, spec } = fnSpecOf(fn);
    this.fnId = id;
    this.spec = spec;
    const found = scan(args);
    this.deps = found.nodes;
    this.hasFutures = found.hasFutures;
    this.explicitKey = options.key !== undefined;
    this.pure = options.pure;
    this.taskOptions = options.task;
    this.key =
      options.key ??
      (options.pure ? `${name}-${contentHash(id, args)}` : `${name}-${randomUUID()}`);
  }

  /** The value, computed on `options.client`, else on the last client that connected. */
  compute(options: GraphRunOptions = {}): Promise<T> {
    return computeGraph(this, options) as Promise<T>;
  }

  /** Submits the graph and returns the node's Future at once (Dask's persist). */
  persist(options: GraphRunOptions = {}): Future<T> {
    return persistGraph(this, options) as Future<T>;
  }

  /** Graphviz text of this node's graph (Dask's visualize): `dot -Tsvg` draws it. */
  toDot(): string {
    return toDot([this]);
  }

  toString(): string {
    return `<Delayed ${this.key}: await node.compute() for its value>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** Returns its argument: what a `delayed(value)` node runs (collecting nodes inside it). */
function identity(x: unknown): unknown {
  return x;
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  const ctor = (v as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor !== 'Object' ? ctor.toLowerCase() : 'object';
}

/**
 * `delayed(fn, options?)`: a function whose calls build nodes; arguments may be values, nodes
 * and futures, also inside arrays and plain objects. `delayed(value, options?)`: a node of the
 * data (a structure holding nodes becomes a node of their values in that shape).
 */
export function delayed<F extends AnyFn>(fn: F, options?: DelayedOptions): LazyFunction<F>;
export function delayed(
  fn: TaskFunction,
  options?: DelayedOptions,
): (...args: unknown[]) => Delayed<unknown>;
export function delayed<T>(value: T, options?: DelayedOptions): Delayed<Computed<T>>;
export function delayed(target: unknown, options?: DelayedOptions): unknown {
  const resolved = resolveOptions(options);
  if (typeof target === 'function' || isModuleFunction(target)) {
    const fn = target as TaskFunction;
    fnSpecOf(fn); // a closure is refused here, where it is written, not at compute
    const name = resolved.name ?? fnName(fn);
    return (...args: unknown[]) => new Delayed(fn, args, resolved, name, false);
  }
  if (isDelayed(target)) return target;
  const { nodes, hasFutures } = scan(target);
  const literal = nodes.length === 0 && !hasFutures;
  return new Delayed(identity, [target], resolved, resolved.name ?? typeName(target), literal);
}
