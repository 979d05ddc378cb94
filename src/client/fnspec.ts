import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterError, OptionError } from '../errors';
import type { FnSpec } from '../protocol';
import { freeVariables } from './closure';

const MODULE_REF = Symbol.for('mpi-cluster.moduleFunction');

/** A function that workers import from a module file instead of receiving its source. */
export interface ModuleFunction {
  readonly [MODULE_REF]: true;
  readonly module: string;
  readonly export: string;
}

/**
 * Names an exported function of a module file, for tasks that need imports: workers import the
 * module (same filesystem, as on an HPC cluster) and call the export.
 *
 * ```ts
 * client.submit(fromModule(require.resolve('./tasks'), 'simulate'), 42)
 * client.submit(fromModule(import.meta.url, 'simulate'), 42)   // from an ES module
 * ```
 */
export function fromModule(module: string, exportName: string): ModuleFunction {
  if (typeof module !== 'string' || module.length === 0) {
    throw new OptionError('fromModule(module, name): module must be a file path or file: URL');
  }
  if (typeof exportName !== 'string' || exportName.length === 0) {
    throw new OptionError('fromModule(module, name): name must be the export to call');
  }
  const resolved = module.startsWith('file:') ? module : path.resolve(module);
  return { [MODULE_REF]: true, module: resolved, export: exportName };
}

export function isModuleFunction(v: unknown): v is ModuleFunction {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[MODULE_REF] === true;
}

export type TaskFunction = ((...args: never[]) => unknown) | ModuleFunction;

const cache = new WeakMap<object, { id: string; spec: FnSpec }>();
/** Inline arrows are new objects on every call: also cache by source, so parsing happens once. */
const bySource = new Map<string, { id: string; spec: FnSpec }>();
const BY_SOURCE_LIMIT = 1000;

/** This package's own code: dist/ when built, src/ under ts-jest. */
const OWN_DIR = path.resolve(__dirname, '..') + path.sep;

/**
 * The directory `require` inside a source function resolves from on the workers: that of the
 * file which called into mpi-cluster (submit, map, ...), the first stack frame outside this
 * package. Where a function was defined is not visible to JavaScript (only to the inspector);
 * for an inline function it is the calling file. A function imported from another file
 * resolves from the file that submits it (README; fromModule keeps its own module's require).
 * `require.main` would be wrong for a script run by a test runner or a library that submits on
 * its user's behalf, and the working directory for any script started from elsewhere; the
 * working directory is only the fallback for callers without a file (`node -e`, the REPL).
 */
function callerDir(): string {
  const { prepareStackTrace, stackTraceLimit } = Error;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  let sites: NodeJS.CallSite[] = [];
  try {
    Error.stackTraceLimit = 12; // submit and map call this from a handful of frames
    Error.prepareStackTrace = (_err, callSites) => callSites;
    Error.captureStackTrace(holder, callerDir);
    sites = holder.stack ?? []; // formatted on first read: read it while the hook is ours
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    Error.stackTraceLimit = stackTraceLimit;
  }
  for (const site of sites) {
    // A path (CommonJS), a file: URL (ES module), node:..., [eval], REPL1 or nothing (eval code).
    const name = site.getFileName();
    if (!name) continue;
    const file = name.startsWith('file:') ? fileURLToPath(name) : name;
    if (path.isAbsolute(file) && !file.startsWith(OWN_DIR)) return path.dirname(file);
  }
  return process.cwd();
}

/**
 * The spec and id of a function. Source functions are checked for free variables here, on the
 * client, so a closure fails at submit with a clear message instead of deep inside a worker.
 * The id covers the directory `require` resolves from: one source submitted from two
 * directories is two functions.
 */
export function fnSpecOf(fn: TaskFunction): { id: string; spec: FnSpec } {
  const hit = cache.get(fn);
  if (hit) return hit;
  let spec: FnSpec;
  let sourceKey: string | undefined;
  if (isModuleFunction(fn)) {
    spec = { kind: 'module', module: fn.module, export: fn.export };
  } else if (typeof fn === 'function') {
    const source = Function.prototype.toString.call(fn);
    // Only a function that can call `require` depends on where it resolves from; the others keep
    // one id wherever they are submitted, and skip reading the stack (a few microseconds).
    const dir = /\brequire\b/.test(source) ? callerDir() : undefined;
    sourceKey = `${dir ?? ''}\0${source}`;
    const known = bySource.get(sourceKey);
    if (known && known.spec.kind === 'source' && known.spec.name === fn.name) {
      cache.set(fn, known);
      return known;
    }
    if (/\{\s*\[native code\]\s*\}$/.test(source)) {
      throw new ClusterError(
        'ERR_CLOSURE',
        `${fn.name || 'this function'} is a native or bound function and cannot be sent to workers; wrap it: (x) => Math.sqrt(x)`,
      );
    }
    let free: string[];
    try {
      free = freeVariables(source);
    } catch (err) {
      throw new ClusterError(
        'ERR_CLOSURE',
        `cannot parse the source of ${fn.name || 'this function'} to send it to workers: ${(err as Error).message}`,
      );
    }
    if (free.length > 0) {
      const names = free.map((n) => `"${n}"`).join(', ');
      throw new ClusterError(
        'ERR_CLOSURE',
        `${fn.name || 'the function'} refers to ${names}, defined outside it; workers receive only the function's own source. ` +
          `Pass ${free.length > 1 ? 'them' : 'it'} as an argument (client.submit((x, ${free[0]}) => ..., x, ${free[0]})), ` +
          `define ${free.length > 1 ? 'them' : 'it'} inside the function, or export the function from a module and submit fromModule(file, name).`,
      );
    }
    spec = { kind: 'source', source, name: fn.name, ...(dir === undefined ? {} : { dir }) };
  } else {
    throw new OptionError(`a task must be a function or fromModule(...), got ${typeof fn}`);
  }
  const id = createHash('sha1').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  const entry = { id, spec };
  cache.set(fn, entry);
  if (sourceKey !== undefined) {
    if (bySource.size >= BY_SOURCE_LIMIT) bySource.clear();
    bySource.set(sourceKey, entry);
  }
  return entry;
}

export function fnName(fn: TaskFunction): string {
  return (isModuleFunction(fn) ? fn.export : fn.name) || 'task';
}
