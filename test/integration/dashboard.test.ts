/// <reference lib="dom" />
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { sharedCluster } from '../helpers/shared-cluster';
import { spinFor } from '../helpers/spin';

/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven over the DevTools protocol
 * by playwright-core (nothing downloaded), against a real LocalCluster.
 */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => fs.existsSync(f));
/** Where the test leaves its screenshot (the README's picture is one of these). */
const SCREENSHOT = path.join(os.tmpdir(), 'mpi-cluster-dashboard.png');

if (!CHROMIUM) {
  console.warn(
    'skipping the dashboard tests: no chromium (apt-get install chromium, or scripts/setup.sh)',
  );
  test.skip('dashboard in a browser: chromium is not installed', () => undefined);
} else {
  const shared = sharedCluster({ nWorkers: 2, threadsPerWorker: 2, dashboardAddress: ':0' });
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** Pixels the task-stream canvas has drawn (non-transparent). */
  const paintedPixels = (p: Page) =>
    p.$eval('#stream', (c) => {
      const canvas = c as HTMLCanvasElement;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    });

  const workerIds = () =>
    page.$$eval('#workers tr', (rows) => rows.map((r) => r.getAttribute('data-worker')));

  test('a running map shows in progress and the task stream; the screenshot has drawn content', async () => {
    const link = shared.cluster.scheduler.dashboardLink!;
    expect(link).toMatch(/\/status\?token=[0-9a-f]{32}$/);
    expect(shared.client.dashboardLink).toBe(link);
    await page.goto(link);
    const n = 400;
    const fs_ = shared.client.map(
      (x: number) => new Promise<number>((r) => setTimeout(() => r(x), 20)),
      Array.from({ length: n }, (_, i) => i),
    );
    // The map's kind appears in progress, and completes.
    const row = page
      .locator('#progress tr', { hasText: 'anonymous' })
      .or(page.locator('#progress tr').first());
    await row.waitFor({ timeout: 30_000 });
    await shared.client.gather(fs_);
    await page.waitForFunction(
      (total) =>
        Array.from(document.querySelectorAll('#progress td')).some(
          (td) => td.textContent === `${total} / ${total}`,
        ),
      n,
      { timeout: 30_000 },
    );
    // Bars reached the task stream and were drawn.
    await page.waitForFunction(
      () => (window as unknown as { dashboard: { bars: number } }).dashboard.bars > 0,
      null,
      {
        timeout: 30_000,
      },
    );
    const painted = await paintedPixels(page);
    expect(painted).toBeGreaterThan(100);
    // One task over every result: it fetches those held by the other worker, a transfer row.
    const sum = shared.client.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), fs_);
    expect(await sum.result()).toBe((n * (n - 1)) / 2);
    await page.waitForFunction(
      () => (window as unknown as { dashboard: { transfers: number } }).dashboard.transfers > 0,
      null,
      { timeout: 30_000 },
    );
    sum.release();
    expect(await workerIds()).toHaveLength(2);
    expect(await page.textContent('#summary')).toContain('2 workers, 1 client,');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = fs.readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000); // a blank page of this size compresses far smaller
    console.log(`dashboard screenshot: ${SCREENSHOT}`);
    for (const f of fs_) f.release();
  }, 120_000);

  /** Pixels of the stream drawn in exactly this colour ('#rrggbb'). */
  const pixelsOf = (p: Page, hex: string) =>
    p.$eval(
      '#stream',
      (c, rgb) => {
        const canvas = c as HTMLCanvasElement;
        const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2] && d[i + 3] === 255)
            n++;
        }
        return n;
      },
      [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)),
    );

  test('task stream: successes never in the error colour, failures only in it; hover names the key', async () => {
    const stream = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await stream.goto(shared.cluster.scheduler.dashboardLink!);
    await stream.waitForFunction(
      () => (window as unknown as { dashboard: { frames: number } }).dashboard.frames > 0,
    );
    const { error } = await stream.evaluate(
      () => (window as unknown as { dashboard: { colours: { error: string } } }).dashboard.colours,
    );
    // The names whose hash used to land on reds, each its own kind.
    const work = (x: number) => new Promise<number>((r) => setTimeout(() => r(x), 5));
    const simulate = (x: number) => x * 2;
    const inc = (x: number) => x + 1;
    const sleepTask = (x: number) => new Promise<number>((r) => setTimeout(() => r(x), 2));
    const ok = [work, simulate, inc, sleepTask].flatMap((f) =>
      shared.client.map(
        f,
        Array.from({ length: 100 }, (_, i) => i),
      ),
    );
    await shared.client.gather(ok);
    type Dash = {
      dashboard: {
        bars: number;
        firstBar(erred: boolean): { x: number; y: number; key: string } | null;
      };
    };
    await stream.waitForFunction(() => (window as unknown as Dash).dashboard.bars >= 400, null, {
      timeout: 30_000,
    });
    expect(await paintedPixels(stream)).toBeGreaterThan(100);
    expect(await pixelsOf(stream, error)).toBe(0);
    // Hover over a successful bar: its key, worker and duration in the tip.
    const bar = (await stream.evaluate(() =>
      (window as unknown as Dash).dashboard.firstBar(false),
    ))!;
    expect(bar).not.toBeNull();
    const box = (await stream.locator('#stream').boundingBox())!;
    await stream.mouse.move(box.x + bar.x, box.y + bar.y);
    await stream.locator('#tip').waitFor({ state: 'visible' });
    const tip = await stream.textContent('#tip');
    expect(tip).toContain(bar.key);
    expect(tip).toMatch(/worker \S+, thread \d+\n[\d.]+ m?s/);
    expect(tip).not.toContain('erred');
    // Four failures: drawn in the error colour, and hover says so.
    const boom = (x: number) => {
      throw new Error(`boom ${x}`);
    };
    const bad = shared.client.map(boom, [1, 2, 3, 4]);
    await Promise.allSettled(bad.map((f) => f.result()));
    await stream.waitForFunction(
      () => (window as unknown as Dash).dashboard.firstBar(true) !== null,
      null,
      {
        timeout: 30_000,
      },
    );
    expect(await pixelsOf(stream, error)).toBeGreaterThan(0);
    const failed = (await stream.evaluate(() =>
      (window as unknown as Dash).dashboard.firstBar(true),
    ))!;
    await stream.mouse.move(box.x + failed.x, box.y + failed.y);
    expect(await stream.textContent('#tip')).toContain('(erred)');
    for (const f of [...ok, ...bad]) f.release();
    await stream.close();
  }, 120_000);

  test('worker rows disappear when a worker is killed and appear when its replacement joins', async () => {
    const before = await workerIds();
    expect(before).toHaveLength(2);
    const victim = [...shared.cluster.scheduler.core.workers.values()].find(
      (w) => w.id === before[0],
    )!;
    process.kill(victim.info.pid, 'SIGKILL');
    // LocalCluster starts another in its place: the row goes, a new one comes.
    await page.waitForFunction(
      (gone) =>
        !Array.from(document.querySelectorAll('#workers tr')).some(
          (r) => r.getAttribute('data-worker') === gone,
        ),
      victim.id,
      { timeout: 30_000 },
    );
    await page.waitForFunction(() => document.querySelectorAll('#workers tr').length === 2, null, {
      timeout: 30_000,
    });
    const after = await workerIds();
    expect(after).not.toContain(victim.id);
    expect(after).toContain(before[1]);
    // The leaving is among the last events, with its reason.
    expect(await page.textContent('#events')).toMatch(
      new RegExp(`worker ${victim.info.name} \\(${victim.id}\\) left: `),
    );
  }, 120_000);

  test('performanceReport writes one self-contained page of the run, which a browser draws offline', async () => {
    const file = path.join(os.tmpdir(), `mpi-cluster-report-${process.pid}.html`);
    const n = 300;
    const fs_ = shared.client.map(
      (x: number) => new Promise<number>((r) => setTimeout(() => r(x), 10)),
      Array.from({ length: n }, (_, i) => i),
    );
    // A task that spins for 2.5 s: the report's profile names it.
    const total = await shared.client.performanceReport(file, async () => {
      const spin = shared.client.submit(spinFor, 2500);
      const sum = (await shared.client.gather(fs_)).reduce((a, b) => a + b, 0);
      await spin.result();
      spin.release();
      return sum;
    });
    expect(total).toBe((n * (n - 1)) / 2);
    for (const f of fs_) f.release();
    const html = fs.readFileSync(file, 'utf8');
    expect(html).not.toMatch(/(src|href)="(static|https?:)/); // nothing to fetch
    expect(html).toContain('window.REPORT = [');
    // Opened from disk, with the network cut: the run's tasks are drawn.
    const offline = await browser.newPage();
    await offline.route('**', (route) =>
      route.request().url().startsWith('file:') ? route.continue() : route.abort(),
    );
    await offline.goto(`file://${file}`);
    await offline.waitForFunction(
      (all) =>
        Array.from(document.querySelectorAll('#progress td')).some(
          (td) => td.textContent === `${all} / ${all}`,
        ),
      n,
      { timeout: 10_000 },
    );
    const painted = await paintedPixels(offline);
    expect(painted).toBeGreaterThan(100);
    // The task threads' profile during the run, with the spinning task's function in it.
    expect(await offline.isVisible('#flame')).toBe(true);
    expect(await offline.textContent('#top')).toContain('spinFor');
    await offline.close();
    fs.rmSync(file);
  }, 120_000);

  test('the page, its feed and the metrics refuse a wrong token; the charting library needs none', async () => {
    const { url } = shared.cluster.scheduler.httpServer!;
    for (const p of ['/status', '/events', '/metrics']) {
      expect((await fetch(`${url}${p}?token=wrong`)).status).toBe(403);
    }
    const js = await fetch(`${url}/static/uplot.js`);
    expect([js.status, (await js.text()).includes('uPlot')]).toEqual([200, true]);
  });
}
