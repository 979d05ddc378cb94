/**
 * mpiProgram (issue 21) under a real mpirun of each MPI: the cluster's gang of 2 worker ranks runs
 * fixtures/mpi-hello.c through a nested mpirun/mpiexec of the same MPI (outside Slurm).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeFlavours, runMpiCommand, type Run } from '../mpi/launch';

const FIXTURES = path.join(__dirname, 'fixtures');
const MPICC = { openmpi: 'mpicc.openmpi', mpich: 'mpicc.mpich' };

/** The `PROGRAM <name> <json>` lines of a run, by name. */
function scenarios(r: Run): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { text } of r.stdout) {
    const m = /^PROGRAM (\S+) (.*)$/.exec(text);
    if (m) out[m[1]] = JSON.parse(m[2]);
  }
  return out;
}

interface Result {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  hosts: string[];
  launcher: string[];
  timedOut: boolean;
}

/** The HELLO lines of both program ranks, sorted by rank. */
const hellos = (r: Result): string[] =>
  r.stdout
    .split('\n')
    .filter((l) => l.startsWith('HELLO '))
    .sort();

describeFlavours('mpiProgram on a gang of worker ranks, through mpirun', (flavour) => {
  let dir: string;
  let run: Run;
  let seen: Record<string, unknown>;
  const host = os.hostname();

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpi-program-'));
    const bin = path.join(dir, 'mpi-hello');
    const source = path.join(FIXTURES, 'mpi-hello.c');
    const cc = spawnSync(MPICC[flavour.name], ['-O', '-o', bin, source], { encoding: 'utf8' });
    if (cc.status !== 0) {
      throw new Error(`${MPICC[flavour.name]} failed: ${cc.error ?? ''}${cc.stderr}`);
    }
    run = await runMpiCommand(flavour, 4, [process.execPath, path.join(FIXTURES, 'program.js')], {
      env: { HELLO_BIN: bin },
      timeoutMs: 90_000,
    });
    seen = scenarios(run);
  }, 100_000);

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the job ends with exit 0 after every scenario', () => {
    expect({ code: run.code, timedOut: run.timedOut, stderr: run.stderr }).toMatchObject({
      code: 0,
      timedOut: false,
    });
    expect(Object.keys(seen).sort()).toEqual([
      'cancel',
      'fails',
      'missing',
      'no-ranks',
      'ok',
      'timeout',
    ]);
  });

  test("exit 0: both ranks' lines, one job of 2 of its own, options.env set, rank 0's result only", () => {
    const [first, rest] = seen.ok as [Result, null];
    expect(rest).toBeNull();
    expect(first).toMatchObject({ code: 0, signal: null, timedOut: false, hosts: [host, host] });
    // Size 2 and the sum of ranks 0 + 1: the program started a job of its own, not the cluster's.
    expect(hellos(first)).toEqual([`HELLO 0 2 ${host} 1 tagged`, `HELLO 1 2 ${host} 1 tagged`]);
    const launcher = path.basename(first.launcher[0]);
    if (flavour.name === 'openmpi') {
      expect(launcher).toBe('mpirun.openmpi');
      expect(first.launcher.slice(1, 5)).toEqual(['--host', `${host}:2`, '-np', '2']);
    } else {
      expect(launcher).toBe('mpiexec.hydra');
      expect(first.launcher.slice(1, 5)).toEqual(['-hosts', `${host}:2`, '-n', '2']);
    }
    expect(first.launcher.slice(-2)).toEqual([expect.stringMatching(/mpi-hello$/), '0']);
  });

  test('a non-zero exit code comes back as code, with the output', () => {
    const [first] = seen.fails as [Result, null];
    expect(first.code).toBe(3);
    expect(first.timedOut).toBe(false);
    expect(hellos(first)).toEqual([`HELLO 0 2 ${host} 1 -`, `HELLO 1 2 ${host} 1 -`]);
  });

  test('a timeout stops the launcher and every program rank; timedOut says so', () => {
    expect(seen.timeout).toMatchObject({ timedOut: true, pids: 2, gone: true });
  });

  test("a cancelled program task stops its ranks, and the gang's slots serve the next gang", () => {
    expect(seen.cancel).toEqual({ status: 'cancelled', pids: 2, gone: true, next: [3, 3] });
  });

  test('without ranks: ERR_INVALID_OPTION at submit; a missing executable: the code and why', () => {
    expect(seen['no-ranks']).toMatchObject({
      code: 'ERR_INVALID_OPTION',
      message: expect.stringContaining('submitWith({ ranks: N }, program)'),
    });
    const missing = seen.missing as { code: number; stderr: string };
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('/nonexistent/mpi-program');
  });
});
