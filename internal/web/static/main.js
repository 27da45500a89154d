// main.js: wires the dashboard together: live program rows, the action
// buttons and the log viewer.
import { act, followLog, getSession, logDownloadURL, logPage, removeProgram, watchPrograms } from './api.js';
import {
  createRow, el, fileLabel, fileName, fmtBytes, isOff, lineNode, renderCounts, setActionError, setBusy, setStale, showTail,
  showsTail, updateRow,
} from './render.js';
import { initSearch } from './logsearch.js';
import { onUploaded, openUpload, setUploadLimit } from './upload.js';
import { showReload } from './reload.js';
import { onHistory } from './notify.js';
import { initViews } from './views.js';
import { initPage, updatePage } from './programpage.js';

const $ = (sel) => document.querySelector(sel);
const list = $('[data-list="programs"]');
const rows = new Map(); // program name -> row (see render.js createRow)

// ---- program rows ----

function applyPrograms(data) {
  $('[data-field="title"]').textContent = data.title;
  document.title = data.title;
  renderCounts($('[data-field="counts"]'), data.programs);
  $('[data-field="empty"]').hidden = data.programs.length > 0;
  showReload(data.reload);
  lastPrograms = data.programs;
  views(data.programs); // the view shown (cards: syncCards), and the program's page
  setUploadLimit(data.max_zip_bytes);
}

// syncCards builds or updates the card of every program and drops those of
// programs gone. views.js calls it only while the cards are shown, and when
// they are shown again: a hidden view costs nothing per update.
function syncCards(programs) {
  const seen = new Set();
  for (const p of programs) {
    seen.add(p.name);
    let row = rows.get(p.name);
    if (!row) {
      row = createRow(p.name);
      rows.set(p.name, row);
      if (stale) setStale(row, true);
    }
    updateRow(row, p);
    refreshTail(row, p);
  }
  for (const [name, row] of rows) {
    if (!seen.has(name)) {
      row.el.remove();
      rows.delete(name);
    }
  }
}

// refreshTail fetches the last log lines of a program that crashed, once per
// crash: the key changes with every new failure.
function refreshTail(row, p) {
  if (!showsTail(p)) {
    row.tailKey = '';
    return;
  }
  // Not the state: a crash loop's trips through running keep the crash's tail.
  const key = [p.restart_count, p.consecutive_failures, p.exit_description, p.error].join('|');
  if (key === row.tailKey) return;
  row.tailKey = key;
  logPage(p.name, 1, 8).then((page) => {
    if (row.tailKey === key) showTail(row, page.lines);
  }, () => { /* the row still shows state and error; the next change retries */ });
}

let stale = false; // the manager cannot be reached: the figures shown are old
const connText = { live: 'Live', reconnecting: 'Reconnecting…', polling: 'Polling every 2 s' };
function setConnection(status) {
  const c = $('[data-field="connection"]');
  if (c.dataset.conn === status) return;
  c.dataset.conn = status;
  c.textContent = connText[status];
  // Without the manager the figures shown are old and no action can work.
  stale = status === 'reconnecting';
  document.body.toggleAttribute('data-stale', stale);
  $('[data-field="stale"]').hidden = !stale;
  for (const b of document.querySelectorAll('header [data-action="upload"], header [data-action="reload"]')) b.disabled = stale;
  for (const row of rows.values()) setStale(row, stale);
}

list.addEventListener('click', async (e) => {
  const btn = e.target.closest('button[data-action]');
  if (!btn || isOff(btn)) return;
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
  // The button is disabled while busy, which would drop the keyboard focus
  // to the page: the card holds it meanwhile (see keepFocus).
  const focused = document.activeElement === btn;
  if (focused) row.el.focus({ preventScroll: true });
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
  } finally {
    if (focused) keepFocus(row, action);
  }
});

// keepFocus puts the focus back after an action started from the keyboard:
// on its button, or on the one that undoes it (Start after Stop), or it
// stays on the card.
function keepFocus(row, action) {
  if (document.activeElement !== row.el) return; // the user moved on
  const other = { start: 'stop', stop: 'start' }[action];
  const to = [row.f.buttons[action], row.f.buttons[other]].find((b) => b && !isOff(b));
  if (to) to.focus();
}

// ---- log viewer ----

const dlg = $('[data-modal="logs"]');
const linesEl = dlg.querySelector('[data-field="lines"]');
const followBox = dlg.querySelector('[data-field="follow"]');
const filterBox = dlg.querySelector('[data-field="filter"]');
const infoEl = dlg.querySelector('[data-field="info"]');
const errorEl = dlg.querySelector('[data-field="logs-error"]');
const fileSel = dlg.querySelector('[data-field="file"]');
const downloadEl = dlg.querySelector('[data-field="download"]');
const gotoBox = dlg.querySelector('[data-field="goto"]');
const perPage = 200;
const maxLiveLines = 5000; // lines kept in the viewer while following

// lv is the viewer's state; only the functions below change it.
// file is the file shown (0 the live log, 1..N its backups), files the list
// of them the last page came with.
const lv = { name: null, opener: null, seq: 0, page: null, stopFollow: null, live: 0, nextLine: 0, file: 0, files: [] };

function openLogs(name, opener, follow = false) {
  Object.assign(lv, { name, opener, page: null, live: 0, file: 0, files: [] });
  clearSearch();
  gotoBox.value = '';
  dlg.querySelector('[data-field="logs-title"]').textContent = `Logs: ${name}`;
  followBox.checked = follow;
  filterBox.value = '';
  linesEl.replaceChildren();
  dlg.showModal();
  dlg.querySelector('[data-action="close"]').focus();
  if (follow) startFollow();
  else loadPage(1);
}

// After an upload its install log opens, following live.
onUploaded((name, opener) => openLogs(name, opener, true));

// loadPage shows page n of file file, or its oldest page for n 'last';
// with hl, line hl of the file is highlighted and scrolled into view.
async function loadPage(n, file = lv.file, hl = 0) {
  const seq = ++lv.seq;
  infoEl.textContent = 'Loading…';
  try {
    let page = await logPage(lv.name, n === 'last' ? 1 : n, perPage, file);
    if (n === 'last' && page.pages > 1 && seq === lv.seq) page = await logPage(lv.name, page.pages, perPage, file);
    if (seq === lv.seq) page = await fillOldest(page);
    if (seq !== lv.seq) return; // another page was asked for meanwhile
    showPage(page, hl);
  } catch (err) {
    if (seq === lv.seq) {
      showError(`Could not load the log: ${err.message}`);
      infoEl.textContent = '';
    }
  }
}

// fillOldest makes the oldest page of a file a full one: pages count from
// the end, so the oldest may be short; it then shows the first perPage
// lines of the file, taking the rest from the page before.
async function fillOldest(page) {
  if (page.page !== page.pages || page.pages < 2 || page.first_line !== 1 || page.lines.length >= perPage) return page;
  const prev = await logPage(lv.name, page.page - 1, perPage, page.file);
  if (prev.first_line !== page.last_line + 1) return page; // the live log moved on meanwhile
  const lines = page.lines.concat(prev.lines).slice(0, perPage);
  return { ...page, lines, last_line: lines.length };
}

function showPage(page, hl = 0) {
  lv.page = page;
  lv.file = page.file || 0;
  lv.files = page.files || [];
  lv.nextLine = page.last_line + 1;
  showError('');
  lv.ansi = {}; // colours carry from line to line (see ansi)
  const none = page.total_lines ? 'No lines on this page.' : 'No lines yet.';
  linesEl.replaceChildren(...(page.lines.length
    ? page.lines.map((l, i) => lineNode(l, page.first_line + i, lv.ansi))
    : [Object.assign(document.createElement('div'), { className: 'empty-log', textContent: none })]));
  applyFilter();
  showFiles();
  updatePager();
  const line = hl && linesEl.querySelector(`[data-line="${hl}"]`);
  if (line) {
    line.classList.add('hl');
    line.hidden = false; // shown even if the filter would hide it
    line.scrollIntoView({ block: 'center' });
    return;
  }
  // The newest page is read from the bottom, older ones from the top.
  linesEl.scrollTop = page.page === 1 ? linesEl.scrollHeight : 0;
}

// showFiles lists the log's files in the selector and points Download at
// the file shown.
function showFiles() {
  const want = lv.files.map((f) => `${f.file}:${f.size_bytes}:${f.modified}`).join() + '|' + lv.file;
  if (fileSel.dataset.shown !== want) {
    fileSel.dataset.shown = want;
    fileSel.replaceChildren(...lv.files.map((f) => el('option', { value: f.file }, fileLabel(f))));
    if (!lv.files.some((f) => f.file === lv.file)) fileSel.append(el('option', { value: lv.file }, `File ${lv.file}`));
    fileSel.value = String(lv.file);
  }
  downloadEl.href = logDownloadURL(lv.name, lv.file);
  downloadEl.download = fileName(lv.name, lv.file);
}

// neighbours are the files next to the one shown: newer, older (null when
// none), and the newest and oldest of all.
function neighbours() {
  const fs = lv.files.map((f) => f.file);
  const i = fs.indexOf(lv.file);
  return {
    newer: i > 0 ? fs[i - 1] : null,
    older: i >= 0 && i < fs.length - 1 ? fs[i + 1] : null,
    newest: fs.length ? fs[0] : 0,
    oldest: fs.length ? fs.at(-1) : lv.file,
  };
}

function showError(msg) {
  errorEl.textContent = msg;
  errorEl.hidden = !msg;
}

// updatePager enables the buttons that lead somewhere: the pager goes on
// into the next file at either end of one.
function updatePager() {
  const p = lv.page;
  const at = p ? p.page : 1, pages = p ? p.pages : 1;
  const n = neighbours();
  const off = {
    first: lv.file === n.newest && at <= 1,
    prev: at <= 1 && n.newer === null,
    next: at >= pages && n.older === null,
    last: lv.file === n.oldest && at >= pages,
  };
  for (const b of dlg.querySelectorAll('[data-page]')) b.disabled = !p || off[b.dataset.page];
  dlg.querySelector('[data-file="newer"]').disabled = !p || n.newer === null;
  dlg.querySelector('[data-file="older"]').disabled = !p || n.older === null;
  updateInfo();
}

function updateInfo() {
  const p = lv.page;
  if (!p) return;
  let s = p.total_lines
    ? `Page ${p.page} of ${p.pages} · lines ${p.first_line}–${p.last_line} of ${p.total_lines} · ${fmtBytes(p.size_bytes)}`
    : 'No lines yet';
  if (lv.file) s += ` · ${fileName(lv.name, lv.file)}`;
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
    const d = lineNode(l, lv.nextLine++, lv.ansi);
    d.hidden = q !== '' && !d.plain.includes(q);
    return d;
  });
  linesEl.append(...nodes);
  while (linesEl.childElementCount > maxLiveLines) linesEl.firstElementChild.remove();
  lv.live += lines.length;
  // The page shown grows with the live lines: its range and count follow.
  const p = lv.page;
  p.total_lines += lines.length;
  p.last_line = lv.nextLine - 1;
  p.first_line = Number(linesEl.querySelector('[data-line]')?.dataset.line) || p.first_line || 1;
  p.pages = Math.max(p.pages, Math.ceil(p.total_lines / perPage));
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
  }, (lines) => { if (lv.stopFollow === stop) appendLines(lines); }, (msg) => { if (lv.stopFollow === stop) showError(msg); });
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

// browse stops following and shows page n of file (see loadPage).
function browse(n, file, hl = 0) {
  followBox.checked = false;
  stopFollow();
  loadPage(n, file, hl);
}

dlg.addEventListener('click', (e) => {
  const pageBtn = e.target.closest('button[data-page]');
  if (pageBtn && lv.page) {
    const { page, pages } = lv.page;
    const n = neighbours();
    switch (pageBtn.dataset.page) {
      case 'first': browse(1, n.newest); break;
      case 'prev':
        if (page > 1) browse(Math.min(page - 1, pages), lv.file);
        else if (n.newer !== null) browse('last', n.newer);
        break;
      case 'next':
        if (page < pages) browse(page + 1, lv.file);
        else if (n.older !== null) browse(1, n.older);
        break;
      case 'last': browse('last', n.oldest); break;
    }
    return;
  }
  const fileBtn = e.target.closest('button[data-file]');
  if (fileBtn && lv.page) {
    const to = neighbours()[fileBtn.dataset.file];
    if (to !== null) browse(1, to);
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
fileSel.addEventListener('change', () => browse(1, Number(fileSel.value)));

// Go to line N of the file shown: pages count from the end of the file.
dlg.querySelector('[data-form="goto"]').addEventListener('submit', (e) => {
  e.preventDefault();
  const p = lv.page, n = Number(gotoBox.value);
  if (!p) return;
  if (!Number.isInteger(n) || n < 1 || n > p.total_lines) {
    showError(`Line ${gotoBox.value} is not in this file: it has lines 1 to ${p.total_lines}.`);
    return;
  }
  browse(Math.floor((p.total_lines - n) / perPage) + 1, lv.file, n);
});

const clearSearch = initSearch(dlg, () => lv.name, perPage, (file, page, line) => browse(page, file, line));

// Esc closes the dialog natively (a "cancel", then "close").
dlg.addEventListener('close', () => {
  stopFollow();
  lv.seq++; // drop answers still on their way
  lv.name = null;
  const back = lv.opener && lv.opener.isConnected ? lv.opener : null;
  if (back) back.focus();
});

let lastPrograms = null;
const views = initViews(list, rows, syncCards, updatePage);
initPage(openLogs, () => lastPrograms);

// ---- session ----

// With a browser login, the header shows the user and a Log out button (a
// plain form: it works even if this script fails).
getSession().then((s) => {
  if (s.via !== 'session') return;
  $('[data-field="user"]').textContent = s.user;
  $('[data-form="logout"]').hidden = false;
}, () => { /* without it the header only lacks the user's name */ });

watchPrograms(applyPrograms, setConnection, onHistory);
