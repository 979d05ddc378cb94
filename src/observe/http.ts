import * as http from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { OptionError } from '../errors';
import { log } from '../log';
import * as fs from 'node:fs';
import type { Dashboard } from './dashboard';
import { DASHBOARD_PAGE } from './dashboard-page';
import { PAGES } from './pages';
import type { SchedulerMetrics } from './metrics';

/** What the server needs of the metrics: made at the first scrape (scheduler/server.ts). */
type Scraped = Pick<SchedulerMetrics, 'text' | 'contentType'>;

/** uPlot's files, served to the page from the package's own dependencies. */
const STATIC: Record<string, { file: string; type: string }> = {
  '/static/uplot.js': { file: 'uplot/dist/uPlot.iife.min.js', type: 'text/javascript' },
  '/static/uplot.css': { file: 'uplot/dist/uPlot.min.css', type: 'text/css' },
};

/** Dask's dashboard port. */
export const DEFAULT_HTTP_PORT = 8787;

/**
 * `dashboardAddress`: ':8787' (the scheduler's host), 'host:port', a port number, or false (no
 * HTTP server). Port 0: one the OS chooses.
 */
export type DashboardAddress = string | number | false;

export function parseDashboardAddress(
  value: DashboardAddress | undefined,
  schedulerHost: string,
): { host: string; port: number } | null {
  if (value === false) return null;
  if (value === undefined) return { host: schedulerHost, port: DEFAULT_HTTP_PORT };
  if (typeof value === 'number') value = `:${value}`;
  const m = /^(.*):(\d{1,5})$/.exec(String(value));
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new OptionError(
      `dashboardAddress ${JSON.stringify(value)}: write ':8787', 'host:port', a port number, or false`,
    );
  }
  if (m[1] === '0.0.0.0' || m[1] === '::') {
    throw new OptionError(
      `dashboardAddress ${value}: the dashboard binds one interface's address, never every one; name the host`,
    );
  }
  return { host: m[1] || schedulerHost, port };
}

/**
 * What a request without the right token is told. The addresses the scheduler CLI and the logs
 * print leave the token out (batch output files are often readable by others), so it says where
 * the link with the token is, and how to pass the token.
 */
export function forbiddenText(pathname: string, tokenGiven: boolean): string {
  const metrics = pathname === '/metrics';
  const field = metrics ? 'metrics' : 'dashboard';
  const link = metrics ? 'metricsLink' : 'dashboardLink';
  return [
    tokenGiven
      ? "forbidden: the token given is not this scheduler's (each scheduler makes a new one when it starts)."
      : "forbidden: everything here but /health needs the scheduler's token, and none was given.",
    'The address the scheduler prints (its CLI, its log) leaves the token out on purpose. The link with the token is:',
    `  - client.${link} in a connected client (or scheduler.${link} where the scheduler runs in the process);`,
    `  - the "${field}" field of the scheduler file (one written with --scheduler-file FILE).`,
    'Pass the token as ?token=<token> in the link, or send the header "Authorization: Bearer <token>" (a Prometheus scrape config: authorization: { credentials: <token> }).',
    '',
  ].join('\n');
}

/**
 * The scheduler's HTTP server: the dashboard (`/status`, its live feed `/events`), `/metrics`
 * (Prometheus text) and `/health`. Everything but `/health` needs the token: `?token=` in the
 * link, or `Authorization: Bearer <token>` (what a Prometheus scrape config sends), since the
 * data shows what the cluster computes.
 */
export class SchedulerHttp {
  readonly token = randomBytes(16).toString('hex');
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  /** The link with its token, as printed at start. */
  get link(): string {
    return `${this.url}/metrics?token=${this.token}`;
  }

  /** The dashboard page with its token. */
  get dashboardLink(): string {
    return `${this.url}/status?token=${this.token}`;
  }

  static async start(
    where: { host: string; port: number },
    metrics: Scraped,
    dashboard: Dashboard,
  ): Promise<SchedulerHttp> {
    let self: SchedulerHttp | null = null;
    const server = http.createServer((req, res) => {
      if (self) self.serve(req, res, metrics, dashboard);
    });
    const listen = (port: number) =>
      new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, where.host, () => {
          server.removeListener('error', onError);
          resolve();
        });
      });
    try {
      await listen(where.port);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      await listen(0);
      const port = (server.address() as AddressInfo).port;
      log.debug(`scheduler: HTTP port ${where.port} is in use; serving on ${port} instead`);
    }
    // Neither the server nor a browser's open page keeps a script's process alive.
    server.unref();
    server.on('connection', (socket) => socket.unref());
    const a = server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    self = new SchedulerHttp(server, `http://${host}:${a.port}`);
    return self;
  }

  private authorized(req: http.IncomingMessage, url: URL): boolean {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const given = Buffer.from(bearer ?? url.searchParams.get('token') ?? '');
    const token = Buffer.from(this.token);
    return given.length === token.length && timingSafeEqual(given, token);
  }

  private serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    metrics: Scraped,
    dashboard: Dashboard,
  ) {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'text/plain', 'only GET\n');
      return;
    }
    if (url.pathname === '/health') {
      send(200, 'text/plain', 'ok\n');
      return;
    }
    // The charting library holds no data: served without the token.
    const file = STATIC[url.pathname];
    if (file) {
      fs.readFile(require.resolve(file.file), 'utf8', (err, text) =>
        err ? send(500, 'text/plain', `${err.message}\n`) : send(200, file.type, text),
      );
      return;
    }
    if (!this.authorized(req, url)) {
      const given = Boolean(req.headers.authorization || url.searchParams.has('token'));
      send(403, 'text/plain; charset=utf-8', forbiddenText(url.pathname, given));
      return;
    }
    if (url.pathname === '/metrics') {
      metrics.text().then(
        (text) => send(200, metrics.contentType, text),
        (err: Error) => send(500, 'text/plain', `metrics: ${err.message}\n`),
      );
      return;
    }
    if (url.pathname === '/status' || url.pathname === '/') {
      send(200, 'text/html; charset=utf-8', DASHBOARD_PAGE);
      return;
    }
    if (url.pathname === '/events') {
      dashboard.subscribe(res);
      return;
    }
    const page = PAGES[url.pathname];
    if (page) {
      send(200, 'text/html; charset=utf-8', page);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      const data = dashboard.view(url.pathname.slice('/api/'.length), url.searchParams);
      if (data === undefined) send(404, 'text/plain', `not found: ${url.pathname}\n`);
      else if (data === null) send(404, 'application/json', '{"error":"no such worker"}');
      else if (data instanceof Promise)
        data.then(
          (d) => send(200, 'application/json', JSON.stringify(d)),
          (err: Error) => send(500, 'text/plain', `${err.message}\n`),
        );
      else send(200, 'application/json', JSON.stringify(data));
      return;
    }
    send(
      404,
      'text/plain',
      `not found: /status, /workers, /worker?id=, /graph, /info, /events, /metrics, /health\n`,
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
