import * as os from 'node:os';
import { parseMemoryLimit, resolveWorkerOptions } from '../../src/worker/options';
import { validateTaskOptions } from '../../src/client/task-options';

test.each([
  ['4GB', 4e9],
  ['512MiB', 512 * 2 ** 20],
  [1000, 1000],
  ['1e3', 1000],
])('memory limit %p is %p bytes', (input, bytes) => {
  expect(parseMemoryLimit(input)).toBe(bytes);
});

test('fractions and auto are shares of host memory', () => {
  expect(parseMemoryLimit(0.5)).toBe(Math.floor(os.totalmem() * 0.5));
  expect(parseMemoryLimit('auto', 1)).toBeLessThanOrEqual(os.totalmem());
});

test.each(['lots', '-1', '4XB'])('memory limit %p is refused with ERR_INVALID_OPTION', (bad) => {
  expect(() => parseMemoryLimit(bad)).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
  );
});

test('worker options are checked at the boundary', () => {
  expect(() => resolveWorkerOptions({ scheduler: 'nowhere' })).toThrow(/tcp:\/\/HOST:PORT/);
  expect(() => resolveWorkerOptions({ scheduler: 'tcp://h:1', nthreads: 0 })).toThrow(/nthreads/);
  expect(resolveWorkerOptions({ scheduler: 'tcp://h:1' }).nthreads).toBe(1);
});

test('task options: unknown names and bad values are refused, workers normalized', () => {
  expect(() => validateTaskOptions({ retires: 1 } as never)).toThrow(
    /unknown task option "retires"/,
  );
  expect(() => validateTaskOptions({ retries: -1 })).toThrow(/retries/);
  expect(() => validateTaskOptions({ resources: { GPU: 0 } })).toThrow(/resources.GPU/);
  expect(validateTaskOptions({ workers: 'n1' }).workers).toEqual(['n1']);
});
