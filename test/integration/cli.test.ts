import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '../../src';
import { BOOTSTRAP_DEFAULTS } from '../../src/bootstrap/defaults';
import { SCHEDULER_BIND_DEFAULT, WORKER_BIND_DEFAULT } from '../../src/cli/common';
import { KEYS_ENV, makeKeys } from '../../src/net/security';
import { packageVersion } from '../../src/paths';
import { DEFAULT_HTTP_PORT } from '../../src/observe/http';
import { DEFAULT_SCHEDULER_CONFIG } from '../../src/scheduler/types';
import { formatDuration } from '../../src/util/duration';
import { defaultWorkerParent } from '../../src/worker/directory';
import { WORKER_DEFAULTS } from '../../src/worker/options';
import { runCli, startCli } from '../helpers/cluster';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpi-cluster-cli-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('scheduler and workers started by hand meet through the scheduler file', async () => {
  const file = path.join(dir, 'sched.json');
  // Workers first: they wait for the file to appear.
  const w1 = startCli('cli/worker.js', [
    '--scheduler-file',
    file,
    '--name',
    'hand-1',
    '--nthreads',
    '2',
  ]);
  const w2 = startCli('cli/worker.js', ['--scheduler-file', file, '--name', 'hand-2']);
  const sched = startCli('cli/scheduler.js', ['--scheduler-file', file, '--host', '127.0.0.1']);
  await sched.line(/scheduler at tcp:\/\/127\.0\.0\.1:\d+/);
  // The dashboard's address is printed without its token (batch output is often readable by
  // others); the token is in the scheduler file, which only its owner reads.
  const dash = await sched.line(/dashboard at (http:\/\/127\.0\.0\.1:\d+)\/status, metrics at/);
  expect(dash).not.toMatch(/token=/);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  const content = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(content.dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/status\?token=[0-9a-f]{32}$/);
  expect(content).toMatchObject({
    address: expect.stringMatching(/^tcp:/),
    id: expect.any(String),
  });

  const client = await Client.connect({ schedulerFile: file, timeout: 10_000 });
  await client.waitForWorkers(2, { timeout: 10_000 });
  const info = await client.schedulerInfo();
  expect(
    Object.values(info.workers)
      .map((w) => w.name)
      .sort(),
  ).toEqual(['hand-1', 'hand-2']);
  expect(await client.gather(client.map((x: number) => x * x, [1, 2, 3, 4]))).toEqual([
    1, 4, 9, 16,
  ]);

  await client.shutdown();
  expect(await sched.exited).toBe(0);
  expect(await w1.exited).toBe(0);
  expect(await w2.exited).toBe(0);
  expect(fs.existsSync(file)).toBe(false);
  expect(sched.output() + w1.output() + w2.output()).not.toMatch(/error|warn/i);
});

test('a client waiting for a scheduler file that never comes fails with ERR_TIMEOUT', async () => {
  await expect(
    Client.connect({ schedulerFile: path.join(dir, 'never.json'), timeout: 300 }),
  ).rejects.toMatchObject({
    code: 'ERR_TIMEOUT',
    message: expect.stringContaining('never.json'),
  });
});

test('--help describes options and examples', async () => {
  const s = await runCli('cli/scheduler.js', ['--help']);
  expect(s.code).toBe(0);
  expect(s.stdout).toMatch(/--scheduler-file[\s\S]*--interface[\s\S]*Examples:/);
  const w = await runCli('cli/worker.js', ['--help']);
  expect(w.code).toBe(0);
  expect(w.stdout).toMatch(/--nthreads[\s\S]*--memory-limit[\s\S]*--death-timeout[\s\S]*Examples:/);
});

const CLIS = ['cli/scheduler.js', 'cli/worker.js', 'cli/jobs.js', 'mpi-init.js'];

test.each(CLIS)('%s --version prints the package version', async (cli) => {
  const r = await runCli(cli, ['--version']);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`${packageVersion()}\n`);
  expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
});

/** A CLI's help on one line, since commander wraps it at 80 columns. */
async function help(cli: string): Promise<string> {
  const r = await runCli(cli, ['--help']);
  expect(r.code).toBe(0);
  return r.stdout.replace(/\s+/g, ' ');
}

test('--help shows every default, read from where it lives, and the forms a duration takes', async () => {
  const units = '(seconds, or with a unit: 500ms, 60s, 5m, 1h)';
  const dashboard = `(default: ':${DEFAULT_HTTP_PORT}'; if that port is taken, one the OS chooses)`;
  const scheduler = await help('cli/scheduler.js');
  for (const says of [
    `--interface <name> network interface to bind on, e.g. ib0 (default: ${SCHEDULER_BIND_DEFAULT})`,
    '--port <port> port to bind on (default: one the OS chooses)',
    `${units} (default: ${formatDuration(DEFAULT_SCHEDULER_CONFIG.workerTtl)})`,
    dashboard,
    '--scheduler-file <file> write the address and keys here',
  ]) {
    expect(scheduler).toContain(says);
  }
  const worker = await help('cli/worker.js');
  for (const says of [
    `each on its own thread (default: ${WORKER_DEFAULTS.nthreads})`,
    `(default: ${WORKER_DEFAULTS.memoryLimit})`,
    `(default: ${defaultWorkerParent()})`,
    `--interface <name> network interface to serve data on, e.g. ib0 (default: ${WORKER_BIND_DEFAULT})`,
    '(default: HOST-PID)',
    `or its file absent ${units} (default: ${formatDuration(WORKER_DEFAULTS.deathTimeout * 1000)})`,
    `set below a batch walltime ${units} (default: none, the worker runs until stopped)`,
  ]) {
    expect(worker).toContain(says);
  }
  const init = await help('mpi-init.js');
  for (const says of [
    '(default: 127.0.0.1 when every rank is on one host; else the scheduler binds',
    `threads per worker (default: ${WORKER_DEFAULTS.nthreads})`,
    `(default: ${defaultWorkerParent()})`,
    `the rank that runs the scheduler (default: ${BOOTSTRAP_DEFAULTS.schedulerRank})`,
    `(default: ${BOOTSTRAP_DEFAULTS.clientRank}, or 0 when the scheduler is on`,
    "the scheduler's port, for sites that open one (default: one the OS chooses)",
    dashboard,
    `${units} (default: ${formatDuration(BOOTSTRAP_DEFAULTS.timeout)})`,
  ]) {
    expect(init).toContain(says);
  }
});

test('duration flags take units: a worker given --death-timeout 500ms has a death timeout of 0.5 s', async () => {
  const r = await runCli('cli/worker.js', [
    'tcp://127.0.0.1:9',
    '--no-security',
    '--death-timeout',
    '500ms',
    '--host',
    '127.0.0.1',
  ]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/death timeout 0\.5 s/);
});

test.each([
  ['cli/worker.js', ['tcp://127.0.0.1:9', '--death-timeout', '10 parsecs'], 1, '--death-timeout'],
  ['cli/worker.js', ['tcp://127.0.0.1:9', '--lifetime', '-5'], 1, '--lifetime'],
  ['cli/scheduler.js', ['--worker-ttl', 'NaN'], 1, '--worker-ttl'],
  ['mpi-init.js', ['--timeout', '5 fortnights', 'x.js'], 2, '--timeout'],
])(
  '%s %j refuses the duration: exit %i, ERR_INVALID_OPTION naming %s and the forms',
  async (cli, args, code, flag) => {
    const r = await runCli(cli, args);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(
      `error [ERR_INVALID_OPTION]: ${flag} must be a duration: a number of seconds, or with a unit (500ms, 60s, 1.5s, 5m, 1h); got "`,
    );
  },
);

test('a zero duration is refused where it would mean at once: --death-timeout 0s', async () => {
  const r = await runCli('cli/worker.js', ['tcp://127.0.0.1:9', '--death-timeout', '0s']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/\[ERR_INVALID_OPTION\]: --death-timeout must be longer than 0/);
});

test.each([
  [['--nthreads', '0', 'tcp://127.0.0.1:1'], /--nthreads must be an integer from 1/],
  [['--memory-limit', 'lots', 'tcp://127.0.0.1:1'], /memoryLimit "lots" is not understood/],
  [[], /give the scheduler address/],
  [['--interface', 'nosuch0', 'tcp://127.0.0.1:1'], /\[ERR_INTERFACE_NOT_FOUND\].*"nosuch0"/],
])('worker %p exits non-zero with a clear message', async (args, message) => {
  const r = await runCli('cli/worker.js', args);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for users
});

test('a worker given only an address and no keys is refused with ERR_SECURITY, saying where keys come from', async () => {
  const r = await runCli('cli/worker.js', ['tcp://127.0.0.1:9', '--host', '127.0.0.1']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/\[ERR_SECURITY\].*--scheduler-file.*MPI_CLUSTER_KEYS.*--no-security/);
});

test('a --no-security worker of a secure scheduler exits 1 with ERR_SECURITY: the scheduler requires CurveZMQ, give the keys or --no-security on both', async () => {
  const file = path.join(dir, 'sched.json');
  const sched = startCli('cli/scheduler.js', [
    '--scheduler-file',
    file,
    '--host',
    '127.0.0.1',
    '--no-dashboard',
  ]);
  const address = (await sched.line(/tcp:\/\/127\.0\.0\.1:\d+/)).trim();
  try {
    for (const joining of [[address], ['--scheduler-file', file]]) {
      const r = await runCli('cli/worker.js', [...joining, '--no-security', '--host', '127.0.0.1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /\[ERR_SECURITY\]: the scheduler at tcp:\S+ requires CurveZMQ and this worker runs without security \(--no-security\): .*--scheduler-file.*MPI_CLUSTER_KEYS.*--no-security/,
      );
      expect(r.stderr).not.toMatch(/keys differ|\n\s+at /);
    }
  } finally {
    sched.child.kill('SIGTERM');
    expect(await sched.exited).toBe(0);
  }
});

test('a worker with keys at a --no-security scheduler exits 1 with ERR_SECURITY: its keys refused, other keys or --no-security', async () => {
  const sched = startCli('cli/scheduler.js', [
    '--no-security',
    '--host',
    '127.0.0.1',
    '--no-dashboard',
  ]);
  const address = (await sched.line(/tcp:\/\/127\.0\.0\.1:\d+/)).trim();
  try {
    const r = await runCli('cli/worker.js', [address, '--host', '127.0.0.1'], {
      env: { [KEYS_ENV]: JSON.stringify(makeKeys()) },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /\[ERR_SECURITY\]: the scheduler at tcp:\S+ refused this worker's CurveZMQ keys: it has other keys .* or it runs without security/,
    );
  } finally {
    sched.child.kill('SIGTERM');
    expect(await sched.exited).toBe(0);
  }
});

test('a scheduler without a scheduler file, keys or --no-security is refused: nobody could join', async () => {
  const r = await runCli('cli/scheduler.js', ['--host', '127.0.0.1']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/\[ERR_SECURITY\]/);
});

test('scheduler refuses a port out of range', async () => {
  const r = await runCli('cli/scheduler.js', ['--port', '70000']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/--port must be an integer from 0 to 65535/);
});

test('a worker whose scheduler is gone exits after its death timeout', async () => {
  const r = await runCli('cli/worker.js', [
    'tcp://127.0.0.1:9',
    '--no-security',
    '--death-timeout',
    '1',
    '--host',
    '127.0.0.1',
  ]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/death timeout 1 s/);
});

test('SIGTERM stops a scheduler whose worker was SIGKILLed and whose client left, removing its file', async () => {
  const file = path.join(dir, 'sched.json');
  const sched = startCli('cli/scheduler.js', ['--scheduler-file', file, '--host', '127.0.0.1']);
  await sched.line(/scheduler at tcp:\/\/127\.0\.0\.1:\d+/);
  const worker = startCli('cli/worker.js', ['--scheduler-file', file, '--name', 'doomed']);
  const client = await Client.connect({ schedulerFile: file, timeout: 10_000 });
  // Work queued and running on the worker, so the scheduler has traffic for it.
  const fs1 = client.map(
    (x: number) => new Promise<number>((r) => setTimeout(() => r(x), 200)),
    Array.from({ length: 50 }, (_, i) => i),
  );
  await client.wait([fs1[0]]);
  worker.child.kill('SIGKILL');
  await worker.exited;
  await client.close();
  sched.child.kill('SIGTERM');
  expect(await sched.exited).toBe(0);
  expect(fs.existsSync(file)).toBe(false);
});

test('memory thresholds: a fraction or false, on the worker CLI and mpi-init; anything else refused', async () => {
  const r = await runCli('cli/worker.js', ['tcp://127.0.0.1:1', '--memory-pause', '1.5']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/\[ERR_INVALID_OPTION\].*memory pause threshold must be a fraction/);
  for (const cli of ['cli/worker.js', 'mpi-init.js']) {
    const help = (await runCli(cli, ['--help'])).stdout.replace(/\s+/g, ' ');
    for (const [name, d] of [
      ['target', 0.6],
      ['spill', 0.7],
      ['pause', 0.8],
      ['terminate', 0.95],
    ]) {
      expect(help).toMatch(
        new RegExp(`--memory-${name} <fraction> .*?false: off \\(default: ${d}\\)`),
      );
    }
  }
});
