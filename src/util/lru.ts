/**
 * A map with a bound: past `capacity` entries the least recently used one is dropped.
 *
 * Two sides of a connection keep their caches in step by making the same calls in the same order
 * (the sender `use`s an id for every message that names it and sends its definition when `use`
 * says it was absent; the receiver `set`s every definition and `get`s every use), so the sender
 * always knows what the receiver still has without being told.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  /** The most recently used key: using it again needs no reordering (the common case). */
  private newest: K | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Lru capacity must be a positive integer, got ${capacity}`);
    }
  }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined || key === this.newest) return v;
    this.map.delete(key);
    this.map.set(key, v);
    this.newest = key;
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    this.newest = key;
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }

  /** Marks `key` used; returns whether it was there (when not, it is added with `value`). */
  use(key: K, value: V): boolean {
    if (this.get(key) !== undefined) return true;
    this.set(key, value);
    return false;
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }
}

/** How many function definitions each side of a connection keeps (see Lru). */
export const FN_CACHE_SIZE = 1000;
