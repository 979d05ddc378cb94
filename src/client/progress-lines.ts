/**
 * What progress() prints, as pure functions of counts and times: no terminal, no clock, no
 * futures. Times are milliseconds on any one clock; `now` is always passed in.
 */

/** One task kind as progress() counts it. */
export interface Kind {
  name: string;
  total: number;
  done: number;
  errors: number;
  /**
   * When the kind's clock started: the first look that found one of its futures settled (null
   * before). The client hears when tasks finish, not when they start, so a kind's first result is
   * the earliest moment known to be its own: a kind that waits for another (its inputs, or a queue
   * behind it) is not charged that wait, as it would be from the start of the whole run.
   */
  start: number | null;
  /** Settled by `start`: they took time before the clock started, so the rate leaves them out. */
  doneAtStart: number;
  /** The look that found every one settled: the kind's clock stops there. */
  end: number | null;
}

export function newKind(name: string, total = 0): Kind {
  return { name, total, done: 0, errors: 0, start: null, doneAtStart: 0, end: null };
}

/** Records what a look at `now` found: `done` settled so far, `errors` of them erred. */
export function note(k: Kind, done: number, errors: number, now: number): void {
  k.done = done;
  k.errors = errors;
  if (k.start === null && done > 0) {
    k.start = now;
    k.doneAtStart = done;
  }
  if (k.end === null && done >= k.total) k.end = now;
}

export interface Figures {
  /** Seconds on the kind's own clock (0 before its first result). */
  elapsed: number;
  /** Results per second since its clock started; null until that can be measured. */
  rate: number | null;
  /** Seconds left at that rate: 0 once all settled, null while unknown. */
  eta: number | null;
}

export function figures(k: Kind, now: number): Figures {
  const elapsed = k.start === null ? 0 : ((k.end ?? now) - k.start) / 1000;
  const rate = elapsed > 0 ? (k.done - k.doneAtStart) / elapsed : null;
  const left = k.total - k.done;
  const eta = left <= 0 ? 0 : rate !== null && rate > 0 ? left / rate : null;
  return { elapsed, rate, eta };
}

/** Seconds as mm:ss (h:mm:ss past an hour); --:-- when unknown. */
export function clock(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(2, '0');
  const ss = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

const RED = '\x1b[31m';
const RESET = '\x1b[0m';
/** Clears the line the cursor is on, from its start. */
const CLEAR_LINE = '\r\x1b[2K';
/** Bars narrower than this are left out: the figures matter more. */
const MIN_BAR = 5;
/** Names are cut to this many columns. */
const MAX_NAME = 30;

/** `s` cut to `n` columns (one per UTF-16 unit: names and figures are plain text). */
function clip(s: string, n: number): string {
  if (s.length <= n) return s;
  return n <= 0 ? '' : `${s.slice(0, n - 1)}…`;
}

/** The column width of the names, for every kind's line to line up. */
export function nameWidth(kinds: readonly Kind[]): number {
  return Math.min(MAX_NAME, Math.max(4, ...kinds.map((k) => k.name.length)));
}

/**
 * One kind's bar, at most `width - 1` columns (a line as wide as the terminal wraps on some, and
 * a wrapped line would leave the cursor, and the colour, on the next one). Colour only around
 * the error count, reset within the line; on a narrow terminal the bar goes first, then colour.
 */
export function barLine(k: Kind, now: number, width: number, names: number): string {
  const f = figures(k, now);
  const name = clip(k.name, names).padEnd(names);
  const rate = f.rate === null ? '?' : f.rate.toFixed(1);
  const tail = ` ${k.done}/${k.total} ${rate}/s ${clock(f.elapsed)} ETA ${clock(f.eta)}`;
  const erred = k.errors > 0 ? `${k.errors} erred` : '';
  const errs = erred ? ` ${erred}` : '';
  const red = erred ? ` ${RED}${erred}${RESET}` : '';
  const room = width - 1;
  const barWidth = room - name.length - ' ||'.length - tail.length - errs.length;
  if (barWidth >= MIN_BAR) {
    const full =
      k.total === 0 ? barWidth : Math.round((Math.min(k.done, k.total) / k.total) * barWidth);
    return `${name} |${'█'.repeat(full)}${' '.repeat(barWidth - full)}|${tail}${red}`;
  }
  const text = `${name}${tail}`;
  if (text.length + errs.length <= room) return `${text}${red}`;
  return clip(`${text}${errs}`, room);
}

/**
 * What one redraw writes: the cursor up over the `drawn` lines of the last one, then each line
 * cleared and written, its colour reset before its newline. The cursor ends below the last line.
 */
export function frame(lines: readonly string[], drawn: number): string {
  const up = drawn > 0 ? `\x1b[${drawn}A` : '';
  return up + lines.map((l) => `${CLEAR_LINE}${l}\n`).join('');
}

/**
 * The line written every few seconds where there is no terminal (a batch job's output file): each
 * kind's counts, then the rate, elapsed time and ETA of the whole run, timed from `runStart`.
 */
export function plainLine(kinds: readonly Kind[], now: number, runStart: number): string {
  const parts = kinds.map((k) => {
    const pct = k.total === 0 ? 100 : Math.floor((100 * k.done) / k.total);
    return `${k.name} ${k.done}/${k.total} (${pct}%)${k.errors ? `, ${k.errors} erred` : ''}`;
  });
  const elapsed = (now - runStart) / 1000;
  const done = kinds.reduce((a, k) => a + k.done, 0);
  const total = kinds.reduce((a, k) => a + k.total, 0);
  const rate = elapsed > 0 ? done / elapsed : 0;
  const eta = done >= total ? 0 : rate > 0 ? (total - done) / rate : null;
  return `progress: ${parts.join('; ')}; ${rate.toFixed(1)} tasks/s, elapsed ${clock(elapsed)}, ETA ${clock(eta)}\n`;
}
