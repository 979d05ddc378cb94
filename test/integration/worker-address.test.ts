import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Client } from '../../src';
import {
  DIST,
  runCommand,
  startCli,
  startCommand,
  type Started,
  startPlainScheduler,
} from '../helpers/cluster';

// A worker given neither --interface nor --host serves on the address that routes to its
// scheduler (issue 19): on a node with two networks, the primary address may be the wrong one.

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const started: Started[] = [];
const namespaces: string[] = [];

afterAll(() => {
  for (const p of started) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
});

const ip = (...args: string[]): void => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr}`);
};

/** Why the namespace test cannot run here, or null when it can. */
function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `\`ip netns\` unavailable: ${r.error?.message ?? r.stderr}`;
  return null;
}

test('against a scheduler on loopback, a worker without --interface registers 127.0.0.1', async () => {
  const { sched, address } = await startPlainScheduler();
  started.push(sched);
  const worker = startCli('cli/worker.js', [address, '--no-security', '--name', 'routed']);
  started.push(worker);
  const client = await Client.connect({ address, security: false });
  await client.waitForWorkers(1, { timeout: 15_000 });
  const [info] = Object.values((await client.schedulerInfo()).workers);
  expect(info.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  await worker.line(
    new RegExp(
      `info: worker routed: serving on 127\\.0\\.0\\.1, the address that routes to the scheduler at ${escape(address)}`,
    ),
  );
  await client.shutdown();
  expect(await worker.exited).toBe(0);
  expect(await sched.exited).toBe(0);
});

const unavailable = netnsUnavailable();
if (unavailable) console.warn(`worker-address: namespace test skipped: ${unavailable}`);

(unavailable ? test.skip : test)(
  'a worker with two networks registers the address that routes to the scheduler, not the primary one',
  async () => {
    // Two namespaces of this test's own, nothing added to the host's: the scheduler's (10.211.0.1)
    // and the worker's, joined by a veth pair (10.211.0.2) and with a second network (10.212.0.2)
    // made first, so that it is the worker's primary address (its first non-loopback one).
    const sns = `mpc-sched-${process.pid}`;
    const wns = `mpc-work-${process.pid}`;
    for (const ns of [sns, wns]) {
      ip('netns', 'add', ns);
      namespaces.push(ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('link', 'add', 'oa', 'netns', wns, 'type', 'veth', 'peer', 'name', 'ob', 'netns', wns);
    ip('-n', wns, 'addr', 'add', '10.212.0.2/24', 'dev', 'oa');
    ip('link', 'add', 'vs', 'netns', sns, 'type', 'veth', 'peer', 'name', 'vw', 'netns', wns);
    ip('-n', sns, 'addr', 'add', '10.211.0.1/24', 'dev', 'vs');
    ip('-n', wns, 'addr', 'add', '10.211.0.2/24', 'dev', 'vw');
    for (const [ns, dev] of [
      [wns, 'oa'],
      [wns, 'ob'],
      [wns, 'vw'],
      [sns, 'vs'],
    ]) {
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    const primary = await runCommand('ip', [
      'netns',
      'exec',
      wns,
      process.execPath,
      '-e',
      `process.stdout.write(require(${JSON.stringify(path.join(DIST, 'net'))}).primaryAddress())`,
    ]);
    expect(primary.stdout).toBe('10.212.0.2');

    const inNs = (ns: string, script: string, args: string[]) =>
      startCommand('ip', ['netns', 'exec', ns, process.execPath, path.join(DIST, script), ...args]);
    const sched = inNs(sns, 'cli/scheduler.js', [
      '--host',
      '10.211.0.1',
      '--no-security',
      '--no-dashboard',
    ]);
    started.push(sched);
    const address = (await sched.line(/tcp:\/\/10\.211\.0\.1:\d+/)).trim();
    const worker = inNs(wns, 'cli/worker.js', [address, '--no-security', '--name', 'two-nets']);
    started.push(worker);
    // The client must be in the scheduler's namespace too: nothing here reaches it.
    const client = await runCommand(
      'ip',
      [
        'netns',
        'exec',
        sns,
        process.execPath,
        '-e',
        `(async () => {
          const { Client } = require(${JSON.stringify(path.join(DIST, 'index.js'))});
          const client = await Client.connect({ address: ${JSON.stringify(address)}, security: false });
          await client.waitForWorkers(1, { timeout: 15000 });
          const info = await client.schedulerInfo();
          process.stdout.write(JSON.stringify(Object.values(info.workers).map((w) => w.address)));
          await client.shutdown();
        })().catch((e) => { console.error(e); process.exit(1); });`,
      ],
      { timeout: 30_000 },
    );
    expect(client).toMatchObject({ code: 0 }); // on failure, shows the client's stderr
    expect(JSON.parse(client.stdout)).toEqual([
      expect.stringMatching(/^tcp:\/\/10\.211\.0\.2:\d+$/),
    ]);
    await worker.line(
      new RegExp(
        `worker two-nets: serving on 10\\.211\\.0\\.2, the address that routes to the scheduler at ${escape(address)}`,
      ),
    );
    expect(await worker.exited).toBe(0);
    expect(await sched.exited).toBe(0);
  },
);
