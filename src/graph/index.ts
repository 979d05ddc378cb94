/** Lazy task graphs (issue 22): delayed, compute, persist, toDot. */
import { computeGraph, persistGraph } from './run';
import type { Computed, Persisted } from './node';

export {
  delayed,
  Delayed,
  type DelayedOptions,
  type Lazy,
  type LazyFunction,
  type Computed,
  type Persisted,
} from './node';
export type { GraphRunOptions } from './run';
export { planGraph, type Plan, type PlannedTask } from './plan';
export { noteClient } from './default-client';

/** Values of the nodes given, on the last client that connected (Dask's `dask.compute`). */
export function compute<T>(value: T): Promise<Computed<T>>;
export function compute<T extends unknown[]>(...values: T): Promise<Computed<T>>;
export function compute(...values: unknown[]): Promise<unknown> {
  return computeGraph(values.length === 1 ? values[0] : values);
}

/** Futures of the nodes given, on the last client that connected (Dask's `dask.persist`). */
export function persist<T>(value: T): Persisted<T>;
export function persist<T extends unknown[]>(...values: T): Persisted<T>;
export function persist(...values: unknown[]): unknown {
  return persistGraph(values.length === 1 ? values[0] : values);
}
