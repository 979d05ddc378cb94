import { OptionError } from '../errors';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration as users write it, like Dask: a number in `unit`, or a string with its unit
 * ('500ms', '60s', '1.5s', '5m', '1h'; a bare '60' is in `unit` too). Returns milliseconds.
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
    throw new OptionError(
      `${name} must be a duration: a number of ${unit === 'ms' ? 'milliseconds' : 'seconds'}, or with a unit (500ms, 60s, 5m, 1h); got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}
