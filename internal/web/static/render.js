// render.js: builds and updates the DOM from the API's JSON. Everything the
// server sends is shown as text (textContent, attributes), never parsed as HTML.

const SVG = 'http://www.w3.org/2000/svg';
export const STATES = ['running', 'waiting', 'restarting', 'stopping', 'installing', 'error', 'broken', 'stopped'];
const HEALTH = ['starting', 'healthy', 'unhealthy'];
const VERBS = { start: 'Starting', stop: 'Stopping', restart: 'Restarting', remove: 'Removing' };
const LABELS = { start: 'Start', stop: 'Stop', restart: 'Restart', logs: 'Logs', update: 'Update', remove: 'Remove' };

// el makes an element with attributes and children (strings become text).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (v === true) e.setAttribute(k, '');
    else if (v !== false && v != null) e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

export function fmtDuration(sec) {
  sec = Math.max(0, Math.floor(sec));
  const d = Math.floor(sec / 86400), h = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60, s = sec % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

// fmtUntil says how far off a time sec seconds away is, the way a person
// says it: "2 h 10 min", "1 d 3 h", "45 s".
export function fmtUntil(sec) {
  sec = Math.max(0, Math.ceil(sec));
  const d = Math.floor(sec / 86400), h = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min`;
  return `${sec} s`;
}

export function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} ${units[0]}`;
}

// fmtCPU and fmtMemory are a program's current figures, or "—" when none
// exists: no process, or one not sampled yet (CPU needs two samples, and is
// null until then; memory is 0 until the first).
export const fmtCPU = (p) => (p.pid != null && p.cpu_percent != null ? `${p.cpu_percent.toFixed(1)} %` : '—');
export const fmtMemory = (p) => (p.pid != null && p.memory_rss_bytes > 0 ? fmtBytes(p.memory_rss_bytes) : '—');

// allowed says which buttons apply in a program's state: the server's
// PROGRAM actions decide, so the rules live in one place.
export function allowed(p) {
  const a = new Set(p.actions || []);
  return {
    start: a.has('start'),
    stop: a.has('stop'),
    restart: a.has('restart'),
    logs: true,
    update: a.has('update'),
    remove: a.has('remove'),
  };
}

// showsTail: a program that crashed, is broken or in error shows the end of its
// log (usually the traceback) in its row. It stays while the failures go on
// (running again between crashes too), so a crash loop does not resize the card.
export function showsTail(p) {
  return ['restarting', 'broken', 'error'].includes(p.state) || p.consecutive_failures > 0;
}

// needsAttention: red is for programs that failed, not for those stopped by
// the user, not enabled, or finished with an expected exit code.
export const needsAttention = (p) => ['broken', 'error'].includes(p.state) ||
  (p.state === 'stopped' && p.consecutive_failures > 0);

function stat(label, field) {
  const dd = el('dd', { 'data-field': field });
  return [el('div', {}, el('dt', {}, label), dd), dd];
}

// createRow builds the row of one program; updateRow fills it in.
export function createRow(name) {
  const f = {};
  f.name = el('h2', { 'data-field': 'name' }, name);
  // The copies of a program with instances come one after the other; the
  // first carries the heading of them all.
  f.group = el('p', { class: 'group-head', 'data-field': 'group', hidden: true });
  f.state = el('span', { class: 'badge', 'data-field': 'state' });
  f.health = el('span', { class: 'health', 'data-field': 'health', hidden: true });
  f.script = el('p', { class: 'script', 'data-field': 'script' });
  const stats = el('dl', { class: 'stats' });
  for (const [label, field] of [['PID', 'pid'], ['Uptime', 'uptime'], ['Restarts', 'restarts'], ['CPU', 'cpu'], ['Memory', 'memory']]) {
    const [div, dd] = stat(label, field);
    stats.append(div);
    f[field] = dd;
  }
  f.spark = document.createElementNS(SVG, 'svg');
  f.spark.setAttribute('class', 'spark');
  f.spark.setAttribute('viewBox', '0 0 100 20');
  f.spark.setAttribute('preserveAspectRatio', 'none');
  f.spark.setAttribute('role', 'img');
  f.spark.setAttribute('data-field', 'sparkline');
  f.line = document.createElementNS(SVG, 'polyline');
  f.spark.append(f.line);
  f.cpu.parentNode.append(f.spark);
  f.cpu.parentNode.className = 'cpu';
  f.detail = el('p', { class: 'detail', 'data-field': 'detail', hidden: true });
  f.error = el('p', { class: 'error-msg', 'data-field': 'error', hidden: true });
  f.tail = el('pre', { class: 'tail', 'data-field': 'tail', 'aria-label': `Last log lines of ${name}`, hidden: true });
  f.actionError = el('p', { class: 'action-error', 'data-field': 'action-error', role: 'alert', hidden: true });
  f.buttons = {};
  const actions = el('div', { class: 'actions' });
  for (const a of ['start', 'stop', 'restart', 'logs']) {
    f.buttons[a] = el('button', { type: 'button', 'data-action': a, 'aria-label': `${LABELS[a]} ${name}` }, LABELS[a]);
    actions.append(f.buttons[a]);
  }
  // tabindex -1: the card holds the focus while its buttons are disabled.
  const root = el('article', { class: 'prog', role: 'listitem', 'data-program': name, tabindex: '-1' },
    f.group, el('div', { class: 'prog-head' }, f.name, f.health, f.state), f.script, stats,
    f.detail, f.error, f.tail, actions, f.actionError);
  return { el: root, f, v: {}, p: null, busy: null, tailKey: '' };
}

// set changes a row's field only when its value changed, so a stream of events
// for 200 programs touches just the few nodes that differ.
function set(row, key, value, apply) {
  if (row.v[key] === value) return;
  row.v[key] = value;
  apply(value);
}

const text = (node) => (v) => { node.textContent = v; };
const shown = (node) => (v) => { node.hidden = !v; node.textContent = v; };

export function updateRow(row, p) {
  const { f } = row;
  row.p = p;
  const running = p.pid != null;
  set(row, 'state', p.state, (s) => {
    row.el.dataset.state = s;
    f.state.className = 'badge' + (STATES.includes(s) ? ' ' + s : '') + (row.v.attention ? ' attention' : '');
    f.state.textContent = s;
  });
  set(row, 'health', p.health || '', (h) => {
    f.health.hidden = !h;
    f.health.className = 'health' + (HEALTH.includes(h) ? ' ' + h : '');
    f.health.textContent = h;
  });
  set(row, 'health-detail', p.health_detail || '', (d) => {
    if (d) f.health.title = `Last failed check: ${d}`; else f.health.removeAttribute('title');
  });
  set(row, 'attention', needsAttention(p), (on) => {
    row.el.toggleAttribute('data-attention', on);
    f.state.classList.toggle('attention', on);
  });
  set(row, 'script', [p.script, ...p.args].join(' '), text(f.script));
  set(row, 'pid', running ? `${p.pid}${p.adopted ? ' (adopted)' : ''}` : '—', text(f.pid));
  set(row, 'adopted', p.adopted ? 'Started by an earlier pyvisor: its exit code will be unknown' : '', (t) => {
    if (t) f.pid.title = t; else f.pid.removeAttribute('title');
  });
  set(row, 'uptime', running ? fmtDuration(p.uptime_seconds) : '—', text(f.uptime));
  set(row, 'restarts', String(p.restart_count), text(f.restarts));
  set(row, 'cpu', row.stale ? '—' : fmtCPU(p), text(f.cpu));
  set(row, 'memory', row.stale ? '—' : fmtMemory(p), text(f.memory));
  set(row, 'spark', p.cpu_history.join(','), () => sparkline(f, p.cpu_history));
  set(row, 'detail', detail(p), shown(f.detail));
  set(row, 'group', p.instance === 1 ? `${p.instance_of}: every instance` : '', shown(f.group));
  set(row, 'instanceOf', p.instance_of || '', (g) => {
    if (g) row.el.dataset.group = g; else delete row.el.dataset.group;
  });
  set(row, 'error', p.error || '', shown(f.error));
  if (!showsTail(p)) set(row, 'tail', '', shown(f.tail));
  if (p.uploaded && !f.buttons.update) addUploadButtons(row, p.name);
  updateButtons(row);
}

// addUploadButtons gives the row of an uploaded program Update and Remove.
function addUploadButtons(row, name) {
  const actions = row.f.buttons.logs.parentNode;
  for (const a of ['update', 'remove']) {
    row.f.buttons[a] = el('button', { type: 'button', 'data-action': a, 'aria-label': `${LABELS[a]} ${name}` }, LABELS[a]);
    actions.append(row.f.buttons[a]);
  }
}

// detail is the line about the last exit and what happens next.
function detail(p) {
  const parts = [];
  if (p.schedule != null) return jobDetail(p);
  if (p.exit_description) parts.push(`Last exit: ${p.exit_description}`);
  if (p.consecutive_failures > 0) parts.push(`${p.consecutive_failures} failure${p.consecutive_failures > 1 ? 's' : ''} in a row`);
  if (p.health_detail) parts.push(`Health check: ${p.health_detail}`);
  if (p.next_start_seconds != null) parts.push(`next start in ${fmtDuration(Math.ceil(p.next_start_seconds))}`);
  if (!p.enabled) parts.push('not started automatically');
  return parts.join(' · ');
}

// jobDetail is detail for a job: its schedule, the next run and how the last
// one ended.
function jobDetail(p) {
  const parts = [`Schedule: ${p.schedule}`];
  if (p.next_run != null) parts.push(`next run in ${fmtUntil((Date.parse(p.next_run) - Date.now()) / 1000)}`);
  else parts.push('no next run');
  const r = p.last_run;
  if (r) {
    const code = r.exit_code != null ? '' : ` (${r.exit_description})`;
    parts.push(`last run ${r.outcome}${r.exit_code != null ? ` with exit code ${r.exit_code}` : code}, ${fmtUntil((Date.now() - Date.parse(r.ended)) / 1000)} ago`);
  }
  if (p.consecutive_failures > 0) parts.push(`${p.consecutive_failures} failed run${p.consecutive_failures > 1 ? 's' : ''} in a row`);
  if (p.skipped_runs > 0) parts.push(`${p.skipped_runs} due time${p.skipped_runs > 1 ? 's' : ''} skipped (a run was still going)`);
  return parts.join(' · ');
}

// sparkline draws hist into f.spark's polyline f.line.
export function sparkline(f, hist) {
  const peak = Math.max(5, ...hist);
  const step = hist.length > 1 ? 100 / (hist.length - 1) : 0;
  f.line.setAttribute('points', hist.length < 2 ? '' :
    hist.map((v, i) => `${(i * step).toFixed(1)},${(19 - (v / peak) * 18).toFixed(1)}`).join(' '));
  const last = hist.length ? hist[hist.length - 1] : 0;
  f.spark.setAttribute('aria-label', `CPU history: ${hist.length} samples, peak ${Math.max(0, ...hist).toFixed(1)} %, last ${last.toFixed(1)} %`);
}

export function showTail(row, lines) {
  const pre = row.f.tail;
  row.v.tail = null; // a fetched tail is not a cached value
  const carry = {};
  pre.replaceChildren(...lines.flatMap((l, i) => (i ? ['\n', ...ansi(l, carry)] : ansi(l, carry))));
  pre.hidden = lines.length === 0;
  pre.scrollTop = pre.scrollHeight; // the last line (the exception) matters most
}

function updateButtons(row) {
  const ok = allowed(row.p);
  for (const [a, b] of Object.entries(row.f.buttons)) {
    b.disabled = row.busy != null && a !== 'logs' ? true : !ok[a] || (row.stale && a !== 'logs');
  }
  explainUploadButtons(row, ok);
}

// explainUploadButtons keeps Update and Remove focusable while they cannot
// be used on a program that runs, with a title that says why.
function explainUploadButtons(row, ok) {
  for (const a of ['update', 'remove']) {
    const b = row.f.buttons[a];
    if (!b) continue;
    const why = b.disabled && !row.busy && !row.stale && !ok[a] ? `Stop ${row.p.name} first to ${a} it` : '';
    b.disabled = b.disabled && !why;
    if (why) {
      b.setAttribute('aria-disabled', 'true');
      b.title = why;
    } else {
      b.removeAttribute('aria-disabled');
      b.removeAttribute('title');
    }
  }
}

// isOff says whether a button must not act: disabled, or only explaining why.
export const isOff = (b) => b.disabled || b.getAttribute('aria-disabled') === 'true';

// setStale marks a row's figures as out of date while the manager cannot be
// reached: CPU, memory and uptime read "—" and the actions are disabled.
export function setStale(row, on) {
  row.stale = on;
  if (on) {
    for (const k of ['cpu', 'memory', 'uptime']) {
      row.f[k].textContent = '—';
      row.v[k] = null; // rewritten by the first update after the reconnection
    }
  }
  if (row.p) updateButtons(row);
}

// setBusy shows that action runs on the row (null: nothing runs).
export function setBusy(row, action) {
  row.busy = action;
  row.el.setAttribute('aria-busy', action ? 'true' : 'false');
  for (const [a, b] of Object.entries(row.f.buttons)) {
    const busy = a === action;
    b.classList.toggle('busy', busy);
    b.textContent = busy ? `${VERBS[a]}…` : LABELS[a];
  }
  if (row.p) updateButtons(row);
}

// A failed action's message goes after this long, or at the next action.
const actionErrorMs = 10000;

export function setActionError(row, msg) {
  clearTimeout(row.actionErrorTimer);
  shown(row.f.actionError)(msg);
  if (msg) row.actionErrorTimer = setTimeout(() => shown(row.f.actionError)(''), actionErrorMs);
}

// renderCounts shows how many programs are in each state. The passing states
// come last, so that a program that restarts moves no other count.
const COUNTED = ['running', 'stopped', 'broken', 'error', 'installing', 'stopping', 'restarting'];
export function renderCounts(ul, programs) {
  const n = {};
  for (const p of programs) n[p.state] = (n[p.state] || 0) + 1;
  const key = STATES.map((s) => n[s] || 0).join(',');
  if (ul.dataset.key === key) return;
  ul.dataset.key = key;
  ul.replaceChildren(...COUNTED.map((s) =>
    el('li', { 'data-count': s, 'data-zero': !n[s] }, el('button', { type: 'button', 'data-filter': s, title: `Show only the ${s} programs` },
      el('span', { class: `badge ${s}` }, s), el('span', { 'data-field': 'count' }, String(n[s] || 0))))));
}

// ANSI escape sequences: SGR (colours and styles) is rendered, every other
// sequence and control character is dropped, so none shows as garbage.
// eslint-disable-next-line no-control-regex
const ESC = /\x1b\[([0-9;:]*)m|\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|[\x00-\x08\x0b-\x1f\x7f]/g;

// stripAnsi is the plain text of a log line, as the filter sees it.
export function stripAnsi(line) {
  return line.replace(ESC, '');
}

// ansi turns a log line into text nodes and spans with classes (a-b bold,
// a-f<n> foreground, a-k<n> background, ...). A colour set on one line holds
// on the next ones until reset, as in a terminal: carry holds it in .st
// from one call to the next.
export function ansi(line, carry = {}) {
  const out = [];
  let st = carry.st || {}, last = 0, m;
  const emit = (s) => {
    if (!s) return;
    const cls = [st.b && 'a-b', st.d && 'a-d', st.i && 'a-i', st.u && 'a-u',
      st.fg != null && `a-f${st.fg}`, st.bg != null && `a-k${st.bg % 8}`].filter(Boolean).join(' ');
    out.push(cls ? el('span', { class: cls }, s) : s);
  };
  ESC.lastIndex = 0;
  while ((m = ESC.exec(line))) {
    emit(line.slice(last, m.index));
    last = ESC.lastIndex;
    if (m[1] !== undefined) st = sgr(st, m[1]);
  }
  emit(line.slice(last));
  carry.st = st;
  return out;
}

// sgr applies the parameters of one SGR sequence to a style.
function sgr(st, params) {
  st = { ...st };
  const c = params.split(/[;:]/).map((x) => (x === '' ? 0 : Number(x)));
  for (let i = 0; i < c.length; i++) {
    const n = c[i];
    if (n === 0) st = {};
    else if (n === 1) st.b = true;
    else if (n === 2) st.d = true;
    else if (n === 3) st.i = true;
    else if (n === 4) st.u = true;
    else if (n === 22) st.b = st.d = false;
    else if (n === 23) st.i = false;
    else if (n === 24) st.u = false;
    else if (n >= 30 && n <= 37) st.fg = n - 30;
    else if (n >= 90 && n <= 97) st.fg = n - 82;
    else if (n === 39) st.fg = null;
    else if (n >= 40 && n <= 47) st.bg = n - 40;
    else if (n >= 100 && n <= 107) st.bg = n - 100;
    else if (n === 49) st.bg = null;
    else if (n === 38 || n === 48) {
      // Of 256 colours (5;n) the 16 basic ones are kept; others and true colour
      // (2;r;g;b) show in the default colour.
      const key = n === 38 ? 'fg' : 'bg';
      st[key] = c[i + 1] === 5 && c[i + 2] < 16 ? c[i + 2] : null;
      i += c[i + 1] === 5 ? 2 : c[i + 1] === 2 ? 4 : 0;
    }
  }
  return st;
}

// lineNode is one line of the log viewer; its plain text is kept for the filter.
export function lineNode(line, number, carry) {
  const d = el('div', { 'data-line': number || null }, ...ansi(line, carry));
  d.plain = stripAnsi(line).toLowerCase();
  return d;
}

// fileName names file number file of a program's log as a download names it.
export const fileName = (name, file) => (file ? `${name}.log.${file}` : `${name}.log`);

// fileLabel is the text of a log file in the viewer's file list.
export function fileLabel(f) {
  const what = f.file ? `Backup ${f.file} · ${new Date(f.modified).toLocaleString()}` : 'Live log';
  return `${what} · ${fmtBytes(f.size_bytes)}`;
}

// matcher returns a function that finds the spans of a search in a text,
// as [start, end] pairs, for highlighting. A regular expression the browser
// reads differently from the server (RE2) may highlight nothing; the line
// is still listed.
export function matcher(q, regex) {
  let re;
  try {
    re = new RegExp(regex ? q : q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi');
  } catch {
    return () => [];
  }
  return (text) => {
    const out = [];
    re.lastIndex = 0;
    let m;
    while ((m = re.exec(text)) && out.length < 100) {
      if (m[0] === '') { re.lastIndex++; continue; }
      out.push([m.index, m.index + m[0].length]);
    }
    return out;
  };
}

// highlighted is text as text nodes, with the spans find gives in <mark>.
export function highlighted(text, find) {
  const out = [];
  let at = 0;
  for (const [a, b] of find(text)) {
    if (a > at) out.push(text.slice(at, a));
    out.push(el('mark', {}, text.slice(a, b)));
    at = b;
  }
  out.push(text.slice(at));
  return out;
}

// matchNode is one search result: a button that opens the match's page.
export function matchNode(name, m, find) {
  const text = stripAnsi(m.text);
  return el('li', {},
    el('button', { type: 'button', class: 'match', 'data-match': '', 'data-file': m.file, 'data-line': m.line, 'data-page': m.page },
      el('span', { class: 'match-at' }, `${fileName(name, m.file)}:${m.line}`),
      el('span', { class: 'match-text' }, ...highlighted(text, find))));
}
