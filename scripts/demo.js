'use strict';
// npm run demo: 16 one-second tasks on 8 workers, one MPI launch on this machine (about 2 s).
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' };
const args = ['--oversubscribe', '--bind-to', 'none', '-np', '10'];
const command = [process.execPath, 'dist/mpi-init.js', '--interface', 'lo', 'examples/squares.js'];
console.log(`$ mpirun ${[...args, 'node', ...command.slice(1)].join(' ')}`);
const r = spawnSync('mpirun', [...args, ...command], { cwd: root, env, stdio: 'inherit' });
if (r.error) {
  console.error(`demo: cannot run mpirun (${r.error.message}); run scripts/setup.sh first`);
  process.exit(1);
}
process.exit(r.status ?? 1);
