import { NO_HOLDERS, NO_WAITERS, type KeyState } from './future';

/**
 * A map's keys (`<name>-<uuid>-<index>`, map-submits.ts) share their prefix: their states sit
 * in one array per map, found by prefix and index, instead of one hash-table entry per key. A
 * 300,000-task map then adds one entry here, not 300,000 (a third of the time `map` took, and
 * about 50 bytes a key).
 */
interface Batch {
  states: (KeyState | undefined)[];
  live: number;
}

/**
 * A new key's state: pending, no references yet, the shared empty lists, and every field it may
 * get later already there (a field added later costs the object a second block of memory).
 */
export function newKeyState(key: string): KeyState {
  return {
    key,
    status: 'pending',
    error: null,
    inline: null,
    who: NO_HOLDERS,
    refs: 0,
    waiters: NO_WAITERS,
    whoAsOf: 0,
  };
}

/** Bound on HolderLists' distinct lists. */
const HOLDER_LISTS = 10_000;

/** One array per distinct list of holders: the results of 300,000 tasks on 4 workers share 4. */
export class HolderLists {
  private readonly lists = new Map<string, string[]>();

  of(who: string[]): string[] {
    if (who.length === 0) return NO_HOLDERS;
    const id = who.length === 1 ? who[0] : who.join('\n');
    let list = this.lists.get(id);
    if (!list) {
      if (this.lists.size >= HOLDER_LISTS) this.lists.clear();
      this.lists.set(id, (list = who));
    }
    return list;
  }
}

/** The client's state of every key it holds futures of: a Map's get/set/has/delete/values. */
export class KeyTable {
  private readonly single = new Map<string, KeyState>();
  /** By prefix (`<name>-<uuid>-`, ending with the last '-' of its keys). */
  private readonly batches = new Map<string, Batch>();

  /** A fresh state (pending, no references yet) for each of `keys`, all `prefix` + index. */
  addBatch(prefix: string, keys: readonly string[]): KeyState[] {
    const states = new Array<KeyState>(keys.length);
    for (let i = 0; i < keys.length; i++) states[i] = newKeyState(keys[i]);
    if (keys.length > 0) this.batches.set(prefix, { states, live: keys.length });
    return states;
  }

  private locate(key: string): { batch: Batch; i: number } | undefined {
    if (this.batches.size === 0) return undefined;
    const at = key.lastIndexOf('-');
    if (at < 0) return undefined;
    const batch = this.batches.get(key.slice(0, at + 1));
    if (!batch) return undefined;
    const i = Number(key.slice(at + 1));
    if (!Number.isInteger(i) || i < 0 || i >= batch.states.length) return undefined;
    return batch.states[i]?.key === key ? { batch, i } : undefined;
  }

  get(key: string): KeyState | undefined {
    const ks = this.single.get(key);
    if (ks !== undefined) return ks;
    const at = this.locate(key);
    return at && at.batch.states[at.i];
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, ks: KeyState): this {
    const at = this.locate(key);
    if (at) at.batch.states[at.i] = ks;
    else this.single.set(key, ks);
    return this;
  }

  delete(key: string): boolean {
    if (this.single.delete(key)) return true;
    const at = this.locate(key);
    if (!at) return false;
    at.batch.states[at.i] = undefined;
    if (--at.batch.live === 0) {
      const ks = key.slice(0, key.lastIndexOf('-') + 1);
      this.batches.delete(ks);
    }
    return true;
  }

  *values(): IterableIterator<KeyState> {
    yield* this.single.values();
    for (const b of this.batches.values()) {
      for (const ks of b.states) if (ks !== undefined) yield ks;
    }
  }

  get size(): number {
    let n = this.single.size;
    for (const b of this.batches.values()) n += b.live;
    return n;
  }
}
