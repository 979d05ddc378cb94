import * as path from 'node:path';
import { runCommand } from '../helpers/cluster';

/**
 * progress() as a user sees it: a script (test/fixtures/progress.js) on a real LocalCluster, its
 * stderr a pipe (a batch job's output file) or a real pseudo-terminal (util-linux `script`).
 */
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'progress.js');
const ESC = '\x1b[';
const SUM = (59 * 60 * 119) / 6; // 0^2 + ... + 59^2

test('in a pipe: plain lines, each task kind with done/total, errors counted, no escapes', async () => {
  const r = await runCommand(process.execPath, [FIXTURE], {
    env: { ...process.env, PROGRESS_INTERVAL: '300' },
    timeout: 120_000,
  });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`sum ${SUM}`);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('progress: '));
  expect(lines.length).toBeGreaterThanOrEqual(1);
  expect(lines[lines.length - 1]).toMatch(
    /^progress: slowSquare 60\/60 \(100%\); boom 3\/3 \(100%\), 3 erred; [\d.]+ tasks\/s, elapsed \d\d:\d\d, ETA 00:00$/,
  );
  expect(r.stderr).not.toContain(ESC);
}, 150_000);

test('in a pseudo-terminal: bars redrawn in place, errors in red, every kind complete', async () => {
  // `script` gives the child a real pty; its output (the terminal's) comes back on stdout.
  const r = await runCommand('script', ['-qefc', `${process.execPath} ${FIXTURE}`, '/dev/null'], {
    timeout: 120_000,
  });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`sum ${SUM}`);
  expect(r.stdout).toContain(`${ESC}2K`); // lines cleared and redrawn
  expect(r.stdout).toContain(`${ESC}2A`); // the cursor goes back up over both bars
  // The rate reads ?/s when every result came in one look (no time to measure it over).
  expect(r.stdout).toMatch(/slowSquare \|█+\| 60\/60 (?:[\d.]+|\?)\/s \d\d:\d\d ETA 00:00/);
  expect(r.stdout).toMatch(/boom +\|█+\| 3\/3 /);
  expect(r.stdout).toContain(`${ESC}31m3 erred${ESC}0m`); // in red
  // Every colour is reset on its own line (a bar that wrapped would carry it onto the next).
  for (const line of r.stdout.split('\n')) {
    const colours = line.split(ESC).filter((p, i) => i > 0 && /^\d*m/.test(p));
    expect(colours.length === 0 || colours[colours.length - 1].startsWith('0m')).toBe(true);
  }
  expect(r.stdout).not.toContain('progress: ');
}, 150_000);
