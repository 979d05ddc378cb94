/**
 * Under MPI a rank cannot be restarted: a task over its thread's heap cap (from the worker's
 * memory limit) errs with ERR_TASK_MEMORY, and the job finishes with the other results, exit 0.
 */
import * as path from 'node:path';
import { describeFlavours, runMpiCommand } from '../mpi/launch';

describeFlavours('memory limits under MPI', (flavour) => {
  test('a task over its heap cap errs ERR_TASK_MEMORY; the job finishes, exit 0', async () => {
    const r = await runMpiCommand(flavour, 3, [
      process.execPath,
      path.join(__dirname, 'fixtures', 'heap-hog.js'),
    ]);
    const out = r.stdout.map((l) => l.text);
    expect(out).toContain('HOG ERR_TASK_MEMORY');
    expect(out).toContain('SQUARES [1,4,9,16]');
    expect(r.code).toBe(0);
  }, 90_000);
});
