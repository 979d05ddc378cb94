/**
 * The public API's types, as a newcomer meets them under `tsc --strict` (`npm run typecheck`
 * compiles this file: each `@ts-expect-error` below fails the build if the error it expects does
 * not occur). The functions are declared, never called: the checks happen at compile time.
 */
import { Client, Future, initialize, type InitializeOptions } from '../../src';

declare const client: Client;
const square = (x: number) => x * x;
const add = (a: number, b: string) => `${a}${b}`;

export function mapTypes(): void {
  const ok: Future<number>[] = client.map(square, [1, 2, 3]);
  const fromFutures: Future<number>[] = client.map(square, ok);
  const twoArgs: Future<string>[] = client.map(add, [1, 2], new Set(['a', 'b']));
  // @ts-expect-error map's iterables are typed from the function's parameters
  client.map(square, ['a', 'b']);
  // @ts-expect-error the second iterable is of the second parameter's type
  client.map(add, [1, 2], [3, 4]);
  void [fromFutures, twoArgs];
}

export async function initializeTypes(options: InitializeOptions): Promise<void> {
  // The client's rank is the only one that gets past initialize() with the default exit: true.
  const c: Client = await initialize({ interface: 'ib0' });
  const alsoC: Client = await initialize();
  // With exit: false the other ranks get null, so the type says so.
  const maybe: Client | null = await initialize({ exit: false });
  // @ts-expect-error exit: false can give null
  const notNull: Client = await initialize({ exit: false });
  const general: Client | null = await initialize(options);
  void [c, alsoC, maybe, notNull, general];
}

export async function futureTypes(): Promise<void> {
  const f = client.submit(square, 3);
  // `await future` is the Future itself (not a promise, on purpose); its value is result().
  const same: Future<number> = await f;
  const value: number = await f.result();
  // @ts-expect-error awaiting a Future does not give its value
  const wrong: number = await f;
  void [same, value, wrong];
}

test('the API types are checked at compile time (npm run typecheck)', () => {
  expect(typeof mapTypes).toBe('function');
});
