/** The one place that loads the compiled MPI binding. */
import fs from 'fs';
import path from 'path';
import { ClusterError, OptionError } from '../errors';
import type { NativeAddon } from './native';

export type Flavour = 'openmpi' | 'mpich' | 'system';
export const FLAVOURS: readonly Flavour[] = ['openmpi', 'mpich', 'system'];
/** The one switch that picks the MPI implementation, at build time and at load time. */
export const FLAVOUR_ENV = 'MPI_CLUSTER_MPI';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

export function addonPath(flavour: Flavour, root: string = PACKAGE_ROOT): string {
  return path.join(root, 'build', flavour, 'Release', 'mpi_cluster.node');
}

/**
 * The flavour to load: the one MPI_CLUSTER_MPI names, else openmpi when built, else system.
 */
export function chooseFlavour(
  requested: string | undefined,
  isBuilt: (flavour: Flavour) => boolean,
): Flavour {
  if (requested !== undefined && requested !== '') {
    if (!(FLAVOURS as readonly string[]).includes(requested)) {
      throw new OptionError(
        `${FLAVOUR_ENV}="${requested}" is not a known MPI flavour; use one of ${FLAVOURS.join(', ')}`,
      );
    }
    return requested as Flavour;
  }
  return isBuilt('openmpi') ? 'openmpi' : 'system';
}

function buildCommand(flavour: Flavour): string {
  return flavour === 'openmpi'
    ? 'npm run build:native'
    : `${FLAVOUR_ENV}=${flavour} npm run build:native`;
}

const SYSTEM_PACKAGES: Record<Flavour, string> = {
  openmpi: 'Open MPI comes from `apt-get install openmpi-bin libopenmpi-dev`',
  mpich: 'MPICH comes from `apt-get install mpich libmpich-dev`',
  system:
    'it uses the `mpicc` on PATH (load your site MPI module, or apt-get install openmpi-bin libopenmpi-dev)',
};

function missingMessage(flavour: Flavour, file: string, isBuilt: (f: Flavour) => boolean): string {
  const others = FLAVOURS.filter((f) => f !== flavour && isBuilt(f));
  const hint =
    others.length > 0
      ? ` Built flavours: ${others.join(', ')} (select one with ${FLAVOUR_ENV}=${others[0]}).`
      : '';
  return (
    `the native MPI binding for flavour "${flavour}" is not built (no ${file}). ` +
    `Build it with \`${buildCommand(flavour)}\`; ${SYSTEM_PACKAGES[flavour]}.${hint}`
  );
}

/**
 * UCX (under MPICH's ch4:ucx, and Open MPI's pml/osc ucx) patches malloc and the mmap/brk
 * family to track registered memory. Inside node that made about 1 in 20 MPICH jobs
 * segfault in V8 (heap addresses "not mapped", in the compiler or GC); with both hooks
 * off, 0 in 60. Only the variables the user left unset are set, before libucs loads.
 * The cost: no UCX registration cache, i.e. slower large transfers over RDMA networks.
 */
function disableUcxMemoryHooks(): void {
  process.env.UCX_MEM_MALLOC_HOOKS ??= 'no';
  process.env.UCX_MEM_EVENTS ??= 'no';
  // mpi-cluster moves task data over ZeroMQ; MPI only carries a few bytes at start-up. Open MPI's
  // ob1 PML skips probing UCX, which costs about 0.25 s per job here. Unset only: users who run
  // their own heavy MPI traffic in the same ranks set OMPI_MCA_pml themselves (e.g. ucx).
  process.env.OMPI_MCA_pml ??= 'ob1';
}

let loaded: { addon: NativeAddon; flavour: Flavour } | undefined;

/** Loads (once) the binding for the selected flavour; throws ERR_ADDON_MISSING if absent. */
export function loadAddon(): NativeAddon {
  return loadBinding().addon;
}

export function loadedFlavour(): Flavour {
  return loadBinding().flavour;
}

function loadBinding(): { addon: NativeAddon; flavour: Flavour } {
  if (loaded) return loaded;
  const isBuilt = (flavour: Flavour): boolean => fs.existsSync(addonPath(flavour));
  const flavour = chooseFlavour(process.env[FLAVOUR_ENV], isBuilt);
  const file = addonPath(flavour);
  if (!isBuilt(flavour)) {
    throw new ClusterError('ERR_ADDON_MISSING', missingMessage(flavour, file, isBuilt));
  }
  disableUcxMemoryHooks();
  let addon: NativeAddon;
  try {
    addon = require(file) as NativeAddon;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ClusterError(
      'ERR_ADDON_MISSING',
      `the native MPI binding ${file} failed to load (${reason}). If its MPI library was ` +
        `removed or changed, rebuild with \`${buildCommand(flavour)}\`; ${SYSTEM_PACKAGES[flavour]}.`,
      { cause },
    );
  }
  addon.setErrorClass(ClusterError);
  loaded = { addon, flavour };
  return loaded;
}
