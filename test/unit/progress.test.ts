import {
  barLine,
  figures,
  frame,
  nameWidth,
  newKind,
  note,
  plainLine,
  type Kind,
} from '../../src/client/progress-lines';

/** progress()'s lines as pure functions of counts and times: no terminal, no futures, no clock. */
const ESC = '\x1b[';
const S = 1000;

/** A kind whose results came at the given seconds (one look per result). */
function kindWith(name: string, total: number, resultsAt: number[], errors = 0): Kind {
  const k = newKind(name, total);
  resultsAt.forEach((t, i) => note(k, i + 1, Math.min(errors, i + 1), t * S));
  return k;
}

/** The escape sequences in `line` (parameters and final letter), and its text without them. */
function parse(line: string): { codes: string[]; text: string; broken: boolean } {
  const [head, ...rest] = line.split('\x1b[');
  const codes: string[] = [];
  let text = head;
  let broken = head.includes('\x1b');
  for (const part of rest) {
    const m = /^[\d;]*[A-Za-z]/.exec(part);
    if (!m) broken = true;
    codes.push(m ? m[0] : '');
    text += part.slice(m ? m[0].length : 0);
  }
  return { codes, text, broken: broken || text.includes('\x1b') };
}

/** Colours opened and not reset by the end of `line` (any reset closes them all). */
function openColours(line: string): number {
  let open = 0;
  for (const c of parse(line).codes.filter((x) => x.endsWith('m'))) {
    open = c === '0m' || c === 'm' ? 0 : open + 1;
  }
  return open;
}

test('a kind that starts late is timed from its own first result, not from the start of the run', () => {
  // 50 tasks that wait 24 s for another kind, then finish within one second.
  const late = newKind('late', 50);
  note(late, 0, 0, 0);
  note(late, 0, 0, 23.9 * S);
  note(late, 1, 0, 24 * S);
  note(late, 25, 0, 24.5 * S);
  const f = figures(late, 24.5 * S);
  expect(f.elapsed).toBeCloseTo(0.5);
  expect(f.rate).toBeCloseTo(48); // the 24 after the first, in half a second
  expect(f.eta).toBeCloseTo(25 / 48);
  const line = barLine(late, 24.5 * S, 120, 4);
  expect(line).toMatch(/ 25\/50 48\.0\/s 00:01 ETA 00:01$/);
  // From the start of the run it would have read 1.0/s with 24 s to go.
  expect(line).not.toContain('ETA 00:24');
});

test("a finished kind's clock stops at its last result while other kinds go on", () => {
  const k = kindWith('quick', 3, [1, 2, 3]);
  expect(figures(k, 60 * S)).toEqual({ elapsed: 2, rate: 1, eta: 0 });
  expect(barLine(k, 60 * S, 80, 5)).toMatch(/ 3\/3 1\.0\/s 00:02 ETA 00:00$/);
});

test('before a rate can be measured it reads ?/s and the ETA --:--', () => {
  const waiting = newKind('waiting', 10);
  note(waiting, 0, 0, 5 * S);
  expect(barLine(waiting, 5 * S, 80, 7)).toMatch(/ 0\/10 \?\/s 00:00 ETA --:--$/);
  // Every result in one look: done, but no time to measure a rate over.
  const burst = kindWith('burst', 1, [2]);
  expect(figures(burst, 9 * S)).toEqual({ elapsed: 0, rate: null, eta: 0 });
});

test('each line fits the terminal less one column, its colour reset within it, however narrow', () => {
  const kinds = [
    kindWith('boom', 1000, [1, 2, 3], 3),
    kindWith('a-task-kind-with-a-name-far-longer-than-thirty-columns', 9, [1]),
  ];
  kinds[0].errors = 123456; // a long red part
  const names = nameWidth(kinds);
  expect(names).toBe(30);
  for (const width of [12, 30, 40, 60, 80, 200]) {
    for (const k of kinds) {
      const line = barLine(k, 4 * S, width, names);
      const visible = parse(line).text;
      expect(visible.length).toBeLessThanOrEqual(width - 1);
      expect(line).not.toContain('\n');
      expect(openColours(line)).toBe(0);
    }
  }
  expect(barLine(kinds[0], 4 * S, 80, names)).toContain(`${ESC}31m123456 erred${ESC}0m`);
  expect(barLine(kinds[1], 4 * S, 80, names)).toMatch(/^a-task-kind-with-a-name-far-l… \|/);
});

test('a redraw goes up over the last one, and no escape sequence spans a line break', () => {
  const kinds = [kindWith('slowSquare', 60, [1, 2]), kindWith('boom', 3, [1, 1.5, 2], 3)];
  const lines = kinds.map((k) => barLine(k, 3 * S, 80, nameWidth(kinds)));
  const first = frame(lines, 0);
  const again = frame(lines, 2);
  expect(first.startsWith(`\r${ESC}2K`)).toBe(true);
  expect(again.startsWith(`${ESC}2A\r${ESC}2K`)).toBe(true);
  for (const out of [first, again]) {
    expect(out.endsWith('\n')).toBe(true);
    const rows = out.split('\n');
    expect(rows).toHaveLength(3); // two lines, then nothing after the last newline
    for (const row of rows) {
      expect(openColours(row)).toBe(0);
      // Every escape sequence in a row is complete within it.
      expect(parse(row).broken).toBe(false);
    }
  }
  expect(first).toContain(`${ESC}31m3 erred${ESC}0m\n`);
});

test('the plain line: each kind with done/total, errors, and the whole run timed from its start', () => {
  const kinds = [kindWith('slowSquare', 60, [1, 2, 3, 4]), kindWith('boom', 3, [1, 2, 3], 3)];
  expect(plainLine(kinds, 4 * S, 0)).toBe(
    'progress: slowSquare 4/60 (6%); boom 3/3 (100%), 3 erred; 1.8 tasks/s, elapsed 00:04, ETA 00:32\n',
  );
  expect(plainLine(kinds, 4 * S, 0)).not.toContain(ESC);
  const none = [newKind('idle', 2)];
  expect(plainLine(none, 0, 0)).toBe(
    'progress: idle 0/2 (0%); 0.0 tasks/s, elapsed 00:00, ETA --:--\n',
  );
});
