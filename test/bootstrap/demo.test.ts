/**
 * `npm run demo` (scripts/demo.js): the user's two lines of output and, around them, one line of
 * ours saying the cluster is ready (the log policy in src/log.ts), nothing else.
 */
import * as path from 'node:path';
import { runCommand, ROOT } from '../helpers/cluster';

test('the demo prints the command, the two lines of examples/squares.js and one ready line', async () => {
  const env = { ...process.env };
  delete env.MPI_CLUSTER_LOG;
  const r = await runCommand(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], {
    cwd: ROOT,
    env,
    timeout: 60_000,
  });
  if (r.code !== 0) throw new Error(`demo exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  const out = r.stdout.trim().split('\n');
  expect(out).toHaveLength(3);
  expect(out[0]).toMatch(
    /^\$ mpirun .* -np 10 node dist\/mpi-init\.js --interface lo examples\/squares\.js$/,
  );
  expect(out[1]).toBe(Array.from({ length: 16 }, (_, i) => i * i).join(' '));
  expect(out[2]).toMatch(/^16 tasks on 8 workers in [\d.]+ s$/);
  const err = r.stderr.trim().split('\n');
  expect(err).toHaveLength(1);
  expect(err[0]).toMatch(/ info: cluster ready: 8 workers, scheduler tcp:\/\/127\.0\.0\.1:\d+, /);
});
