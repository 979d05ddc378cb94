/**
 * The task kind of a key: its function's name, without the hash or id the client adds
 * (`square-9f2c...` is `square`). Progress bars, the dashboard and metrics group by it.
 */
export function keyPrefix(key: string): string {
  return key.replace(
    /-(?:[0-9a-f]{24}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/,
    '',
  );
}
