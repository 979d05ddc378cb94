/**
 * The dashboard page: one HTML document, its script inline, uPlot (served from the package's
 * node_modules, never a CDN: compute nodes are offline) for the throughput chart, a canvas for
 * the task stream. It draws what the scheduler pushes once a second (/events), or, in a
 * performance report, the snapshots recorded in `window.REPORT`.
 */
import { FLAME_SCRIPT } from './flame';

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
  #streambox { position: relative; }
  #stream { width: 100%; height: 260px; background: #fff; border: 1px solid #eee; cursor: crosshair; }
  #tip { position: absolute; display: none; pointer-events: none; background: #222; color: #fff; padding: 4px 6px; border-radius: 3px; font-size: 12px; white-space: pre; z-index: 2; }
  #events { max-height: 180px; overflow: auto; background: #fff; }
  .muted { color: #888; }
</style>
</head>
<body>
<nav><a href="workers">workers</a> <a href="graph">graph</a> <a href="profile">profile</a> <a href="info">info</a></nav>
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
<h2>Task stream <span class="muted">(a row per worker thread, a colour per task kind; red: erred, and only erred; orange rows: data fetched from other workers. Wheel: zoom, drag: pan, double-click: follow the run)</span> <span id="dropped" class="muted"></span></h2>
<div id="streambox"><canvas id="stream"></canvas><div id="tip"></div></div>
<h2>Workers</h2>
<table><thead><tr><th>name</th><th>host</th><th>threads</th><th>resources</th><th>memory (managed + unmanaged / limit)</th><th>spilled</th><th>rss</th><th>cpu</th><th>processing</th><th>keys held</th><th>fetched</th></tr></thead>
<tbody id="workers"></tbody></table>
<h2>Last events</h2>
<div id="events"></div>
<div id="profilebox" style="display:none">
<h2>Profile of the task threads during the run <span class="muted">(V8's sampling profiler in every executor thread, merged by function; hover for a function's share)</span></h2>
<canvas id="flame" style="width:100%;height:320px;background:#fff;border:1px solid #eee"></canvas>
<div id="hover" class="muted">&nbsp;</div>
<pre id="top"></pre>
</div>
<script src="static/uplot.js"></script>
<script>
'use strict';
const token = new URLSearchParams(location.search).get('token') || '';
const $ = (id) => document.getElementById(id);
const bytes = (n) => n == null ? '-' : n >= 1e9 ? (n / 1e9).toFixed(2) + ' GB' : n >= 1e6 ? (n / 1e6).toFixed(1) + ' MB' : (n / 1e3).toFixed(0) + ' kB';
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
// Task kinds take colours from this palette in the order they first appear: blues, greens,
// purples, teals, browns and greys, none near the error red (which marks erred tasks only) or
// the transfers' orange.
const PALETTE = ['#1f77b4', '#2ca02c', '#9467bd', '#17becf', '#8c564b', '#7f7f7f', '#bcbd22', '#3f5ba9', '#4c9a6a', '#6a4c93', '#2f8f9d', '#a0785a'];
const ERROR_COLOUR = '#d62728';
const TRANSFER_COLOUR = '#ff9f1c';
const kindColours = new Map();
const colour = (kind) => {
  if (!kindColours.has(kind)) kindColours.set(kind, PALETTE[kindColours.size % PALETTE.length]);
  return kindColours.get(kind);
};
const REPORT = window.REPORT;
// The other pages, with the token; a report (one file, offline) has none of them.
for (const a of document.querySelectorAll('nav a')) {
  if (REPORT) a.remove(); else a.href += '?token=' + encodeURIComponent(token);
}
// Bars kept for the stream: the whole run up to this many, the oldest dropped first.
const KEEP_BARS = 20000;
// The stream's view: null follows the run (from its first bar kept to now); [from, to] once
// zoomed or panned, until a double-click.
let view = null;
let lastNow = Date.now();
let bars = [];
const kinds = new Map();
const times = [], rates = [];
const chart = new uPlot({ width: 520, height: 160, series: [{}, { label: 'tasks/s', stroke: '#264653', width: 2 }], axes: [{}, {}] }, [times, rates], $('throughput'));
window.dashboard = { frames: 0, bars: 0, transfers: 0 };

function render(s) {
  window.dashboard.frames += 1;
  const total = Object.values(s.states).reduce((a, b) => a + b, 0);
  const count = (n, what) => n + ' ' + what + (n === 1 ? '' : 's');
  const states = Object.entries(s.states).filter(([, v]) => v > 0).map(([k, v]) => v + ' ' + k).join(', ');
  $('summary').textContent = count(s.workers.length, 'worker') + ', ' + count(s.clients, 'client') + ', ' + count(total, 'task') +
    (states ? ' (' + states + ')' : '') + ', ' + s.forgotten + ' forgotten';
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
  bars = bars.concat(s.bars);
  if (bars.length > KEEP_BARS) bars = bars.slice(bars.length - KEEP_BARS);
  window.dashboard.bars += s.bars.length;
  window.dashboard.transfers += s.bars.filter((b) => b.lane < 0).length;
  $('dropped').textContent = s.barsDropped ? '(' + s.barsDropped + ' more tasks this second not drawn)' : '';
  for (const h of s.history) { times.push(h.at / 1000); rates.push(h.done); }
  if (times.length > 300) { times.splice(0, times.length - 300); rates.splice(0, rates.length - 300); }
  chart.setData([times, rates]);
  drawStream(s.at);
}

const GUTTER = 110, AXIS = 20;
let layout = [];

function viewOf(now) {
  if (view) return view;
  const first = bars.length ? Math.min(...bars.slice(0, 500).map((b) => b.start)) : now - 10000;
  return [Math.min(first, now - 5000), now + 500];
}

function drawStream(now) {
  lastNow = now;
  const c = $('stream');
  c.width = c.clientWidth; c.height = c.clientHeight;
  const g = c.getContext('2d');
  const [from, to] = viewOf(now);
  const span = Math.max(1, to - from);
  const plot = c.width - GUTTER;
  const rows = [...new Set(bars.map((b) => b.worker + '/' + b.lane))].sort();
  const h = Math.max(4, Math.min(24, Math.floor((c.height - AXIS - 4) / Math.max(1, rows.length))));
  const x = (t) => GUTTER + Math.round(plot * (t - from) / span);
  g.clearRect(0, 0, c.width, c.height);
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#555';
  g.textBaseline = 'middle';
  rows.forEach((r, i) => {
    const [worker, lane] = r.split('/');
    if (h >= 9) g.fillText(worker + (Number(lane) < 0 ? ' fetch' : ' #' + lane), 4, i * h + h / 2, GUTTER - 8);
  });
  layout = [];
  for (const b of bars) {
    if (b.end < from || b.start > to) continue;
    const y = rows.indexOf(b.worker + '/' + b.lane) * h;
    const x0 = Math.max(GUTTER, x(b.start));
    const w = Math.max(1, Math.min(c.width, x(b.end)) - x0);
    g.fillStyle = b.erred ? ERROR_COLOUR : b.lane < 0 ? TRANSFER_COLOUR : colour(b.prefix);
    g.fillRect(x0, y + 1, w, h - 2);
    if (layout.length < 50000) layout.push({ x: x0, y: y + 1, w, h: h - 2, b });
  }
  // The time axis: ticks at a round step, labelled with the clock time.
  const axisY = c.height - AXIS;
  g.fillStyle = '#888';
  g.fillRect(GUTTER, axisY, plot, 1);
  const steps = [100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000];
  const step = steps.find((st) => plot * st / span >= 80) || 600000;
  g.textBaseline = 'top';
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    const tx = x(t);
    g.fillRect(tx, axisY, 1, 4);
    const d = new Date(t);
    const label = d.toLocaleTimeString([], { hour12: false }) + (step < 1000 ? '.' + String(d.getMilliseconds()).padStart(3, '0') : '');
    g.fillText(label, tx - 24, axisY + 5);
  }
  window.dashboard.view = [from, to];
  window.dashboard.layout = layout.length;
}

// Hover: the bar under the pointer, with its key, worker, thread, duration and bytes.
function barAt(px, py) {
  for (let i = layout.length - 1; i >= 0; i--) {
    const l = layout[i];
    if (px >= l.x && px <= l.x + l.w && py >= l.y && py <= l.y + l.h) return l.b;
  }
  return null;
}
function showTip(ev) {
  const c = $('stream'), tip = $('tip');
  const r = c.getBoundingClientRect();
  const b = barAt(ev.clientX - r.left, ev.clientY - r.top);
  if (!b) { tip.style.display = 'none'; return; }
  const ms = b.end - b.start;
  tip.textContent = (b.lane < 0 ? 'transfer' : b.key || b.prefix) + (b.erred ? '  (erred)' : '') + '\\n' +
    'worker ' + b.worker + (b.lane < 0 ? '' : ', thread ' + b.lane) + '\\n' +
    (ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : ms.toFixed(1) + ' ms') + (b.bytes != null ? ', ' + bytes(b.bytes) : '');
  tip.style.left = Math.min(ev.clientX - r.left + 12, c.clientWidth - 260) + 'px';
  tip.style.top = (ev.clientY - r.top + 12) + 'px';
  tip.style.display = 'block';
}
// Zoom (wheel, around the pointer), pan (drag), follow the run again (double-click).
let drag = null;
function onWheel(ev) {
  ev.preventDefault();
  const c = $('stream');
  const [from, to] = viewOf(lastNow);
  const r = c.getBoundingClientRect();
  const at = from + (to - from) * Math.max(0, ev.clientX - r.left - GUTTER) / Math.max(1, c.clientWidth - GUTTER);
  const k = ev.deltaY > 0 ? 1.25 : 0.8;
  view = [at - (at - from) * k, at + (to - at) * k];
  drawStream(lastNow);
}
function onDown(ev) { drag = { x: ev.clientX, view: viewOf(lastNow) }; }
function onMove(ev) {
  if (drag) {
    const c = $('stream');
    const dt = (ev.clientX - drag.x) * (drag.view[1] - drag.view[0]) / Math.max(1, c.clientWidth - GUTTER);
    if (Math.abs(ev.clientX - drag.x) > 2) { view = [drag.view[0] - dt, drag.view[1] - dt]; drawStream(lastNow); }
  }
  showTip(ev);
}
$('stream').addEventListener('wheel', onWheel, { passive: false });
$('stream').addEventListener('mousedown', onDown);
$('stream').addEventListener('mousemove', onMove);
$('stream').addEventListener('mouseleave', () => { $('tip').style.display = 'none'; });
window.addEventListener('mouseup', () => { drag = null; });
$('stream').addEventListener('dblclick', () => { view = null; drawStream(lastNow); });
window.dashboard.barAt = (px, py) => barAt(px, py);
window.dashboard.firstBar = (erred) => {
  const l = layout.find((e) => e.b.lane >= 0 && e.b.erred === erred);
  return l ? { x: l.x + l.w / 2, y: l.y + l.h / 2, key: l.b.key } : null;
};
window.dashboard.colours = { error: ERROR_COLOUR, transfer: TRANSFER_COLOUR, palette: PALETTE };

${FLAME_SCRIPT}
if (REPORT) {
  for (const s of REPORT) render(s);
  if (window.REPORT_PROFILE) {
    $('profilebox').style.display = '';
    window.dashboard.profile = drawFlame($('flame'), window.REPORT_PROFILE, $('top'), $('hover'));
  }
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
