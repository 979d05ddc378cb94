#!/usr/bin/env node
// Builds the native MPI binding with cmake-js into build/<flavour>/.
//
//   node scripts/build-native.js              default flavour (MPI_CLUSTER_MPI, else openmpi
//                                             if mpicc.openmpi exists, else system)
//   MPI_CLUSTER_MPI=mpich node scripts/build-native.js
//   node scripts/build-native.js --all        every flavour whose compiler exists
//   node scripts/build-native.js --optional   (npm install) no MPI: warn and exit 0
//
// Flavours: openmpi (mpicc.openmpi), mpich (mpicc.mpich), system (whatever mpicc is on
// PATH: Cray, Intel, a module-loaded build...).
'use strict';

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const FLAVOURS = ['openmpi', 'mpich', 'system'];
const COMPILERS = { openmpi: 'mpicc.openmpi', mpich: 'mpicc.mpich', system: 'mpicc' };
const INSTALL_HINT =
  'Install MPI first, e.g. `apt-get install openmpi-bin libopenmpi-dev` (Open MPI) or ' +
  '`apt-get install mpich libmpich-dev` (MPICH), or load your site MPI module, then run ' +
  '`npm run build:native`.';

function which(command) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

function isOpenMpiWrapper(compiler) {
  const result = spawnSync(compiler, ['--showme:version'], { encoding: 'utf8' });
  return result.status === 0 && /Open MPI/.test(`${result.stdout}${result.stderr}`);
}

/** The MPI C compiler for a flavour, or null; falls back to plain mpicc when it matches. */
function compilerFor(flavour) {
  const suffixed = which(COMPILERS[flavour]);
  if (suffixed) return suffixed;
  const plain = which('mpicc');
  if (!plain || flavour === 'system') return plain;
  // A plain mpicc is only a stand-in when it belongs to the requested implementation.
  return isOpenMpiWrapper(plain) === (flavour === 'openmpi') ? plain : null;
}

function defaultFlavour() {
  const requested = process.env.MPI_CLUSTER_MPI;
  if (requested) {
    if (!FLAVOURS.includes(requested)) {
      fail(`MPI_CLUSTER_MPI="${requested}" is not one of ${FLAVOURS.join(', ')}`);
    }
    return requested;
  }
  return which(COMPILERS.openmpi) ? 'openmpi' : 'system';
}

function fail(message) {
  console.error(`build-native: ${message}`);
  process.exit(1);
}

function build(flavour, compiler) {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [ROOT] });
  const out = path.join('build', flavour);
  console.log(`build-native: building ${flavour} with ${compiler} into ${out}/`);
  const result = spawnSync(
    process.execPath,
    [
      cmakeJs,
      'build',
      '--directory',
      ROOT,
      '--out',
      out,
      '--prefer-make',
      '--parallel',
      String(Math.max(1, require('os').availableParallelism())),
      `--CDMPI_C_COMPILER=${compiler}`,
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  return result.status === 0;
}

function main() {
  const args = process.argv.slice(2);
  const optional = args.includes('--optional');
  const all = args.includes('--all');
  const unknown = args.filter((arg) => arg !== '--optional' && arg !== '--all');
  if (unknown.length > 0) fail(`unknown argument(s): ${unknown.join(' ')}`);

  let plan;
  if (all) {
    plan = ['openmpi', 'mpich']
      .filter((flavour) => which(COMPILERS[flavour]))
      .map((flavour) => [flavour, which(COMPILERS[flavour])]);
    if (plan.length === 0 && which('mpicc')) plan = [['system', which('mpicc')]];
  } else {
    const flavour = defaultFlavour();
    const compiler = compilerFor(flavour);
    plan = compiler ? [[flavour, compiler]] : [];
    if (!compiler && !optional) {
      fail(
        `no MPI C compiler for flavour "${flavour}" (looked for ${COMPILERS[flavour]}). ${INSTALL_HINT}`,
      );
    }
  }
  if (plan.length === 0) {
    const message = `no MPI C compiler found (mpicc.openmpi, mpicc.mpich, mpicc); the native MPI binding was not built. The non-MPI parts of mpi-cluster work without it. ${INSTALL_HINT}`;
    if (optional) {
      console.warn(`build-native: warning: ${message}`);
      return;
    }
    fail(message);
  }
  if (!which('cmake')) {
    const message =
      'cmake is not on PATH (apt-get install cmake); the native MPI binding was not built.';
    if (optional) {
      console.warn(`build-native: warning: ${message}`);
      return;
    }
    fail(message);
  }
  const failed = plan.filter(([flavour, compiler]) => !build(flavour, compiler)).map(([f]) => f);
  if (failed.length > 0) {
    const message = `building ${failed.join(', ')} failed (see the compiler output above).`;
    if (optional) {
      console.warn(`build-native: warning: ${message} Retry with \`npm run build:native\`.`);
      return;
    }
    fail(message);
  }
}

main();
