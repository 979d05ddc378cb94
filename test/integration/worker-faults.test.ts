import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, LocalCluster } from '../../src';
import { DIST, runCli, startCli } from '../helpers/cluster';
import { KEYS_ENV, makeKeys } from '../../src/net/security';
import type * as PoolModule from '../../src/worker/pool';
import type * as ProtocolModule from '../../src/protocol';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpi-cluster-wf-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Waits for a condition (polling), failing with what it waited for. */
async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('cancelling a running task stops its thread: the next task on that one-thread worker completes', async () => {
  const cluster = await LocalCluster.start({ nWorkers: 1, threadsPerWorker: 1 });
  const client = await Client.connect(cluster);
  try {
    const marker = path.join(dir, 'spinning');
    const spin = client.submit((file: string) => {
      require('node:fs').writeFileSync(file, String(process.pid));
      for (;;);
    }, marker);
    // The task really runs (and spins) before it is cancelled.
    await until(() => fs.existsSync(marker), 'the spinning task to start');
    await spin.cancel();
    expect(spin.status).toBe('cancelled');
    const next = client.submit((x: number) => [x * 2, process.pid], 21);
    expect(await next.result()).toEqual([42, Number(fs.readFileSync(marker, 'utf8'))]);
    expect(cluster.workerPids).toEqual([Number(fs.readFileSync(marker, 'utf8'))]);
  } finally {
    await client.close();
    await cluster.close();
  }
});

test('a thread terminated for a cancelled run: that run is reported terminated, its batch-mates run again', async () => {
  const { ThreadPool } = require(path.join(DIST, 'worker', 'pool.js')) as typeof PoolModule;
  const { pack, unpack } = require(path.join(DIST, 'protocol')) as typeof ProtocolModule;
  const results = new Map<number, PoolModule.PoolResult>();
  const pool = new ThreadPool(1, (rs) => rs.forEach((r) => results.set(r.run, r)));
  try {
    const inc = { kind: 'source' as const, source: '(x) => x + 1', name: 'inc' };
    const spin = {
      kind: 'source' as const,
      source: `(file) => { require('node:fs').writeFileSync(file, 'go'); for (;;); }`,
      name: 'spin',
    };
    let run = 0;
    const task = (spec: typeof inc, arg: unknown): PoolModule.PoolTask => ({
      run: ++run,
      key: `k${run}`,
      fnId: spec.name,
      spec,
      args: pack([arg]),
      deps: [],
    });
    // Tiny tasks first, so the pool batches.
    for (let i = 0; i < 20; i++) pool.submit(task(inc, i));
    await until(() => results.size === 20, 'the warm-up tasks');
    // One task takes the thread while the spinning task and five others queue behind it: when
    // it ends, those six go to the thread as one batch.
    pool.submit(task(inc, 0));
    const marker = path.join(dir, 'spinning');
    const spinning = task(spin, marker);
    pool.submit(spinning);
    const mates = [1, 2, 3, 4, 5].map((i) => task(inc, 100 + i));
    mates.forEach((t) => pool.submit(t));
    await until(() => fs.existsSync(marker), 'the spinning task to start');
    expect(mates.some((t) => results.has(t.run))).toBe(false);
    expect(pool.terminate(spinning.run)).toBe(true);
    await until(() => mates.every((t) => results.has(t.run)), 'the batch-mates to run again');
    expect(results.get(spinning.run)).toEqual({
      run: spinning.run,
      key: spinning.key,
      died: 'terminated',
    });
    for (const t of mates) {
      const r = results.get(t.run) as { frames: Uint8Array[] };
      expect(unpack(r.frames)).toBe((unpack(t.args) as number[])[0] + 1);
    }
  } finally {
    await pool.close();
  }
});

function ownerDir(parent: string, name: string, pid: number, host = os.hostname()): string {
  const d = path.join(parent, name);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'owner.json'), JSON.stringify({ pid, host }));
  return d;
}

/** The pid of a process that has exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid;

test('a worker removes sibling directories whose process is gone and keeps live ones; its own is 0700', async () => {
  const stale = ownerDir(dir, 'worker-stale', deadPid());
  const live = ownerDir(dir, 'worker-live', process.pid);
  const elsewhere = ownerDir(dir, 'worker-elsewhere', deadPid(), 'another-host');
  const w = startCli('cli/worker.js', [
    'tcp://127.0.0.1:9',
    '--no-security',
    '--local-directory',
    dir,
    '--host',
    '127.0.0.1',
  ]);
  try {
    const own = () =>
      fs
        .readdirSync(dir)
        .filter((n) => n.startsWith('worker-w-'))
        .map((n) => path.join(dir, n))
        .find((d) => fs.existsSync(path.join(d, 'owner.json')));
    await until(() => own() !== undefined, "the worker's directory");
    const mine = own()!;
    expect(JSON.parse(fs.readFileSync(path.join(mine, 'owner.json'), 'utf8')).pid).toBe(
      w.child.pid,
    );
    expect(fs.statSync(mine).mode & 0o777).toBe(0o700);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(elsewhere)).toBe(true);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(fs.existsSync(mine)).toBe(false);
  } finally {
    w.child.kill('SIGKILL');
  }
});

test('by default worker directories live in a per-user 0700 directory under the temp dir, cleaned at start', async () => {
  const uid = process.getuid!();
  const parent = path.join(dir, `mpi-cluster-${uid}`);
  const stale = ownerDir(parent, 'worker-stale', deadPid());
  fs.chmodSync(parent, 0o755);
  const r = await runCli(
    'cli/worker.js',
    ['tcp://127.0.0.1:9', '--no-security', '--host', '127.0.0.1', '--death-timeout', '1'],
    { env: { TMPDIR: dir } },
  );
  expect(r.stderr).toMatch(/death timeout 1 s/);
  expect(fs.statSync(parent).mode & 0o777).toBe(0o700);
  expect(fs.existsSync(stale)).toBe(false);
  expect(fs.readdirSync(parent)).toEqual([]); // its own was removed when it closed
});

test('a worker whose --scheduler-file never appears exits non-zero after --death-timeout', async () => {
  const file = path.join(dir, 'never.json');
  const r = await runCli('cli/worker.js', ['--scheduler-file', file, '--death-timeout', '2']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/\[ERR_TIMEOUT\].*never\.json after 2s \(--death-timeout\)/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

test('a worker that hears nothing from its scheduler says so within seconds: the address and its interfaces', async () => {
  // A port nobody serves (the handshake never completes), as from a compute node that cannot
  // reach the login node's address.
  const keys = JSON.stringify(makeKeys());
  const w = startCli('cli/worker.js', ['tcp://127.0.0.1:9', '--death-timeout', '60'], {
    [KEYS_ENV]: keys,
  });
  try {
    await w.line(
      /warn: worker \S+ on \S+: no answer from scheduler tcp:\/\/127\.0\.0\.1:9 after \d+ s; interfaces here: .*lo 127\.0\.0\.1.*--death-timeout/,
      20_000,
    );
  } finally {
    w.child.kill('SIGTERM');
    await w.exited;
  }
});

test('a worker run by hand says at its default level that it registered, and why it closes', async () => {
  const file = path.join(dir, 'sched.json');
  const sched = startCli('cli/scheduler.js', ['--scheduler-file', file, '--host', '127.0.0.1']);
  await sched.line(/scheduler at tcp:/);
  const env = { ...process.env };
  delete env.MPI_CLUSTER_LOG;
  const worker = runCli('cli/worker.js', ['--scheduler-file', file, '--name', 'logged'], { env });
  const client = await Client.connect({ schedulerFile: file, timeout: 10_000 });
  await client.waitForWorkers(1, { timeout: 10_000 });
  await client.shutdown();
  const r = await worker;
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/info: worker logged \(w-[^)]+\) registered with scheduler tcp:/);
  expect(r.stderr).toMatch(/info: worker logged \(w-[^)]+\) closing: scheduler closing/);
  // And which address it serves on (the one that routes to the scheduler): three lines in all.
  expect(r.stderr).toMatch(/info: worker logged: serving on 127\.0\.0\.1, the address that routes/);
  expect(r.stderr.trim().split('\n')).toHaveLength(3);
  await sched.exited;
});
