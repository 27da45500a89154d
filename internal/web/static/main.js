// main.js: wires the dashboard together: live program rows, the action
// buttons and the log viewer.
import { act, followLog, getSession, logPage, removeProgram, watchPrograms } from './api.js';
import {
  createRow, fmtBytes, lineNode, renderCounts, setActionError, setBusy, showTail, showsTail, updateRow,
} from './render.js';
import { openUpload } from './upload.js';
import { showReload } from './reload.js';

const $ = (sel) => document.querySelector(sel);
const list = $('[data-list="programs"]');
const rows = new Map(); // program name -> row (see render.js createRow)

// ---- program rows ----

function applyPrograms(data) {
  $('[data-field="title"]').textContent = data.title;
  document.title = data.title;
  const seen = new Set();
  let prev = null;
  for (const p of data.programs) {
    seen.add(p.name);
    let row = rows.get(p.name);
    if (!row) {
      row = createRow(p.name);
      rows.set(p.name, row);
    }
    updateRow(row, p);
    refreshTail(row, p);
    // Keep config order, moving only rows that are out of place.
    const want = prev ? prev.el.nextSibling : list.firstChild;
    if (want !== row.el) list.insertBefore(row.el, want);
    prev = row;
  }
  for (const [name, row] of rows) {
    if (!seen.has(name)) {
      row.el.remove();
      rows.delete(name);
    }
  }
  renderCounts($('[data-field="counts"]'), data.programs);
  $('[data-field="empty"]').hidden = data.programs.length > 0;
  showReload(data.reload);
}

// refreshTail fetches the last log lines of a program that crashed, once per
// crash: the key changes with every new failure.
function refreshTail(row, p) {
  if (!showsTail(p)) {
    row.tailKey = '';
    return;
  }
  const key = [p.state, p.restart_count, p.consecutive_failures, p.exit_description, p.error].join('|');
  if (key === row.tailKey) return;
  row.tailKey = key;
  logPage(p.name, 1, 8).then((page) => {
    if (row.tailKey === key) showTail(row, page.lines);
  }, () => { /* the row still shows state and error; the next change retries */ });
}

const connText = { live: 'Live', reconnecting: 'Reconnecting…', polling: 'Polling every 2 s' };
function setConnection(status) {
  const c = $('[data-field="connection"]');
  if (c.dataset.conn === status) return;
  c.dataset.conn = status;
  c.textContent = connText[status];
}

list.addEventListener('click', async (e) => {
  const btn = e.target.closest('button[data-action]');
  if (!btn || btn.disabled) return;
  const name = btn.closest('[data-program]').dataset.program;
  const row = rows.get(name);
  const action = btn.dataset.action;
  if (action === 'logs') {
    openLogs(name, btn);
    return;
  }
  if (action === 'update') {
    openUpload(row.p, btn);
    return;
  }
  if (action === 'remove' && !confirm(`Remove program ${name}? Its files are deleted.`)) return;
  setActionError(row, '');
  setBusy(row, action);
  try {
    if (action === 'remove') {
      await removeProgram(name);
      row.el.remove(); // the next event drops it from the counts
      rows.delete(name);
      return;
    }
    const p = await act(name, action);
    setBusy(row, null);
    updateRow(row, p);
    refreshTail(row, p);
  } catch (err) {
    setBusy(row, null);
    setActionError(row, `${action[0].toUpperCase() + action.slice(1)} failed: ${err.message}`);
  }
});

// ---- log viewer ----

const dlg = $('[data-modal="logs"]');
const linesEl = dlg.querySelector('[data-field="lines"]');
const followBox = dlg.querySelector('[data-field="follow"]');
const filterBox = dlg.querySelector('[data-field="filter"]');
const infoEl = dlg.querySelector('[data-field="info"]');
const errorEl = dlg.querySelector('[data-field="logs-error"]');
const perPage = 200;
const maxLiveLines = 5000; // lines kept in the viewer while following

// lv is the viewer's state; only the functions below change it.
const lv = { name: null, opener: null, seq: 0, page: null, stopFollow: null, live: 0, nextLine: 0 };

function openLogs(name, opener) {
  Object.assign(lv, { name, opener, page: null, live: 0 });
  dlg.querySelector('[data-field="logs-title"]').textContent = `Logs: ${name}`;
  followBox.checked = false;
  filterBox.value = '';
  linesEl.replaceChildren();
  dlg.showModal();
  dlg.querySelector('[data-action="close"]').focus();
  loadPage(1);
}

async function loadPage(n) {
  const seq = ++lv.seq;
  infoEl.textContent = 'Loading…';
  try {
    const page = await logPage(lv.name, n, perPage);
    if (seq !== lv.seq) return; // another page was asked for meanwhile
    showPage(page);
  } catch (err) {
    if (seq === lv.seq) {
      showError(`Could not load the log: ${err.message}`);
      infoEl.textContent = '';
    }
  }
}

function showPage(page) {
  lv.page = page;
  lv.nextLine = page.last_line + 1;
  showError('');
  linesEl.replaceChildren(...(page.lines.length
    ? page.lines.map((l, i) => lineNode(l, page.first_line + i))
    : [Object.assign(document.createElement('div'), { className: 'empty-log', textContent: 'No lines on this page.' })]));
  applyFilter();
  updatePager();
  // The newest page is read from the bottom, older ones from the top.
  linesEl.scrollTop = page.page === 1 ? linesEl.scrollHeight : 0;
}

function showError(msg) {
  errorEl.textContent = msg;
  errorEl.hidden = !msg;
}

function updatePager() {
  const p = lv.page;
  const at = p ? p.page : 1, pages = p ? p.pages : 1;
  for (const b of dlg.querySelectorAll('[data-page]')) {
    const older = b.dataset.page === 'next' || b.dataset.page === 'last';
    b.disabled = !p || (older ? at >= pages : at <= 1);
  }
  updateInfo();
}

function updateInfo() {
  const p = lv.page;
  if (!p) return;
  const range = p.first_line ? `lines ${p.first_line}–${p.last_line}` : 'no lines';
  let s = `Page ${p.page} of ${p.pages} · ${range} of ${p.total_lines} · ${fmtBytes(p.size_bytes)}`;
  if (followBox.checked) s += ` · live: ${lv.live} new line${lv.live === 1 ? '' : 's'}`;
  const q = filterBox.value.trim();
  if (q) {
    const all = linesEl.querySelectorAll('[data-line]');
    const n = [...all].filter((d) => !d.hidden).length;
    s += ` · ${n} of ${all.length} shown match “${q}”`;
  }
  infoEl.textContent = s;
}

function appendLines(lines) {
  const atBottom = linesEl.scrollHeight - linesEl.scrollTop - linesEl.clientHeight < 40;
  linesEl.querySelector('.empty-log')?.remove();
  const q = filterBox.value.trim().toLowerCase();
  const nodes = lines.map((l) => {
    const d = lineNode(l, lv.nextLine++);
    d.hidden = q !== '' && !d.plain.includes(q);
    return d;
  });
  linesEl.append(...nodes);
  while (linesEl.childElementCount > maxLiveLines) linesEl.firstElementChild.remove();
  lv.live += lines.length;
  updateInfo();
  if (atBottom) linesEl.scrollTop = linesEl.scrollHeight;
}

function startFollow() {
  stopFollow();
  // The stream starts with page 1 each time it (again) follows the log, and
  // its lines continue that page: none falls between them or shows twice,
  // also across a reconnection.
  const stop = followLog(lv.name, perPage, (page) => {
    if (lv.stopFollow !== stop) return; // followed no more, or by another stream
    lv.seq++; // drop pages still on their way: this one is newer
    lv.live = 0;
    showPage(page);
  }, (lines) => { if (lv.stopFollow === stop) appendLines(lines); }, showError);
  lv.stopFollow = stop;
}

function stopFollow() {
  if (lv.stopFollow) lv.stopFollow();
  lv.stopFollow = null;
}

function applyFilter() {
  const q = filterBox.value.trim().toLowerCase();
  for (const d of linesEl.children) {
    if (d.plain !== undefined) d.hidden = q !== '' && !d.plain.includes(q);
  }
  updateInfo();
}

dlg.addEventListener('click', (e) => {
  const pageBtn = e.target.closest('button[data-page]');
  if (pageBtn && lv.page) {
    followBox.checked = false;
    stopFollow();
    const { page, pages } = lv.page;
    const to = { first: 1, prev: page - 1, next: page + 1, last: pages }[pageBtn.dataset.page];
    loadPage(Math.min(Math.max(to, 1), pages));
    return;
  }
  if (e.target.closest('[data-action="close"]')) {
    dlg.close();
    return;
  }
  // A click on the backdrop (outside the dialog's box) closes it too.
  const r = dlg.getBoundingClientRect();
  if (e.target === dlg && (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom)) {
    dlg.close();
  }
});

followBox.addEventListener('change', () => {
  if (followBox.checked) startFollow();
  else {
    stopFollow();
    updateInfo();
  }
});
filterBox.addEventListener('input', applyFilter);

// Esc closes the dialog natively (a "cancel", then "close").
dlg.addEventListener('close', () => {
  stopFollow();
  lv.seq++; // drop answers still on their way
  lv.name = null;
  const back = lv.opener && lv.opener.isConnected ? lv.opener : null;
  if (back) back.focus();
});

// ---- session ----

// With a browser login, the header shows the user and a Log out button (a
// plain form: it works even if this script fails).
getSession().then((s) => {
  if (s.via !== 'session') return;
  $('[data-field="user"]').textContent = s.user;
  $('[data-form="logout"]').hidden = false;
}, () => { /* without it the header only lacks the user's name */ });

watchPrograms(applyPrograms, setConnection);
