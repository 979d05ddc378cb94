import { formatDuration, parseDuration } from '../../src/util/duration';

const s = { name: '--death-timeout', unit: 's' } as const;
const ms = { name: 'timeout', unit: 'ms' } as const;

test('a duration with a unit is read in that unit, whatever the default unit', () => {
  for (const opts of [s, ms]) {
    expect(parseDuration('500ms', opts)).toBe(500);
    expect(parseDuration('60s', opts)).toBe(60_000);
    expect(parseDuration('1.5s', opts)).toBe(1500);
    expect(parseDuration('.5s', opts)).toBe(500);
    expect(parseDuration('5m', opts)).toBe(300_000);
    expect(parseDuration('1h', opts)).toBe(3_600_000);
    expect(parseDuration(' 10 s ', opts)).toBe(10_000);
  }
});

test('a bare number, or a string without a unit, is in the given unit', () => {
  expect(parseDuration(60, s)).toBe(60_000);
  expect(parseDuration('60', s)).toBe(60_000);
  expect(parseDuration('0.25', s)).toBe(250);
  expect(parseDuration(250, ms)).toBe(250);
  expect(parseDuration('250', ms)).toBe(250);
  expect(parseDuration(0, s)).toBe(0);
});

test.each([['10 parsecs'], ['-5'], [-5], [NaN], [Infinity], [''], ['5 m s'], ['1e3'], ['s']])(
  '%p is refused with ERR_INVALID_OPTION naming the option and the accepted forms',
  (value) => {
    expect(() => parseDuration(value, s)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(
          /^--death-timeout must be a duration: a number of seconds, or with a unit \(500ms, 60s, 1\.5s, 5m, 1h\); got /,
        ),
      }),
    );
  },
);

test('the error shows what was given, quoted when it was text', () => {
  expect(() => parseDuration('10 parsecs', ms)).toThrow(
    /timeout must be a duration: a number of milliseconds.*; got "10 parsecs"$/,
  );
  expect(() => parseDuration(NaN, ms)).toThrow(/got NaN$/);
});

test('formatDuration writes the largest exact unit, and parseDuration reads it back', () => {
  expect(formatDuration(300_000)).toBe('5m');
  expect(formatDuration(60_000)).toBe('1m');
  expect(formatDuration(90_000)).toBe('90s');
  expect(formatDuration(7_200_000)).toBe('2h');
  expect(formatDuration(1500)).toBe('1500ms');
  expect(formatDuration(0)).toBe('0ms');
  for (const v of [0, 1500, 90_000, 300_000, 7_200_000]) {
    expect(parseDuration(formatDuration(v), s)).toBe(v);
  }
});
