/**
 * The flame graph of a profile (worker/profile.ts's tree), as browser script shared by the
 * /profile page and a performance report: `drawFlame(canvas, tree, topElement, hoverElement)`
 * draws callers above callees, widths by samples, lists the heaviest functions by self samples
 * in `topElement`, names the box under the pointer in `hoverElement`, and returns those names.
 */
export const FLAME_SCRIPT = `
function drawFlame(c, tree, topEl, hoverEl) {
  const sum = (t) => t.c.reduce((a, k) => a + sum(k), t.s);
  const hue = (name) => { let h = 0; for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0; return 'hsl(' + (30 + h % 40) + ',80%,' + (55 + h % 15) + '%)'; };
  c.width = c.clientWidth;
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  g.font = '11px system-ui, sans-serif';
  g.textBaseline = 'middle';
  const all = Math.max(1, sum(tree));
  const ROW = 16;
  const boxes = [];
  const self = new Map();
  const walk = (t, x, depth) => {
    const w = c.width * sum(t) / all;
    if (w < 0.5 || depth * ROW > c.height) return;
    if (depth > 0) {
      g.fillStyle = hue(t.n);
      g.fillRect(x, depth * ROW - ROW, Math.max(1, w - 1), ROW - 1);
      if (w > 40) { g.fillStyle = '#222'; g.fillText(t.n, x + 3, depth * ROW - ROW / 2, w - 6); }
      boxes.push({ x, y: depth * ROW - ROW, w, name: t.n, samples: sum(t) });
    }
    let at = x;
    for (const k of t.c.slice().sort((a, b) => a.n < b.n ? -1 : 1)) { walk(k, at, depth + 1); at += c.width * sum(k) / all; }
  };
  const selfOf = (t) => { self.set(t.n, (self.get(t.n) || 0) + t.s); t.c.forEach(selfOf); };
  walk(tree, 0, 0);
  selfOf(tree);
  const top = [...self.entries()].filter(([n]) => n !== 'all').sort((a, b) => b[1] - a[1]).slice(0, 30);
  topEl.textContent = top.map(([n, s]) => (100 * s / all).toFixed(1).padStart(5) + '%  ' + n).join('\\n') || '(no samples: nothing ran)';
  c.onmousemove = (ev) => {
    const r = c.getBoundingClientRect();
    const px = ev.clientX - r.left, py = ev.clientY - r.top;
    const b = boxes.find((x) => px >= x.x && px < x.x + x.w && py >= x.y && py < x.y + ROW);
    hoverEl.textContent = b ? b.name + ': ' + b.samples + ' samples (' + (100 * b.samples / all).toFixed(1) + '%)' : ' ';
  };
  return { names: top.map(([n]) => n), samples: all };
}
`;
