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
const scopeValues = () => [require, importDefault, importStar];

/**
 * Turns a function spec into a callable. Source travels as the function's own text and is
 * compiled with `require` (and TypeScript's import helpers) in scope; a method written in shorthand (`f(x) {...}`) is compiled as
 * an object method. Module references are imported (CommonJS or ESM).
 */
export async function compileFn(spec: FnSpec): Promise<AnyFn> {
  if (spec.kind === 'source') {
    let fn: unknown;
    try {
      fn = new Function(...SCOPE, `"use strict"; return (${spec.source});`)(...scopeValues());
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const obj = new Function(...SCOPE, `"use strict"; return ({ ${spec.source} });`)(
        ...scopeValues(),
      );
      fn = (obj as Record<string, unknown>)[spec.name];
    }
    if (typeof fn !== 'function') throw new TypeError(`source of ${spec.name} is not a function`);
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
