import { describeFlavours, linesByRank, runMpi, survivorsAt, type Run } from './launch';

/** The job's node processes, from the "PID <rank> <pid>" lines. */
function pids(run: Run): number[] {
  return [...linesByRank(run, 'PID').values()].map(Number);
}

function lineAt(run: Run, text: string): number {
  const line = run.stdout.find((l) => l.text === text);
  if (!line) throw new Error(`no "${text}" line in stdout; stderr:\n${run.stderr}`);
  return line.at;
}

describeFlavours('a failing rank ends the whole job', (flavour) => {
  test('abort() on rank 1 makes the launcher exit non-zero within 5 s, no rank left', async () => {
    const run = await runMpi(flavour, 'abort.js');
    expect(run.timedOut).toBe(false);
    expect(pids(run)).toHaveLength(4);
    expect(run.code).not.toBe(0);
    const failedAt = lineAt(run, 'ABORTING');
    expect(run.exitedAt - failedAt).toBeLessThan(5000);
    expect(await survivorsAt(pids(run), failedAt + 5000)).toEqual([]);
    expect(run.stdout.filter((l) => l.text.startsWith('UNREACHABLE'))).toEqual([]);
    if (flavour.forwardsStderrBeforeAbort) {
      expect(run.stderr).toContain('rank 1/4: abort(3): fixture abort on rank 1');
    }
  }, 90_000);

  test.each([
    ['an uncaught exception', 'throw', 'uncaught exception: Error: fixture exception on rank 2'],
    ['an unhandled rejection', 'reject', 'unhandled rejection: Error: fixture rejection on rank 2'],
  ])(
    '%s on rank 2 aborts the job within 5 s, no rank left',
    async (_what, mode, message) => {
      const run = await runMpi(flavour, 'crash.js', { args: [mode] });
      expect(run.timedOut).toBe(false);
      expect(pids(run)).toHaveLength(4);
      expect(run.code).not.toBe(0);
      const failedAt = lineAt(run, 'FAILING');
      expect(run.exitedAt - failedAt).toBeLessThan(5000);
      expect(await survivorsAt(pids(run), failedAt + 5000)).toEqual([]);
      expect(run.stdout.filter((l) => l.text.startsWith('UNREACHABLE'))).toEqual([]);
      if (flavour.forwardsStderrBeforeAbort) {
        expect(run.stderr).toContain(`rank 2 of 4: ${message}`);
      }
    },
    90_000,
  );
});
