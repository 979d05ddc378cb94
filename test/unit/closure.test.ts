import { fnSpecOf, fromModule } from '../../src/client/fnspec';
import { freeVariables } from '../../src/client/closure';

const outside = 3;

test('self-contained functions have no free variables, whatever their form', () => {
  expect(freeVariables(((x: number) => Math.max(x, 1)).toString())).toEqual([]);
  expect(
    freeVariables(
      function named(a: number): number {
        return a > 0 ? named(a - 1) : Buffer.byteLength('x');
      }.toString(),
    ),
  ).toEqual([]);
  expect(
    freeVariables(
      (async (x: { k: number }) => {
        const { k, ...rest } = x;
        try {
          return [k, rest, await import('node:os')];
        } catch (e) {
          return e;
        }
      }).toString(),
    ),
  ).toEqual([]);
  expect(
    freeVariables(
      {
        m(x: number) {
          return require('node:os').cpus().length + x;
        },
      }.m.toString(),
    ),
  ).toEqual([]);
});

test('a closure over an outer variable is named', () => {
  expect(freeVariables(((x: number) => x * outside).toString())).toEqual(['outside']);
});

test('submit-time check refuses a closure with ERR_CLOSURE, naming the variable and the fix', () => {
  expect(() => fnSpecOf((x: number) => x + outside)).toThrow(
    expect.objectContaining({
      code: 'ERR_CLOSURE',
      message: expect.stringMatching(/"outside".*argument/),
    }),
  );
});

test('the same inline source is parsed once and gets one id', () => {
  const a = fnSpecOf((x: number) => x + 1);
  const b = fnSpecOf((x: number) => x + 1);
  expect(a.id).toBe(b.id);
});

test('module functions travel by reference with an absolute path', () => {
  const spec = fnSpecOf(fromModule('test/fixtures/tasks.js', 'double'));
  expect(spec.spec).toEqual({
    kind: 'module',
    module: expect.stringMatching(/^\/.*test\/fixtures\/tasks\.js$/),
    export: 'double',
  });
  expect(() => fromModule('', 'x')).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
  );
});
