/**
 * The task kind of a key, as Dask's key_split: the words before the first one that looks like
 * an id (a number, or 8+ hex digits), so `square-9f2c...`, `load-17`, `inc-0000abcd-...` are
 * `square`, `load`, `inc`; a key that is all id is `data`. Progress bars, the dashboard and the
 * scheduler's counts by kind group by it, so it must not give one kind per key.
 */
export function keyPrefix(key: string): string {
  const re = /[-_.:/ ]+/g;
  let from = 0;
  let end = 0;
  for (;;) {
    const m = re.exec(key);
    const word = key.slice(from, m ? m.index : key.length);
    if (/^\d+$/.test(word) || /^[0-9a-f]{8,}$/i.test(word)) break;
    end = m ? m.index : key.length;
    if (!m) break;
    from = m.index + m[0].length;
  }
  return end > 0 ? key.slice(0, end) : 'data';
}
