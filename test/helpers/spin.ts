/**
 * A task that keeps a thread busy for `ms` in 20 ms slices, yielding between them (so a
 * profiler started in its thread meanwhile gets to run): what /profile and a report must name.
 */
export async function spinFor(ms: number): Promise<number> {
  const until = Date.now() + ms;
  let x = 0;
  while (Date.now() < until) {
    const slice = Date.now() + 20;
    while (Date.now() < slice) x += Math.sqrt(x + 1);
    await new Promise((r) => setImmediate(r));
  }
  return x;
}
