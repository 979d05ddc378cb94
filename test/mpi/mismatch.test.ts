import { describeFlavours, runNode } from './launch';

const VENDORS = { openmpi: 'Open MPI', mpich: 'MPICH' };

describeFlavours('launcher mismatch warning', (flavour) => {
  test('a singleton that SLURM_NTASKS=4 says is one of 4 ranks warns on stderr', async () => {
    const run = await runNode(flavour, 'world-size.js', { SLURM_NTASKS: '4' });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: run.stderr });
    expect(run.stdout.map((l) => l.text)).toContain(`SIZE 1 ${VENDORS[flavour.name]}`);
    const warnings = run.stderr.split('\n').filter((line) => line.includes('warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('SLURM_NTASKS=4');
    expect(warnings[0]).toContain(VENDORS[flavour.name]);
    expect(warnings[0]).toContain(`flavour "${flavour.name}"`);
  }, 60_000);

  test('a plain singleton does not warn', async () => {
    const run = await runNode(flavour, 'world-size.js');
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('warning');
  }, 60_000);
});
