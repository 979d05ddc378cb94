import * as fs from 'node:fs';
import { ClusterError } from '../errors';
import { DASHBOARD_PAGE } from '../observe/dashboard-page';
import { merge, type ProfileTree } from '../worker/profile';

/** What the report needs of a client: the scheduler's dashboard link (with its token). */
interface Linked {
  dashboardLink: string | null;
}

/** How long after `fn` the report waits for the snapshot that shows its end (ms). */
const TAIL_MS = 1500;

/**
 * Runs `fn` while recording the dashboard's snapshots, then writes `file`: one self-contained
 * HTML page (the dashboard with its chart library inline and the snapshots in it) that shows
 * the run's progress, task stream, throughput and workers, to attach to an issue or keep with
 * results. Resolves with what `fn` resolved to; `fn`'s error is passed on after the file is
 * written.
 */
export async function performanceReport<T>(
  file: string,
  fn: () => Promise<T>,
  client: Linked,
): Promise<T> {
  const link = client.dashboardLink;
  if (!link) {
    throw new ClusterError(
      'ERR_INVALID_OPTION',
      'performanceReport: the scheduler serves no dashboard (it was started with dashboardAddress: false)',
    );
  }
  const snapshots: { at: number }[] = [];
  const abort = new AbortController();
  const res = await fetch(link.replace('/status?', '/events?'), { signal: abort.signal });
  if (!res.ok || !res.body) {
    throw new ClusterError('ERR_PROTOCOL', `performanceReport: ${link} answered ${res.status}`);
  }
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1];
          if (data) snapshots.push(JSON.parse(data) as { at: number });
        }
      }
    } catch {
      // aborted at the end of the run
    }
  })();
  // The task threads' profile, a second at a time while `fn` runs, merged.
  let running = true;
  const profiles: ProfileTree[] = [];
  const profiling = (async () => {
    const api = link.replace('/status?', '/api/profile?seconds=1&');
    while (running) {
      try {
        const r = await fetch(api);
        if (!r.ok) return;
        profiles.push(((await r.json()) as { tree: ProfileTree }).tree);
      } catch {
        return; // no profile, the report is still written
      }
    }
  })();
  let result: T | undefined;
  let failure: unknown = null;
  try {
    result = await fn();
  } catch (err) {
    failure = err;
  }
  running = false;
  const ended = Date.now();
  // One snapshot after the end, so the report shows it finished.
  const deadline = ended + TAIL_MS;
  while (!snapshots.some((s) => s.at >= ended) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  abort.abort();
  await reading;
  await profiling;
  const profile = JSON.stringify(merge({ n: 'all', s: 0, c: [] }, ...profiles)).replace(
    /</g,
    '\\u003c',
  );
  const inline = (pkgFile: string) => fs.readFileSync(require.resolve(pkgFile), 'utf8');
  // `<` escaped: a task's error message cannot close the script element.
  const data = JSON.stringify(snapshots).replace(/</g, '\\u003c');
  const html = DASHBOARD_PAGE.replace(
    '<link rel="stylesheet" href="static/uplot.css">',
    () => `<style>${inline('uplot/dist/uPlot.min.css')}</style>`,
  )
    .replace(
      '<script src="static/uplot.js"></script>',
      () =>
        `<script>${inline('uplot/dist/uPlot.iife.min.js')}</script>\n<script>window.REPORT = ${data};\nwindow.REPORT_PROFILE = ${profile};</script>`,
    )
    .replace(
      '<title>mpi-cluster dashboard</title>',
      '<title>mpi-cluster performance report</title>',
    );
  fs.writeFileSync(file, html);
  if (failure) throw failure;
  return result as T;
}
