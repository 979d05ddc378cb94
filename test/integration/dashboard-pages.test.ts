/// <reference lib="dom" />
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { sharedCluster } from '../helpers/shared-cluster';
import { spinFor } from '../helpers/spin';

/**
 * The dashboard's pages beside /status (issue 24) in headless Chromium against a real
 * LocalCluster: /workers, a worker's own page, /graph with 1,000 tasks, /info; their JSON needs
 * the token.
 */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => fs.existsSync(f));

if (!CHROMIUM) {
  console.warn('skipping the dashboard page tests: no chromium (apt-get install chromium)');
  test.skip('dashboard pages in a browser: chromium is not installed', () => undefined);
} else {
  const shared = sharedCluster({ nWorkers: 2, threadsPerWorker: 1, dashboardAddress: ':0' });
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  const open = async (path: string): Promise<Page> => {
    const link = new URL(shared.cluster.scheduler.dashboardLink!);
    link.pathname = path;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(link.href);
    return page;
  };
  /** Each page's screenshot (docs/ holds copies, shown in the README). */
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: path.join(os.tmpdir(), `mpi-cluster-${name}.png`), fullPage: true });
  const drawn = (page: Page, times = 1) =>
    page.waitForFunction(
      (n) => (window as unknown as { page: { draws: number } }).page.draws >= n,
      times,
      { timeout: 30_000 },
    );
  const painted = (page: Page, selector: string) =>
    page.$eval(selector, (c) => {
      const canvas = c as HTMLCanvasElement;
      const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });

  test('/workers: a row per worker with its memory bars, CPU and lag, linking to its own page', async () => {
    const held = shared.client.map((x: number) => new Uint8Array(100_000).fill(x), [1, 2, 3, 4]);
    await shared.client.gather(held);
    const page = await open('/workers');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 2, null, {
      timeout: 30_000,
    });
    const names = [...shared.cluster.scheduler.core.workers.values()].map((w) => w.info.name);
    const text = await page.textContent('#rows');
    for (const n of names) expect(text).toContain(n);
    expect(await page.locator('#rows .managed').count()).toBe(2);
    await drawn(page, 2);
    await shot(page, 'workers');
    // Held results show in the held column: 4 in all.
    const heldCounts = await page.$$eval('#rows tr', (rows) =>
      rows.map((r) => Number(r.lastElementChild!.textContent)),
    );
    expect(heldCounts.reduce((a, b) => a + b, 0)).toBe(4);
    // A worker's own page: its facts, what it holds, its memory history drawn.
    await page.locator('#rows a').first().click();
    await page.waitForURL(/\/worker\?token=[0-9a-f]+&id=/);
    await drawn(page, 3);
    expect(await page.textContent('#facts')).toMatch(/address\s*tcp:\/\//);
    const listed = (await page.textContent('#held'))!.split('\n').filter((k) => k !== '(nothing)');
    expect(listed.every((k) => held.some((f) => f.key === k))).toBe(true);
    expect(await painted(page, '#memory')).toBeGreaterThan(0);
    await shot(page, 'worker');
    await page.close();
    for (const f of held) f.release();
  }, 120_000);

  test('/graph draws the 1,000 tasks the scheduler holds', async () => {
    const leaves = shared.client.map(
      (x: number) => x,
      Array.from({ length: 500 }, (_, i) => i),
    );
    const users = leaves.map((f) => shared.client.submit((x: number) => x + 1, f));
    await shared.client.gather(users);
    const page = await open('/graph');
    await page.waitForFunction(
      () => (window as unknown as { graph: { nodes: number } }).graph.nodes === 1000,
      null,
      { timeout: 30_000 },
    );
    expect(await painted(page, '#graph')).toBeGreaterThan(1000);
    await shot(page, 'graph');
    await page.close();
    for (const f of [...leaves, ...users]) f.release();
  }, 120_000);

  test('/info: the version, the scheduler, its options without keys, and the last events', async () => {
    const page = await open('/info');
    await drawn(page);
    const version = (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string })
      .version;
    const facts = await page.textContent('#facts');
    expect(facts).toContain(version);
    expect(facts).toContain(shared.cluster.scheduler.address);
    expect(facts).toContain('CurveZMQ');
    expect(await page.textContent('#options')).not.toMatch(/secret|publicKey|serverKey/i);
    expect(await page.textContent('#events')).toMatch(/worker \S+ \(w-[^)]+\) joined/);
    await shot(page, 'info');
    await page.close();
  }, 60_000);

  test('/profile names the function a spinning task spends its time in', async () => {
    const spinning = shared.client.map(spinFor, [6000, 6000]);
    const page = await open('/profile');
    await page.waitForFunction(
      () => (window as unknown as { profile: { runs: number } }).profile.runs >= 1,
      null,
      { timeout: 30_000 },
    );
    const names = await page.evaluate(
      () => (window as unknown as { profile: { names: string[] } }).profile.names,
    );
    expect(names.slice(0, 3).some((n) => n.startsWith('spinFor'))).toBe(true);
    expect(await page.textContent('#top')).toContain('spinFor');
    expect(await painted(page, '#flame')).toBeGreaterThan(1000);
    await shot(page, 'profile');
    await page.close();
    await shared.client.gather(spinning);
    for (const f of spinning) f.release();
  }, 120_000);

  test('the pages and their JSON need the token; an unknown worker is a 404', async () => {
    const { url, token } = shared.cluster.scheduler.httpServer!;
    for (const p of [
      '/workers',
      '/graph',
      '/info',
      '/profile',
      '/api/workers',
      '/api/graph',
      '/api/info',
      '/api/profile',
    ])
      expect([p, (await fetch(`${url}${p}`)).status]).toEqual([p, 403]);
    const res = await fetch(`${url}/api/worker?id=nobody&token=${token}`);
    expect(res.status).toBe(404);
    expect((await fetch(`${url}/api/nothing?token=${token}`)).status).toBe(404);
  });
}
