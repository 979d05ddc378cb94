/**
 * The dashboard page: one HTML document, its script inline, uPlot (served from the package's
 * node_modules, never a CDN: compute nodes are offline) for the throughput chart, a canvas for
 * the task stream. It draws what the scheduler pushes once a second (/events), or, in a
 * performance report, the snapshots recorded in `window.REPORT`.
 */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mpi-cluster dashboard</title>
<link rel="stylesheet" href="static/uplot.css">
<style>
  body { font: 13px system-ui, sans-serif; margin: 12px; color: #222; background: #fafafa; }
  h1 { font-size: 16px; margin: 0 0 8px; }
  h2 { font-size: 14px; margin: 14px 0 6px; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  td, th { padding: 3px 6px; border-bottom: 1px solid #eee; text-align: left; white-space: nowrap; }
  .bar { position: relative; height: 12px; background: #eee; min-width: 160px; }
  .bar span { position: absolute; top: 0; bottom: 0; }
  .memory { background: #2a9d8f; } .processing { background: #e9c46a; } .queued { background: #bbb; }
  .erred { background: #e63946; } .waiting { background: #ddd; } .unmanaged { background: #9aa5b1; }
  .paused { color: #fff; background: #e76f51; border-radius: 3px; padding: 0 4px; font-size: 11px; }
  #stream { width: 100%; height: 220px; background: #fff; border: 1px solid #eee; }
  #events { max-height: 180px; overflow: auto; background: #fff; }
  .muted { color: #888; }
</style>
</head>
<body>
<h1>mpi-cluster <span id="summary" class="muted">connecting...</span></h1>
<div class="grid">
  <div>
    <h2>Progress by task kind</h2>
    <table><thead><tr><th>task</th><th>done / total</th><th></th><th>erred</th></tr></thead>
    <tbody id="progress"></tbody></table>
  </div>
  <div>
    <h2>Tasks per second</h2>
    <div id="throughput"></div>
  </div>
</div>
<h2>Task stream <span class="muted">(a row per worker thread; orange rows: data fetched from other workers)</span> <span id="dropped" class="muted"></span></h2>
<canvas id="stream"></canvas>
<h2>Workers</h2>
<table><thead><tr><th>name</th><th>host</th><th>threads</th><th>resources</th><th>memory (managed + unmanaged / limit)</th><th>spilled</th><th>rss</th><th>cpu</th><th>processing</th><th>keys held</th><th>fetched</th></tr></thead>
<tbody id="workers"></tbody></table>
<h2>Last events</h2>
<div id="events"></div>
<script src="static/uplot.js"></script>
<script>
'use strict';
const token = new URLSearchParams(location.search).get('token') || '';
const $ = (id) => document.getElementById(id);
const bytes = (n) => n == null ? '-' : n >= 1e9 ? (n / 1e9).toFixed(2) + ' GB' : n >= 1e6 ? (n / 1e6).toFixed(1) + ' MB' : (n / 1e3).toFixed(0) + ' kB';
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const colour = (s) => { let h = 0; for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0; return 'hsl(' + (h % 360) + ',60%,55%)'; };
const REPORT = window.REPORT;
// The task stream shows the last minute live; a report shows the whole run.
const WINDOW_MS = REPORT && REPORT.length > 1 ? Math.max(60000, REPORT[REPORT.length - 1].at - REPORT[0].at + 2000) : 60000;
let bars = [];
const kinds = new Map();
const times = [], rates = [];
const chart = new uPlot({ width: 520, height: 160, series: [{}, { label: 'tasks/s', stroke: '#264653', width: 2 }], axes: [{}, {}] }, [times, rates], $('throughput'));
window.dashboard = { frames: 0, bars: 0, transfers: 0 };

function render(s) {
  window.dashboard.frames += 1;
  const total = Object.values(s.states).reduce((a, b) => a + b, 0);
  $('summary').textContent = s.workers.length + ' workers, ' + s.clients + ' clients, ' + total + ' tasks (' +
    Object.entries(s.states).map(([k, v]) => v + ' ' + k).join(', ') + '), ' + s.forgotten + ' forgotten';
  // A report keeps every kind it saw (as last seen), though released tasks leave the scheduler.
  for (const p of s.progress) kinds.set(p.prefix, p);
  const shown = REPORT ? [...kinds.values()] : s.progress;
  $('progress').innerHTML = shown.map((p) => {
    const all = ['released', 'waiting', 'no-worker', 'queued', 'processing', 'memory', 'erred'].reduce((a, k) => a + (p[k] || 0), 0) || 1;
    const seg = (k, at) => '<span class="' + k + '" style="left:' + (100 * at / all) + '%;width:' + (100 * (p[k] || 0) / all) + '%"></span>';
    let at = 0; let html = '';
    for (const k of ['memory', 'erred', 'processing', 'queued', 'waiting']) { html += seg(k, at); at += p[k] || 0; }
    return '<tr data-prefix="' + esc(p.prefix) + '"><td>' + esc(p.prefix) + '</td><td>' + ((p.memory || 0) + (p.erred || 0)) + ' / ' + all +
      '</td><td><div class="bar">' + html + '</div></td><td>' + (p.erred || 0) + '</td></tr>';
  }).join('');
  // Memory as Dask draws it: stored values in memory (managed), then the rest of the process.
  const pct = (n, w) => w.memoryLimit > 0 ? Math.min(100, 100 * n / w.memoryLimit) : 0;
  const memoryBar = (w) => '<div class="bar"><span class="memory" style="left:0;width:' + pct(w.managed, w) + '%"></span><span class="unmanaged" style="left:' +
    pct(w.managed, w) + '%;width:' + Math.max(0, pct(w.managed + w.unmanaged, w) - pct(w.managed, w)) + '%"></span></div>' +
    bytes(w.managed) + ' + ' + bytes(w.unmanaged) + ' / ' + (w.memoryLimit > 0 ? bytes(w.memoryLimit) : 'no limit');
  $('workers').innerHTML = s.workers.map((w) => '<tr data-worker="' + esc(w.id) + '"><td>' + esc(w.name) + (w.paused ? ' <span class="paused">paused</span>' : '') +
    '</td><td>' + esc(w.host) + '</td><td>' + w.nthreads +
    '</td><td>' + esc(Object.entries(w.resources).map(([k, v]) => k + '=' + v).join(' ')) + '</td><td>' + memoryBar(w) +
    '</td><td>' + (w.spilledCount ? bytes(w.spilled) + ' (' + w.spilledCount + ')' : '-') + '</td><td>' + bytes(w.rss) + '</td><td>' + (w.cpu == null ? '-' : Math.round(100 * w.cpu) + '%') + '</td><td>' + w.processing + '</td><td>' + w.held + '</td><td>' + bytes(w.transferBytes) + '</td></tr>').join('');
  $('events').innerHTML = s.events.slice().reverse().map((e) => '<div><span class="muted">' + new Date(e.at).toLocaleTimeString() + '</span> ' + esc(e.text) + '</div>').join('');
  bars = bars.concat(s.bars).filter((b) => b.end > s.at - WINDOW_MS);
  window.dashboard.bars += s.bars.length;
  window.dashboard.transfers += s.bars.filter((b) => b.lane < 0).length;
  $('dropped').textContent = s.barsDropped ? '(' + s.barsDropped + ' more tasks this second not drawn)' : '';
  for (const h of s.history) { times.push(h.at / 1000); rates.push(h.done); }
  if (times.length > 300) { times.splice(0, times.length - 300); rates.splice(0, rates.length - 300); }
  chart.setData([times, rates]);
  drawStream(s.at);
}

function drawStream(now) {
  const c = $('stream');
  c.width = c.clientWidth; c.height = c.clientHeight;
  const g = c.getContext('2d');
  const rows = [...new Set(bars.map((b) => b.worker + '/' + b.lane))].sort();
  const h = Math.max(4, Math.min(24, (c.height - 10) / Math.max(1, rows.length)));
  const x = (t) => c.width * (1 - (now - t) / WINDOW_MS);
  g.clearRect(0, 0, c.width, c.height);
  for (const b of bars) {
    const y = rows.indexOf(b.worker + '/' + b.lane) * h;
    // Transfers (data fetched from another worker) get their own row per worker, in orange.
    g.fillStyle = b.erred ? '#e63946' : b.lane < 0 ? '#f4a261' : colour(b.prefix);
    g.fillRect(x(b.start), y + 1, Math.max(1, x(b.end) - x(b.start)), h - 2);
  }
}

if (REPORT) {
  for (const s of REPORT) render(s);
  document.title = 'mpi-cluster performance report';
} else {
  const source = new EventSource('events?token=' + encodeURIComponent(token));
  source.onmessage = (e) => render(JSON.parse(e.data));
  source.onerror = () => { $('summary').textContent = 'disconnected; retrying...'; };
}
</script>
</body>
</html>
`;
