/**
 * MPI for Node.js: init/finalize, communicators and byte-buffer collectives.
 *
 * ```js
 * const { MPI } = require('mpi-cluster/dist/mpi');
 * MPI.init();
 * const comm = MPI.world();
 * const data = await comm.bcast(comm.rank === 0 ? Buffer.from('hi') : null, 0);
 * ```
 */
import { ClusterError } from '../errors';
import { addonPath, FLAVOUR_ENV, loadAddon, loadedFlavour, type Flavour } from './addon';
import { checkInitOptions, THREAD_LEVELS, type InitOptions, type ThreadLevel } from './args';
import { Communicator } from './communicator';
import { installExitHandlers } from './exit';
import { detectLauncherMismatch } from './mismatch';
import { unsafeFenceWarning } from './slurm-fence';

export {
  Communicator,
  installExitHandlers,
  detectLauncherMismatch,
  unsafeFenceWarning,
  addonPath,
  FLAVOUR_ENV,
};
export type { Flavour, InitOptions, ThreadLevel };
export type { LauncherMismatch, LoadedMpi } from './mismatch';
export { planChunks, gatherLayout, MAX_CHUNK, INT_MAX } from './chunks';
export { MAX_TAG } from './args';
export { REDUCE_OPS, type ReduceOp, type ReducibleArray } from './reduce-args';

let provided: ThreadLevel | undefined;
let worldComm: Communicator | undefined;

/**
 * Initializes MPI (MPI_Init_thread) and returns the thread level provided. Calling it
 * again returns the same level. Warns on stderr when the world size is 1 although the
 * launcher started many ranks (binding and launcher MPI differ), and (rank 0, before
 * MPI_Init) when a multi-node srun step runs srun's PMIx fence as "tree" (see
 * unsafeFenceWarning). Unless
 * `handleExit: false`, installs the exit handlers (see installExitHandlers).
 */
export function init(options?: InitOptions): ThreadLevel {
  const { threadLevel, handleExit } = checkInitOptions(options);
  const native = loadAddon();
  if (native.finalized()) {
    throw new ClusterError('ERR_MPI', 'MPI has been finalized and cannot be initialized again');
  }
  if (!native.initialized()) {
    const fenceWarning = unsafeFenceWarning(process.env);
    if (fenceWarning) process.stderr.write(`${fenceWarning}\n`);
    provided = THREAD_LEVELS[native.init(THREAD_LEVELS.indexOf(threadLevel))];
    const mismatch = detectLauncherMismatch(native.size(0), process.env, {
      vendor: native.vendor(),
      flavour: loadedFlavour(),
    });
    if (mismatch) process.stderr.write(`${mismatch.message}\n`);
  }
  if (handleExit) installExitHandlers();
  return provided ?? threadLevel;
}

/** True when the native binding for the selected flavour is built and loads. */
export function available(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

export function initialized(): boolean {
  return loadAddon().initialized();
}

export function finalized(): boolean {
  return loadAddon().finalized();
}

/** MPI_Finalize; collective over COMM_WORLD. A no-op once finalized. */
export function finalize(): void {
  const native = loadAddon();
  if (native.finalized()) return;
  requireInitialized('finalize');
  native.finalize();
}

/** MPI_COMM_WORLD. */
export function world(): Communicator {
  requireInitialized('world');
  worldComm ??= new Communicator(loadAddon(), 0);
  return worldComm;
}

export function processorName(): string {
  requireInitialized('processorName');
  return loadAddon().processorName();
}

/** MPI_Get_library_version text; works before init. */
export function libraryVersion(): string {
  return loadAddon().libraryVersion();
}

/** "Open MPI", "MPICH", ... of the loaded binding; works before init. */
export function vendor(): string {
  return loadAddon().vendor();
}

/** Which build was loaded (build/<flavour>), chosen by MPI_CLUSTER_MPI. */
export function flavour(): Flavour {
  return loadedFlavour();
}

function requireInitialized(operation: string): void {
  const native = loadAddon();
  if (!native.initialized() || native.finalized()) {
    throw new ClusterError(
      'ERR_MPI_NOT_INITIALIZED',
      `${operation}() needs MPI ${native.finalized() ? 'before finalize()' : 'to be initialized: call init() first'}`,
    );
  }
}

export const MPI = Object.freeze({
  init,
  available,
  initialized,
  finalized,
  finalize,
  world,
  processorName,
  libraryVersion,
  vendor,
  flavour,
});
