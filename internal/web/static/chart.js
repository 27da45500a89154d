// chart.js: SVG line charts with axes and times, built node by node.
const SVG = 'http://www.w3.org/2000/svg';

// svg makes an SVG element with attributes and children.
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

const W = 600, H = 180, L = 64, R = 8, T = 8, B = 24; // size and margins of the plot, in SVG units

const clock = (d) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

// niceMax rounds a peak up to 1, 2 or 5 times a power of ten (for bytes: of 1024).
function niceMax(peak, base) {
  let p = 1;
  while (p * base <= peak) p *= base;
  for (const m of base === 1024 ? [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] : [1, 2, 5, 10]) {
    if (m * p >= peak) return m * p;
  }
  return peak;
}

// drawChart draws values (oldest first, one every interval seconds, the last
// at `now`) into the <svg> node: a line over labelled value and time axes.
// fmt formats a value for the value axis; floor is the least top of that axis;
// base is 10, or 1024 for byte counts.
export function drawChart(node, values, { interval, now = new Date(), fmt, floor = 1, base = 10, label }) {
  const top = niceMax(Math.max(floor, ...values), base);
  const n = values.length;
  const x = (i) => L + (n > 1 ? (i / (n - 1)) * (W - L - R) : W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const parts = [];
  for (const f of [0, 0.5, 1]) {
    const v = top * f, yy = y(v).toFixed(1);
    parts.push(svg('line', { class: 'grid', x1: L, x2: W - R, y1: yy, y2: yy }),
      svg('text', { class: 'tick', x: L - 6, y: yy, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, fmt(v)));
  }
  if (n > 1) {
    for (const i of [0, Math.round((n - 1) / 2), n - 1]) {
      const t = new Date(now.getTime() - (n - 1 - i) * interval * 1000);
      const anchor = i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle';
      parts.push(svg('text', { class: 'tick', x: x(i).toFixed(1), y: H - 6, 'text-anchor': anchor }, clock(t)));
    }
    parts.push(svg('polyline', { class: 'data', points: values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ') }));
  } else {
    parts.push(svg('text', { class: 'tick', x: (L + W) / 2, y: H / 2, 'text-anchor': 'middle' }, 'No samples yet'));
  }
  parts.push(svg('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }), svg('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  node.setAttribute('viewBox', `0 0 ${W} ${H}`);
  node.setAttribute('role', 'img');
  const last = n ? fmt(values[n - 1]) : 'none';
  node.setAttribute('aria-label', `${label}: ${n} samples every ${interval} s, peak ${fmt(Math.max(0, ...values))}, last ${last}`);
  node.replaceChildren(...parts);
}
