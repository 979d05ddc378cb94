import * as path from 'node:path';
import { describeFlavours, runMpiCommand, type Run } from '../mpi/launch';

const FIX = path.join(__dirname, 'fixtures');
const INIT = path.resolve(__dirname, '..', '..', 'dist', 'mpi-init.js');
const node = process.execPath;

const line = (r: Run, prefix: string) => r.stdout.find((l) => l.text.startsWith(prefix));

/** At its default level mpi-init says one thing: that the cluster is ready. */
const READY =
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z mpi-cluster\[\d+\] info: cluster ready: (\d+) workers, scheduler tcp:\/\/127\.0\.0\.1:\d+, dashboard http:\/\/127\.0\.0\.1:\d+\/status \(with its token: client\.dashboardLink\), [\d.]+ s after start$/;

describeFlavours('initialize() and mpi-init', (flavour) => {
  test.each([3, 4, 8])(
    '%i ranks via mpi-init: results, np-2 workers, exit 0, one ready line on stderr',
    async (np) => {
      const r = await runMpiCommand(flavour, np, [
        node,
        INIT,
        '--interface',
        'lo',
        path.join(FIX, 'script.js'),
      ]);
      expect(line(r, 'RESULT')?.text).toMatch(
        new RegExp(`^RESULT \\[1,4,9,16\\] WORKERS ${np - 2} ADDRESS tcp://127\\.0\\.0\\.1:\\d+$`),
      );
      expect(r.code).toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(READY);
      expect(READY.exec(lines[0])![1]).toBe(String(np - 2));
      // The job ends right after the script does (bench measures how fast; here: no hang).
      expect(r.exitedAt - line(r, 'END')!.at).toBeLessThan(3000);
    },
  );

  test('initialize() in the script itself, without mpi-init', async () => {
    const r = await runMpiCommand(flavour, 4, [node, path.join(FIX, 'script.js')]);
    expect(line(r, 'RESULT')?.text).toMatch(/WORKERS 2/);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  test.each([
    ['throw', 1],
    ['reject', 1],
    ['exit3', 3],
  ])(
    'a script that does "%s" ends the whole job with code %i within 5 s',
    async (behaviour, code) => {
      const r = await runMpiCommand(
        flavour,
        4,
        [node, INIT, '--interface', 'lo', path.join(FIX, 'script.js')],
        {
          env: { BEHAVIOUR: behaviour },
        },
      );
      expect(line(r, 'END')).toBeDefined();
      if (flavour.name === 'openmpi') expect(r.code).toBe(code);
      else expect(r.code).not.toBe(0);
      expect(r.exitedAt - line(r, 'END')!.at).toBeLessThan(5000);
    },
  );

  test('an unknown interface ends every rank within 5 s, naming the interface', async () => {
    const t = Date.now();
    const r = await runMpiCommand(
      flavour,
      4,
      [node, INIT, '--interface', 'nosuch0', path.join(FIX, 'script.js')],
      {
        timeoutMs: 20_000,
      },
    );
    expect(r.timedOut).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.exitedAt - t).toBeLessThan(10_000);
    if (flavour.forwardsStderrBeforeAbort)
      expect(r.stderr).toMatch(/ERR_INTERFACE_NOT_FOUND\].*"nosuch0"/);
  });

  test('a script that is not there ends every rank before MPI or a cluster starts: exit 2, ERR_INVALID_OPTION naming its path', async () => {
    // The launcher runs in the repository root: that is where a relative path is looked for.
    const r = await runMpiCommand(flavour, 3, [node, INIT, 'nosuch.js'], { timeoutMs: 20_000 });
    expect(r.timedOut).toBe(false);
    if (flavour.name === 'openmpi') expect(r.code).toBe(2);
    else expect(r.code).not.toBe(0);
    const notFound = `[ERR_INVALID_OPTION]: script "nosuch.js" not found: no file ${path.resolve(__dirname, '..', '..', 'nosuch.js')} `;
    expect(r.stderr).toContain(notFound);
    // Nothing started: no scheduler, no ready line, no MPI_Abort.
    expect(r.stdout).toEqual([]);
    expect(r.stderr).not.toMatch(/cluster ready|MPI_Abort|bootstrap failed/);
  });

  test('two ranks are too few: ERR_WORLD_TOO_SMALL says how many are needed', async () => {
    const r = await runMpiCommand(flavour, 2, [node, path.join(FIX, 'script.js')], {
      timeoutMs: 20_000,
    });
    expect(r.code).not.toBe(0);
    if (flavour.forwardsStderrBeforeAbort)
      expect(r.stderr).toMatch(/ERR_WORLD_TOO_SMALL.*launch at least 3 ranks/);
  });

  test('a worker rank that dies mid-run ends the job, no hang', async () => {
    const r = await runMpiCommand(
      flavour,
      4,
      [node, INIT, '--interface', 'lo', path.join(FIX, 'script.js')],
      {
        env: { BEHAVIOUR: 'kill-worker' },
        timeoutMs: 30_000,
      },
    );
    expect(r.timedOut).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.exitedAt - line(r, 'END')!.at).toBeLessThan(10_000);
  });

  test('exit: false resolves null on scheduler and workers once the client sends the close signal', async () => {
    const r = await runMpiCommand(flavour, 4, [node, path.join(FIX, 'exit-false.js')]);
    expect(r.code).toBe(0);
    expect(line(r, 'CLIENT 1')?.text).toBe('CLIENT 1 42');
    const after = r.stdout
      .filter((l) => l.text.startsWith('AFTER'))
      .map((l) => l.text)
      .sort();
    expect(after).toEqual(['AFTER 0 null', 'AFTER 2 null', 'AFTER 3 null']);
  });

  test('a sub-communicator: ranks outside it stay out of the cluster', async () => {
    const r = await runMpiCommand(flavour, 5, [node, path.join(FIX, 'subcomm.js')]);
    expect(line(r, 'SUBCOMM')?.text).toBe('SUBCOMM workers=2 size=4');
    expect(line(r, 'OUTSIDE')?.text).toBe('OUTSIDE 4');
    expect(r.code).toBe(0);
  });
});

test('mpi-init --help shows both modes with examples and the Slurm fence setting; a wrong use exits 2 with a clear message', async () => {
  const { runCli } = await import('../helpers/cluster');
  const help = await runCli('mpi-init.js', ['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(
    /--scheduler-file[\s\S]*--no-scheduler[\s\S]*--interface[\s\S]*Examples:/,
  );
  expect(help.stdout).toContain('export SLURM_PMIX_FENCE=ring');
  const bad = await runCli('mpi-init.js', ['--no-scheduler']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--no-scheduler needs --scheduler-file/);
  expect(help.stdout).toMatch(
    /--scheduler-rank[\s\S]*--client-rank[\s\S]*--inclusive-workers[\s\S]*Rank layouts/,
  );
  const noClient = await runCli('mpi-init.js', [
    '--scheduler-file',
    'f.json',
    '--client-rank',
    '0',
  ]);
  expect(noClient.code).toBe(2);
  expect(noClient.stderr).toMatch(/ERR_INVALID_OPTION.*no client rank: leave out --client-rank/);
  const badRank = await runCli('mpi-init.js', ['--scheduler-rank', '-1', 'x.js']);
  expect(badRank.code).not.toBe(0);
  expect(badRank.stderr).toMatch(/--scheduler-rank must be an integer from 0/);
});

test('mpi-init without a launcher and with a script that is not there exits 2 naming the path, found as node finds it', async () => {
  const { runCli } = await import('../helpers/cluster');
  const r = await runCli('mpi-init.js', ['nosuch.js']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(
    /^error \[ERR_INVALID_OPTION\]: script "nosuch\.js" not found: no file \/.*\/nosuch\.js .*current directory/,
  );
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
});

describeFlavours('mpi-init --scheduler-file', (flavour) => {
  test('rank 0 scheduler + worker ranks; --no-scheduler ranks join; a client elsewhere uses the file', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const { Client } = await import('../../src');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpi-init-file-'));
    const file = path.join(dir, 'sched.json');
    // A stale file from an earlier run must not mislead the workers.
    fs.writeFileSync(
      file,
      JSON.stringify({ address: 'tcp://127.0.0.1:9', id: 'stale', started: 0 }),
      { mode: 0o600 }, // as the scheduler writes it (one others can read is refused)
    );
    const job = runMpiCommand(flavour, 3, [
      node,
      INIT,
      '--scheduler-file',
      file,
      '--interface',
      'lo',
    ]);
    const client = await Client.connect({
      schedulerFile: file,
      timeout: 20_000,
      notBefore: Date.now() - 1000,
    });
    try {
      await client.waitForWorkers(2, { timeout: 20_000 });
      const more = runMpiCommand(flavour, 2, [
        node,
        INIT,
        '--scheduler-file',
        file,
        '--no-scheduler',
        '--interface',
        'lo',
        '--name',
        'extra-',
      ]);
      await client.waitForWorkers(4, { timeout: 20_000 });
      const names = Object.values((await client.schedulerInfo()).workers)
        .map((w) => w.name)
        .sort();
      expect(names).toEqual(['1', '2', 'extra-0', 'extra-1']);
      expect(await client.gather(client.map((x: number) => -x, [1, 2, 3]))).toEqual([-1, -2, -3]);
      await client.shutdown();
      const [a, b] = await Promise.all([job, more]);
      expect([a.code, b.code]).toEqual([0, 0]);
      // Scheduler-file mode has no ready line (no client rank waits); joins are debug under MPI.
      expect(a.stderr + b.stderr).toBe('');
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      await client.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeFlavours('mpi-init under a signal', (flavour) => {
  test('SIGTERM to the launcher of a --scheduler-file job: every rank stops within 5 s, the file removed', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const { Client } = await import('../../src');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpi-init-term-'));
    const file = path.join(dir, 'sched.json');
    let launcher = 0;
    const job = runMpiCommand(
      flavour,
      3,
      [node, INIT, '--scheduler-file', file, '--interface', 'lo'],
      { started: (pid) => (launcher = pid), timeoutMs: 30_000 },
    );
    const client = await Client.connect({ schedulerFile: file, timeout: 20_000 });
    try {
      await client.waitForWorkers(2, { timeout: 20_000 });
      const t = Date.now();
      process.kill(launcher, 'SIGTERM');
      const r = await job;
      expect(r.timedOut).toBe(false);
      expect(r.exitedAt - t).toBeLessThan(5000);
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      await client.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
