import { createRequire } from 'node:module';
import * as path from 'node:path';
import { ClusterError } from '../errors';
import type { FnSpec } from '../protocol';

type AnyFn = (...args: unknown[]) => unknown;

// A real `import()`: TypeScript's CommonJS output would turn `import(url)` into `require(url)`,
// which cannot load ES modules or file: URLs.
const nativeImport = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

// What TypeScript's CommonJS output calls for `await import(x)` inside a shipped function.
const importDefault = (m: { __esModule?: boolean }) => (m && m.__esModule ? m : { default: m });
const importStar = (m: { __esModule?: boolean }) =>
  m && m.__esModule ? m : { ...(m as object), default: m };
const SCOPE = ['require', '__importDefault', '__importStar'];

/** Where each compiled source function came from, for its error stacks (taskStack). */
const labels = new WeakMap<AnyFn, string>();

/** Failures to find a module, as opposed to errors thrown while a found module loads. */
const NOT_FOUND = new Set(['MODULE_NOT_FOUND', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);

const packageName = (id: string): string =>
  id
    .split('/')
    .slice(0, id.startsWith('@') ? 2 : 1)
    .join('/');

/**
 * The `require` a shipped function sees: one made for the directory of the script that
 * submitted it, so `require('./helper')` and the packages of the user's project resolve as they
 * would there (not from dist/worker/). A module that cannot be found is ERR_TASK_REQUIRE,
 * naming the function and the directory; errors thrown while a module loads pass unchanged.
 */
function taskRequire(dir: string, fnName: string): NodeJS.Require {
  const base = createRequire(dir.endsWith(path.sep) ? dir : dir + path.sep);
  const req = function require(id: string): unknown {
    try {
      return base(id);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (!code || !NOT_FOUND.has(code)) throw err;
      const why = String((err as Error).message).split('\n')[0];
      const fix =
        id.startsWith('.') || path.isAbsolute(id)
          ? "check that the file exists there on the worker's host"
          : `install the package in that project (npm install ${packageName(id)})`;
      throw new ClusterError(
        'ERR_TASK_REQUIRE',
        `task function ${fnName || '(anonymous)'}: require('${id}') failed, resolving from ${dir} ` +
          `(the directory of the file that submitted it): ${why}; ${fix}.`,
        { cause: err },
      );
    }
  } as NodeJS.Require;
  req.resolve = base.resolve;
  req.cache = base.cache;
  req.extensions = base.extensions;
  req.main = base.main;
  return req;
}

// The source starts on a line of its own: line N of the function is line N + 3 of the
// compiled text (new Function adds two), which taskStack undoes.
const LINES_BEFORE = 3;
const compile = (body: string, req: NodeJS.Require): unknown =>
  new Function(...SCOPE, `"use strict"; return (\n${body}\n);`)(req, importDefault, importStar);

/**
 * Turns a function spec into a callable. Source travels as the function's own text and is
 * compiled with `require` (and TypeScript's import helpers) in scope; a method written in
 * shorthand (`f(x) {...}`) is compiled as an object method. Module references are imported
 * (CommonJS or ESM). `new Function`, not `vm`: on Node 20 `import()` inside vm-compiled code
 * needs --experimental-vm-modules.
 */
export async function compileFn(spec: FnSpec): Promise<AnyFn> {
  if (spec.kind === 'source') {
    const req = typeof spec.dir === 'string' ? taskRequire(spec.dir, spec.name) : require;
    let fn: unknown;
    try {
      fn = compile(spec.source, req);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const obj = compile(`{ ${spec.source} }`, req);
      fn = (obj as Record<string, unknown>)[spec.name];
    }
    if (typeof fn !== 'function') throw new TypeError(`source of ${spec.name} is not a function`);
    const where = typeof spec.dir === 'string' ? spec.dir : '';
    labels.set(fn as AnyFn, path.join(where, `<task ${spec.name || 'anonymous'}>`));
    return fn as AnyFn;
  }
  const url = spec.module.startsWith('file:')
    ? spec.module
    : require('node:url').pathToFileURL(spec.module).href;
  const mod = (await nativeImport(url)) as Record<string, unknown> & {
    default?: Record<string, unknown>;
  };
  const fn = mod[spec.export] ?? mod.default?.[spec.export];
  if (typeof fn !== 'function') {
    throw new TypeError(`module ${spec.module} has no exported function "${spec.export}"`);
  }
  return fn as AnyFn;
}

/** This package's own code, whose frames a task's error stack does not need. */
const OWN_DIR = path.resolve(__dirname, '..') + path.sep;
const EVAL_FRAME = /\(?eval at compile \([^()]*\), <anonymous>:(\d+):(\d+)\)?$/;

/**
 * A task error's stack as the user wants to read it: frames of the shipped function point at
 * `<dir>/<task name>:line:col` (lines of the function's own source) instead of our compile
 * call, and frames inside this package and Node's internals are dropped.
 */
export function taskStack(stack: string, fn?: AnyFn): string {
  const label = (fn && labels.get(fn)) ?? '<task>';
  const out: string[] = [];
  for (const line of stack.split('\n')) {
    if (!/^\s+at /.test(line)) {
      out.push(line);
      continue;
    }
    const m = EVAL_FRAME.exec(line);
    if (m) {
      const at = `${label}:${Math.max(1, Number(m[1]) - LINES_BEFORE)}:${m[2]}`;
      out.push(line.slice(0, m.index) + (m[0].startsWith('(') ? `(${at})` : at));
    } else if (!line.includes(OWN_DIR) && !/\(?node:internal\//.test(line)) out.push(line);
  }
  return out.join('\n');
}
