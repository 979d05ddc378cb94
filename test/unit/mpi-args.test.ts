import {
  checkBytes,
  checkColor,
  checkExitCode,
  checkInitOptions,
  checkInt32,
  checkRank,
  checkRootBytes,
} from '../../src/mpi/args';
import { chooseFlavour } from '../../src/mpi/addon';

describe('init options', () => {
  test('defaults: funneled, exit handlers on', () => {
    expect(checkInitOptions(undefined)).toEqual({ threadLevel: 'funneled', handleExit: true });
    expect(checkInitOptions({ threadLevel: 'multiple', handleExit: false })).toEqual({
      threadLevel: 'multiple',
      handleExit: false,
    });
  });

  test.each([
    [{ threadLevel: 'many' }, 'options.threadLevel'],
    [{ handleExit: 'yes' }, 'options.handleExit'],
    [42, 'options must be an object'],
  ])('%p is rejected with ERR_INVALID_OPTION naming %s', (options, name) => {
    expect(() => checkInitOptions(options)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringContaining(name),
      }),
    );
  });
});

describe('arguments', () => {
  test('root must be a rank of the communicator', () => {
    expect(checkRank('root', 3, 4)).toBe(3);
    expect(() => checkRank('root', 4, 4)).toThrow(RangeError);
    expect(() => checkRank('root', -1, 4)).toThrow(/root must be in \[0, 3\]/);
    expect(() => checkRank('root', 1.5, 4)).toThrow(TypeError);
    expect(() => checkRank('root', '0', 4)).toThrow(/root must be an integer/);
  });

  test('bytes: Buffers pass, other Uint8Arrays become Buffer views, the rest is a TypeError', () => {
    const buffer = Buffer.from('abc');
    expect(checkBytes('data', buffer)).toBe(buffer);
    const bytes = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    const view = checkBytes('data', bytes);
    expect(Buffer.isBuffer(view)).toBe(true);
    expect([...view]).toEqual([2, 3]);
    view[0] = 9;
    expect(bytes[0]).toBe(9); // no copy
    expect(() => checkBytes('data', 'abc')).toThrow(
      /data must be a Buffer or Uint8Array, got string/,
    );
    expect(() => checkBytes('data', [1, 2])).toThrow(TypeError);
  });

  test('bcast data is required at the root only, and checked wherever given', () => {
    expect(checkRootBytes('data', null, false)).toBeNull();
    expect(checkRootBytes('data', undefined, false)).toBeNull();
    expect(checkRootBytes('data', Buffer.alloc(1), false)).toBeNull();
    expect(() => checkRootBytes('data', null, true)).toThrow(/data must be a Buffer/);
    expect(() => checkRootBytes('data', 7, false)).toThrow(TypeError);
  });

  test('split color: non-negative int, or null for MPI_UNDEFINED; key: int32', () => {
    expect(checkColor(0)).toBe(0);
    expect(checkColor(null)).toBe(-1);
    expect(checkColor(undefined)).toBe(-1);
    expect(() => checkColor(-1)).toThrow(/color must be an integer/);
    expect(() => checkColor(2 ** 31)).toThrow(RangeError);
    expect(checkInt32('key', -5)).toBe(-5);
    expect(() => checkInt32('key', 2 ** 31)).toThrow(/key must be a 32-bit integer/);
  });

  test('abort codes are exit statuses', () => {
    expect(checkExitCode(0)).toBe(0);
    expect(checkExitCode(255)).toBe(255);
    expect(() => checkExitCode(256)).toThrow(/code must be an integer in \[0, 255\]/);
    expect(() => checkExitCode(1.5)).toThrow(RangeError);
  });
});

describe('flavour selection', () => {
  const built =
    (...flavours: string[]) =>
    (flavour: string): boolean =>
      flavours.includes(flavour);

  test('MPI_CLUSTER_MPI wins; default is openmpi when built, else system', () => {
    expect(chooseFlavour('mpich', built('openmpi'))).toBe('mpich');
    expect(chooseFlavour(undefined, built('openmpi', 'mpich'))).toBe('openmpi');
    expect(chooseFlavour('', built('mpich'))).toBe('system');
    expect(chooseFlavour(undefined, built())).toBe('system');
  });

  test('an unknown flavour names the variable and the choices', () => {
    expect(() => chooseFlavour('lam', built())).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(/MPI_CLUSTER_MPI="lam".*openmpi, mpich, system/),
      }),
    );
  });
});
