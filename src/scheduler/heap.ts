/** Items of an IndexedHeap carry their position, so one can be removed in O(log n). */
export interface HeapItem {
  /** Position in the heap that holds the item; -1 when in none. */
  heapIndex: number;
}

/**
 * A binary min-heap ordered by `less`, whose items know where they are: `remove(item)` takes any
 * item out in O(log n), so queued tasks that are cancelled or released leave no stale entries.
 * An item is in at most one heap at a time.
 */
export class IndexedHeap<T extends HeapItem> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (item.heapIndex >= 0) throw new Error('heap item is already in a heap');
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Every item, in no particular order. */
  values(): IterableIterator<T> {
    return this.items.values();
  }

  /** Takes `item` out if this heap holds it; returns whether it did. */
  remove(item: T): boolean {
    const i = item.heapIndex;
    if (i < 0 || this.items[i] !== item) return false;
    this.removeAt(i);
    return true;
  }

  private removeAt(i: number): void {
    const a = this.items;
    const gone = a[i];
    const last = a.pop() as T;
    gone.heapIndex = -1;
    if (i < a.length) {
      a[i] = last;
      last.heapIndex = i;
      this.down(i);
      this.up(last.heapIndex);
    }
  }

  private up(i: number): void {
    const a = this.items;
    const item = a[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(item, a[p])) break;
      a[i] = a[p];
      a[i].heapIndex = i;
      i = p;
    }
    a[i] = item;
    item.heapIndex = i;
  }

  private down(i: number): void {
    const a = this.items;
    const item = a[i];
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(a[r], a[l]) ? r : l;
      if (!this.less(a[c], item)) break;
      a[i] = a[c];
      a[i].heapIndex = i;
      i = c;
    }
    a[i] = item;
    item.heapIndex = i;
  }
}
