/** Argument checks at the public boundary; each error names the argument. Pure. */
import { OptionError } from '../errors';
import { INT_MAX } from './chunks';

export type ThreadLevel = 'single' | 'funneled' | 'serialized' | 'multiple';
/** In the standard's order: index = the addon's level number. */
export const THREAD_LEVELS: readonly ThreadLevel[] = [
  'single',
  'funneled',
  'serialized',
  'multiple',
];

export interface InitOptions {
  /** Thread support to request (default 'funneled': MPI is only ever called from the main thread). */
  threadLevel?: ThreadLevel;
  /** Install exit/crash handlers (default true); see installExitHandlers. */
  handleExit?: boolean;
}

export const INIT_DEFAULTS: Readonly<Required<InitOptions>> = Object.freeze({
  threadLevel: 'funneled',
  handleExit: true,
});

export function checkInitOptions(options: unknown): Required<InitOptions> {
  if (options === undefined) return { ...INIT_DEFAULTS };
  if (options === null || typeof options !== 'object') {
    throw new OptionError('options must be an object');
  }
  const { threadLevel = INIT_DEFAULTS.threadLevel, handleExit = INIT_DEFAULTS.handleExit } =
    options as InitOptions;
  if (!THREAD_LEVELS.includes(threadLevel)) {
    throw new OptionError(
      `options.threadLevel must be one of ${THREAD_LEVELS.join(', ')}, got ${String(threadLevel)}`,
    );
  }
  if (typeof handleExit !== 'boolean') {
    throw new OptionError(`options.handleExit must be a boolean, got ${typeof handleExit}`);
  }
  return { threadLevel, handleExit };
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/** A rank of a communicator of `size` ranks. */
export function checkRank(name: string, value: unknown, size: number): number {
  if (!isInt(value)) throw new TypeError(`${name} must be an integer, got ${String(value)}`);
  if (value < 0 || value >= size) {
    throw new RangeError(
      `${name} must be in [0, ${size - 1}] (communicator size ${size}), got ${value}`,
    );
  }
  return value;
}

/** Bytes to send: a Buffer, or any Uint8Array viewed as a Buffer without copying. */
export function checkBytes(name: string, value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  throw new TypeError(`${name} must be a Buffer or Uint8Array, got ${describe(value)}`);
}

/** Bytes at the root, ignored elsewhere (null/undefined allowed there). */
export function checkRootBytes(name: string, value: unknown, isRoot: boolean): Buffer | null {
  if (isRoot) return checkBytes(name, value);
  if (value === null || value === undefined) return null;
  checkBytes(name, value);
  return null;
}

/** split colors are non-negative ints; null/undefined means "not in any new communicator". */
export function checkColor(value: unknown): number {
  if (value === null || value === undefined) return -1;
  if (!isInt(value) || value < 0 || value > INT_MAX) {
    throw new RangeError(
      `color must be an integer in [0, ${INT_MAX}] or null, got ${String(value)}`,
    );
  }
  return value;
}

export function checkInt32(name: string, value: unknown): number {
  if (!isInt(value) || value < -INT_MAX - 1 || value > INT_MAX) {
    throw new RangeError(`${name} must be a 32-bit integer, got ${String(value)}`);
  }
  return value;
}

/** Process exit codes: what mpirun can report back. */
export function checkExitCode(value: unknown): number {
  if (!isInt(value) || value < 0 || value > 255) {
    throw new RangeError(`code must be an integer in [0, 255], got ${String(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/** Largest tag every MPI implementation must accept (the standard's lower bound of MPI_TAG_UB). */
export const MAX_TAG = 32767;

export function checkTag(name: string, value: unknown): number {
  if (!isInt(value) || value < 0 || value > MAX_TAG) {
    throw new RangeError(`${name} must be an integer in [0, ${MAX_TAG}], got ${String(value)}`);
  }
  return value;
}

/**
 * The members of a new group communicator, in their new rank order: distinct ranks of a
 * communicator of `size` ranks that include the caller (`self`).
 */
export function checkGroupRanks(value: unknown, size: number, self: number): Int32Array {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`ranks must be a non-empty array of ranks, got ${describe(value)}`);
  }
  const seen = new Set<number>();
  value.forEach((rank, i) => {
    checkRank(`ranks[${i}]`, rank, size);
    if (seen.has(rank)) throw new RangeError(`ranks lists rank ${rank} twice`);
    seen.add(rank);
  });
  if (!seen.has(self)) {
    throw new RangeError(`ranks must include the calling rank ${self}, got [${value.join(', ')}]`);
  }
  return Int32Array.from(value);
}
