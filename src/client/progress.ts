import { OptionError } from '../errors';
import { keyPrefix } from '../util/key-prefix';
import { Future } from './future';
import { barLine, frame, nameWidth, newKind, note, plainLine, type Kind } from './progress-lines';

export interface ProgressOptions {
  /** Where it draws. Default: process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** How often it redraws (ms): default 200 on a terminal, 5000 otherwise (one line each time). */
  interval?: number;
}

type Futures =
  Future<unknown> | Future<unknown>[] | Record<string, Future<unknown> | Future<unknown>[]>;

interface Group {
  kind: Kind;
  /** Futures not yet settled; shrinks as they settle, so each look costs what is left. */
  pending: Future<unknown>[];
}

function groups(futures: Futures): Group[] {
  const byName = new Map<string, Group>();
  const add = (name: string | null, f: Future<unknown>) => {
    const n = name ?? keyPrefix(f.key);
    let g = byName.get(n);
    if (!g) byName.set(n, (g = { kind: newKind(n), pending: [] }));
    g.kind.total += 1;
    g.pending.push(f);
  };
  if (Array.isArray(futures)) for (const f of futures) add(null, f);
  else if (futures instanceof Future) add(null, futures);
  else if (futures && typeof futures === 'object') {
    for (const [name, v] of Object.entries(futures))
      for (const f of Array.isArray(v) ? v : [v]) add(name, f);
  } else
    throw new OptionError(
      'progress(futures): give a Future, an array of them, or { name: futures }',
    );
  return [...byName.values()];
}

/** Counts what settled since the last look, at `now`; true once every future has. */
function look(gs: Group[], now: number): boolean {
  let all = true;
  for (const g of gs) {
    const still: Future<unknown>[] = [];
    let { done, errors } = g.kind;
    for (const f of g.pending) {
      const s = f.status;
      if (s === 'pending') still.push(f);
      else {
        done += 1;
        if (s === 'error') errors += 1;
      }
    }
    g.pending = still;
    note(g.kind, done, errors, now);
    if (still.length > 0) all = false;
  }
  return all;
}

/**
 * Keeps a wait on one pending future: a client that nobody awaits reads the scheduler's news only
 * every half second, so without it results would reach the looks in batches, and a kind's clock
 * would start up to that late.
 */
function keepReading(gs: Group[]): void {
  // Only a pending one: the wait on any other resolves at once, and this would spin.
  for (const g of gs) {
    const f = g.pending.find((x) => x.status === 'pending');
    if (f) {
      void f.exception().then(() => keepReading(gs));
      return;
    }
  }
}

/**
 * Shows how `futures` get on, by task kind (their function's name, or the names of an object
 * `{ name: futures }`): bars redrawn on a terminal (done/total, rate, elapsed, ETA, errors in red),
 * one plain line every few seconds otherwise (a batch job's output file). A kind's rate, elapsed
 * time and ETA run on its own clock, from its first result, so a kind that starts late (after the
 * one it depends on) is timed on its own; the plain line's figures are the whole run's. Resolves
 * once all have settled, erred or not (their results stay with the futures).
 */
export async function progress(futures: Futures, options: ProgressOptions = {}): Promise<void> {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const interval = options.interval ?? (tty ? 200 : 5000);
  if (typeof interval !== 'number' || !(interval >= 10)) {
    throw new OptionError(
      `progress interval must be at least 10 ms, got ${JSON.stringify(options.interval)}`,
    );
  }
  const gs = groups(futures);
  const kinds = gs.map((g) => g.kind);
  const start = Date.now();
  const names = nameWidth(kinds);
  let drawn = 0;
  const draw = (now: number) => {
    if (!tty) {
      stream.write(plainLine(kinds, now, start));
      return;
    }
    // A pseudo-terminal nobody sized reports 0 columns.
    const width = stream.columns || 80;
    stream.write(
      frame(
        kinds.map((k) => barLine(k, now, width, names)),
        drawn,
      ),
    );
    drawn = kinds.length;
  };
  let finished = look(gs, start);
  if (tty) draw(start);
  keepReading(gs);
  let lastPlain = start;
  while (!finished) {
    await new Promise((r) => setTimeout(r, Math.min(interval, 200)));
    const now = Date.now();
    finished = look(gs, now);
    if (tty) draw(now);
    else if (now - lastPlain >= interval) {
      lastPlain = now;
      draw(now);
    }
  }
  if (!tty) draw(Date.now());
}
