import { OptionError } from '../errors';

/** Milliseconds per unit, largest first (formatDuration picks the largest that is exact). */
const UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** The forms a duration may take, for help texts and error messages. */
export const DURATION_FORMS = '500ms, 60s, 1.5s, 5m, 1h';

/**
 * A duration as users write it, like Dask: a number in `unit`, or a string with its unit
 * ('500ms', '60s', '1.5s', '5m', '1h'; a bare '60' is in `unit` too). Returns milliseconds.
 * Anything else (a negative, NaN, Infinity, '10 parsecs') is an OptionError naming `name`.
 */
export function parseDuration(
  value: number | string,
  { name, unit }: { name: string; unit: 'ms' | 's' },
): number {
  let ms: number;
  if (typeof value === 'number') ms = value * UNITS[unit];
  else {
    const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$/.exec(String(value));
    ms = m ? Number(m[1]) * UNITS[m[2] ?? unit] : NaN;
  }
  if (!(ms >= 0) || !Number.isFinite(ms)) {
    const got = typeof value === 'string' ? JSON.stringify(value) : String(value);
    throw new OptionError(
      `${name} must be a duration: a number of ${unit === 'ms' ? 'milliseconds' : 'seconds'}, or with a unit (${DURATION_FORMS}); got ${got}`,
    );
  }
  return ms;
}

/** Milliseconds as a user would write them, in the largest unit that is exact: 300000 -> '5m'. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of Object.entries(UNITS)) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
