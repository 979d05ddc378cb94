#!/usr/bin/env node
// Hello from every rank, then a bcast and a barrier.
//
//   npm run build && mpirun -np 4 node examples/mpi-hello.js
//   MPI_CLUSTER_MPI=mpich mpiexec.mpich -n 4 node examples/mpi-hello.js
//
// (As root, Open MPI also wants OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1,
// and --oversubscribe for more ranks than cores.)
'use strict';
const { MPI } = require('../dist/mpi');

async function main() {
  MPI.init();
  const comm = MPI.world();
  console.log(
    `rank ${comm.rank} of ${comm.size} on ${MPI.processorName()} (${MPI.vendor()}, ${MPI.flavour()})`,
  );
  const message = await comm.bcast(
    comm.rank === 0 ? Buffer.from(`hello from rank 0 at ${new Date().toISOString()}`) : null,
    0,
  );
  await comm.barrier();
  if (comm.rank === comm.size - 1) console.log(`rank ${comm.rank} received: ${message}`);
  // MPI is finalized on exit by the handlers init() installed.
}

main();
