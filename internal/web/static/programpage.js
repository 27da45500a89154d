// programpage.js: a program's own page at #/programs/NAME: its state and
// actions, CPU and memory charts, its settings as resolved, its history of
// events and the end of its log.
import { act, logPage, programEvents, programSettings, programUsage } from './api.js';
import { el, fmtBytes, fmtCPU, fmtDuration, fmtMemory, lineNode } from './render.js';
import { drawChart, svg } from './chart.js';
import { canDo, when } from './views.js';

const page = document.querySelector('[data-field="page"]');
const tailLines = 20;

// pg is the page's state: the program shown (null: none), the last PROGRAM,
// and seq, which drops answers for a program no longer shown.
const pg = { name: null, p: null, seq: 0, key: '', spark: '', next: null };

const f = {};
f.title = el('h2', {});
f.state = el('span', { class: 'badge' });
f.buttons = Object.fromEntries(['start', 'stop', 'restart', 'logs'].map((a) =>
  [a, el('button', { type: 'button', 'data-page-action': a }, a[0].toUpperCase() + a.slice(1))]));
f.msg = el('p', { class: 'detail', role: 'status' });
f.cpu = svg('svg', { class: 'chart', 'data-chart': 'cpu' });
f.cpuNow = el('span', { 'data-field': 'page-cpu' }, '—'); // the current figures, as on the cards
f.memNow = el('span', { 'data-field': 'page-memory' }, '—');
f.mem = svg('svg', { class: 'chart', 'data-chart': 'memory' });
f.settings = el('dl', { class: 'settings', 'data-field': 'settings' });
f.events = el('ol', { class: 'timeline', 'data-field': 'events' });
f.older = el('button', { type: 'button', 'data-action': 'older-events', hidden: true }, 'Older events');
f.tail = el('div', { class: 'log-lines', 'data-field': 'page-log', tabindex: '0', role: 'log', 'aria-label': 'Last log lines' });
page.append(
  el('p', {}, el('a', { href: '#/', 'data-action': 'back' }, '← All programs')),
  el('div', { class: 'prog-head' }, f.title, f.state),
  el('div', { class: 'actions' }, ...Object.values(f.buttons)), f.msg,
  el('div', { class: 'charts' }, el('figure', {}, el('figcaption', {}, 'CPU · ', f.cpuNow), f.cpu),
    el('figure', {}, el('figcaption', {}, 'Memory · ', f.memNow), f.mem)),
  el('h3', {}, 'Settings'), f.settings,
  el('h3', {}, 'History'), f.events, f.older,
  el('h3', {}, 'Log'), f.tail);

// showPage shows the page of program name, or hides it for null.
function showPage(name, programs) {
  pg.seq++;
  Object.assign(pg, { name, p: null, key: '', spark: '', next: null });
  document.body.dataset.route = name == null ? 'list' : 'program';
  if (name == null) return;
  f.title.textContent = name;
  f.msg.textContent = '';
  for (const n of [f.settings, f.events, f.tail, f.cpu, f.mem]) n.replaceChildren();
  loadSettings();
  updatePage(programs);
  page.querySelector('[data-action="back"]').focus();
}

// updatePage takes the newest list of programs; it refreshes the charts
// after each sample and the history and log after each change of state.
export function updatePage(programs) {
  if (pg.name == null || !programs) return;
  const p = programs.find((x) => x.name === pg.name);
  pg.p = p || null;
  setText(f.cpuNow, p ? fmtCPU(p) : '—');
  setText(f.memNow, p ? fmtMemory(p) : '—');
  if (!p) {
    f.state.textContent = 'not found';
    f.state.className = 'badge';
    for (const b of Object.values(f.buttons)) b.disabled = true;
    return;
  }
  f.state.textContent = p.state;
  f.state.className = 'badge ' + p.state;
  for (const [a, b] of Object.entries(f.buttons)) b.disabled = a !== 'logs' && !canDo(p, a);
  const spark = p.cpu_history.join();
  if (spark !== pg.spark) {
    pg.spark = spark;
    loadUsage();
  }
  const key = [p.state, p.pid, p.restart_count].join();
  if (key !== pg.key) {
    pg.key = key;
    loadEvents(null);
    loadTail();
  }
}

const setText = (node, t) => { if (node.textContent !== t) node.textContent = t; };

// guard runs an answer's handler only if the page still shows the same program.
const guard = (fn) => {
  const seq = pg.seq;
  return (v) => { if (seq === pg.seq) fn(v); };
};

function loadSettings() {
  programSettings(pg.name).then(guard((s) => {
    const r = s.restart;
    const rows = [
      ['Interpreter', s.interpreter], ['Script', s.script], ['Working directory', s.cwd],
      ['Arguments', s.args.length ? s.args.join(' ') : '—'],
      ['Environment', s.environment.length ? s.environment.join(', ') : '—'],
      ['Group', s.group || '—'], ['User', s.user || '—'], ['Starts with pyvisor', s.enabled ? 'yes' : 'no'],
      ['Restart', s.autorestart
        ? `after ${r.delay_seconds} s (×${r.backoff_factor}, at most ${r.max_delay_seconds || '∞'} s); broken after ${r.max_consecutive_failures || '∞'} failures in a row` +
          (r.broken_cooldown_seconds ? `, retried after ${fmtDuration(r.broken_cooldown_seconds)}` : '')
        : 'never (autorestart off)'],
      ['Stop', `${s.stop_signal}, then SIGKILL after ${s.stop_timeout_seconds} s`],
      ['Exit codes that mean done', s.exit_codes.length ? s.exit_codes.join(', ') : '—'],
    ];
    f.settings.replaceChildren(...rows.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, String(v)))));
  }), guard((err) => f.settings.replaceChildren(el('p', {}, `Settings unavailable: ${err.message}`))));
}

function loadUsage() {
  programUsage(pg.name).then(guard((u) => {
    const o = { interval: u.interval_seconds };
    drawChart(f.cpu, u.cpu_percent, { ...o, label: 'CPU', floor: 5, fmt: (v) => `${v.toFixed(v < 10 ? 1 : 0)} %` });
    drawChart(f.mem, u.memory_rss_bytes, { ...o, label: 'Memory', floor: 1 << 20, base: 1024, fmt: (v) => (v ? fmtBytes(v) : '0') });
  }), () => { /* the next sample retries */ });
}

// loadEvents shows the newest events, or with before the older ones after those shown.
function loadEvents(before) {
  programEvents(pg.name, 50, before).then(guard((res) => {
    const items = res.events.map((e) => el('li', {}, el('time', { datetime: e.time }, when(e.time)), ' ',
      el('strong', {}, e.event), e.detail ? ` ${e.detail}` : ''));
    if (before == null) f.events.replaceChildren(...items);
    else f.events.append(...items);
    if (!f.events.firstChild) f.events.append(el('li', {}, 'No events yet.'));
    pg.next = res.next;
    f.older.hidden = res.next == null;
  }), guard(() => {
    f.events.replaceChildren(el('li', {}, 'No history'));
    f.older.hidden = true;
  }));
}

function loadTail() {
  logPage(pg.name, 1, tailLines).then(guard((pageData) => {
    f.tail.replaceChildren(...(pageData.lines.length
      ? pageData.lines.map((l, i) => lineNode(l, pageData.first_line + i))
      : [el('div', { class: 'empty-log' }, 'The log is empty.')]));
    f.tail.scrollTop = f.tail.scrollHeight;
  }), () => { /* shown again after the next change */ });
}

// initPage wires the page's buttons and shows the page the URL names, now and
// after each change of it (links, back, forward). openLogs(name, opener)
// opens the log viewer; programs() is the last list of programs.
export function initPage(openLogs, programs) {
  const route = () => {
    let name = null;
    try {
      const m = location.hash.match(/^#\/programs\/(.+)$/);
      if (m) name = decodeURIComponent(m[1]);
    } catch { /* a malformed name: the list */ }
    if (name !== pg.name || !document.body.dataset.route) showPage(name, programs());
  };
  window.addEventListener('hashchange', route);
  route();
  f.older.addEventListener('click', () => loadEvents(pg.next));
  page.addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-page-action]');
    if (!b || b.disabled || pg.name == null) return;
    const a = b.dataset.pageAction;
    if (a === 'logs') {
      openLogs(pg.name, b);
      return;
    }
    const done = guard((t) => { f.msg.textContent = t; });
    b.disabled = true;
    done(`${b.textContent}…`);
    try {
      await act(pg.name, a);
      done('');
    } catch (err) {
      done(`${b.textContent} failed: ${err.message}`);
    } finally {
      b.disabled = false;
      if (pg.p) updatePage([pg.p]);
    }
  });
}
