import { OptionError } from '../errors';
import { keyPrefix } from '../util/key-prefix';
import { Future } from './future';

export interface ProgressOptions {
  /** Where it draws. Default: process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** How often it redraws (ms): default 200 on a terminal, 5000 otherwise (one line each time). */
  interval?: number;
}

type Futures =
  Future<unknown> | Future<unknown>[] | Record<string, Future<unknown> | Future<unknown>[]>;

interface Group {
  name: string;
  total: number;
  done: number;
  errors: number;
  /** Futures not yet settled; shrinks as they settle, so each look costs what is left. */
  pending: Future<unknown>[];
}

function groups(futures: Futures): Group[] {
  const byName = new Map<string, Group>();
  const add = (name: string | null, f: Future<unknown>) => {
    const n = name ?? keyPrefix(f.key);
    let g = byName.get(n);
    if (!g) byName.set(n, (g = { name: n, total: 0, done: 0, errors: 0, pending: [] }));
    g.total += 1;
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

/** Counts what settled since the last look; true once every future has. */
function look(gs: Group[]): boolean {
  let all = true;
  for (const g of gs) {
    const still: Future<unknown>[] = [];
    for (const f of g.pending) {
      const s = f.status;
      if (s === 'pending') still.push(f);
      else {
        g.done += 1;
        if (s === 'error') g.errors += 1;
      }
    }
    g.pending = still;
    if (still.length > 0) all = false;
  }
  return all;
}

const clock = (s: number) => {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(2, '0');
  const ss = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
};

function figures(g: Group, elapsed: number): { rate: number; eta: number } {
  const rate = elapsed > 0 ? g.done / elapsed : 0;
  return { rate, eta: rate > 0 ? (g.total - g.done) / rate : Infinity };
}

const RED = '\x1b[31m';
const RESET = '\x1b[0m';

function barLine(g: Group, elapsed: number, width: number, nameWidth: number): string {
  const { rate, eta } = figures(g, elapsed);
  const tail = ` ${g.done}/${g.total} ${rate.toFixed(1)}/s ${clock(elapsed)} ETA ${g.done === g.total ? '00:00' : clock(eta)}`;
  const errs = g.errors > 0 ? ` ${RED}${g.errors} erred${RESET}` : '';
  const barWidth = Math.max(10, width - nameWidth - tail.length - 12);
  const full = g.total === 0 ? barWidth : Math.round((g.done / g.total) * barWidth);
  return `${g.name.padEnd(nameWidth)} |${'█'.repeat(full)}${' '.repeat(barWidth - full)}|${tail}${errs}`;
}

function plainLine(gs: Group[], elapsed: number): string {
  const parts = gs.map((g) => {
    const pct = g.total === 0 ? 100 : Math.floor((100 * g.done) / g.total);
    return `${g.name} ${g.done}/${g.total} (${pct}%)${g.errors ? `, ${g.errors} erred` : ''}`;
  });
  const done = gs.reduce((a, g) => a + g.done, 0);
  const total = gs.reduce((a, g) => a + g.total, 0);
  const rate = elapsed > 0 ? done / elapsed : 0;
  const eta = rate > 0 ? (total - done) / rate : Infinity;
  return `progress: ${parts.join('; ')}; ${rate.toFixed(1)} tasks/s, elapsed ${clock(elapsed)}, ETA ${done === total ? '00:00' : clock(eta)}\n`;
}

/**
 * Shows how `futures` get on, by task kind (their function's name, or the names of an object
 * `{ name: futures }`): bars redrawn on a terminal (done/total, rate, elapsed, ETA, errors in red),
 * one plain line every few seconds otherwise (a batch job's output file). Resolves once all have
 * settled, erred or not (their results stay with the futures).
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
  const start = Date.now();
  const nameWidth = Math.min(30, Math.max(...gs.map((g) => g.name.length), 4));
  let drawn = 0;
  const draw = (last: boolean) => {
    const elapsed = (Date.now() - start) / 1000;
    if (!tty) {
      stream.write(plainLine(gs, elapsed));
      return;
    }
    const width = Math.max(40, stream.columns ?? 80);
    const up = drawn > 0 ? `\x1b[${drawn}A` : '';
    const lines = gs.map((g) => `\r\x1b[2K${barLine(g, elapsed, width, nameWidth)}`);
    stream.write(`${up}${lines.join('\n')}\n`);
    drawn = gs.length;
    if (last) drawn = 0;
  };
  let finished = look(gs);
  if (tty) draw(finished);
  let lastPlain = Date.now();
  while (!finished) {
    await new Promise((r) => setTimeout(r, Math.min(interval, 200)));
    finished = look(gs);
    if (tty) draw(finished);
    else if (Date.now() - lastPlain >= interval) {
      lastPlain = Date.now();
      draw(false);
    }
  }
  if (!tty) draw(true);
}
