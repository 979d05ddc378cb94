/**
 * A script that starts a cluster and ends without close() ends, with its workers gone (issue 19).
 * Each script runs in its own Node process, as a user's would; it prints the result it got and
 * the worker processes' pids, and the test checks the exit and that those processes are gone.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DIST, runCommand } from '../helpers/cluster';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'script-end-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Writes `body` as a CommonJS script with mpi-cluster required, runs it, returns its output. */
async function runScript(name: string, body: string) {
  const file = path.join(dir, `${name}.js`);
  fs.writeFileSync(
    file,
    `const { Client, LocalCluster } = require(${JSON.stringify(DIST)});\n` +
      `const pids = async (c) => Object.values((await c.schedulerInfo()).workers).map((w) => w.pid);\n` +
      `(async () => {\n${body}\n})();\n`,
  );
  // The timeout is the test's verdict: before this fix such scripts never ended.
  const r = await runCommand(process.execPath, [file], { timeout: 30_000 });
  const lines = r.stdout.trim().split('\n');
  const workerPids = JSON.parse(lines.find((l) => l.startsWith('PIDS '))!.slice(5)) as number[];
  return { ...r, lines, workerPids };
}

test('Client.connect() without close(): the script ends, its LocalCluster closed', async () => {
  const r = await runScript(
    'connect',
    `const client = await Client.connect({ local: { nWorkers: 2 } });
     console.log('PIDS ' + JSON.stringify(await pids(client)));
     console.log('RESULT ' + (await client.submit((x) => x + 1, 41).result()));`,
  );
  expect(r.code).toBe(0);
  expect(r.lines).toContain('RESULT 42');
  expect(r.workerPids).toHaveLength(2);
  expect(r.workerPids.filter(alive)).toEqual([]);
  expect(r.stderr).toBe('');
});

test('LocalCluster.start() + Client.connect(cluster), neither closed: the script ends', async () => {
  const r = await runScript(
    'local-cluster',
    `const cluster = await LocalCluster.start({ nWorkers: 2 });
     const client = await Client.connect(cluster);
     console.log('PIDS ' + JSON.stringify(await pids(client)));
     const fs = client.map((x) => x * x, [1, 2, 3]);
     console.log('RESULT ' + JSON.stringify(await client.gather(fs)));`,
  );
  expect(r.code).toBe(0);
  expect(r.lines).toContain('RESULT [1,4,9]');
  expect(r.workerPids.filter(alive)).toEqual([]);
  expect(r.stderr).toBe('');
});

test('a script that waits on its own timer between tasks is not cut short', async () => {
  // Between the two tasks only the script's timer keeps Node busy: the cluster must stay.
  const r = await runScript(
    'timer',
    `const client = await Client.connect({ local: { nWorkers: 1 } });
     console.log('PIDS ' + JSON.stringify(await pids(client)));
     console.log('FIRST ' + (await client.submit((x) => x + 1, 1).result()));
     await new Promise((r) => setTimeout(r, 700));
     const cluster = await LocalCluster.start({ nWorkers: 1 });
     const second = await Client.connect(cluster);
     console.log('SECOND ' + (await client.submit((x) => x + 2, 1).result()));
     console.log('THIRD ' + (await second.submit((x) => x + 3, 1).result()));`,
  );
  expect(r.code).toBe(0);
  expect(r.lines).toEqual(expect.arrayContaining(['FIRST 2', 'SECOND 3', 'THIRD 4']));
  expect(r.workerPids.filter(alive)).toEqual([]);
});

test('a script with close() still ends the same way, and close() after the end is harmless', async () => {
  const r = await runScript(
    'closed',
    `const client = await Client.connect({ local: { nWorkers: 1 } });
     console.log('PIDS ' + JSON.stringify(await pids(client)));
     console.log('RESULT ' + (await client.submit((x) => x * 2, 21).result()));
     await client.close();
     await client.close();`,
  );
  expect(r.code).toBe(0);
  expect(r.lines).toContain('RESULT 42');
  expect(r.workerPids.filter(alive)).toEqual([]);
});
