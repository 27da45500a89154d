// views.js: many programs at once: the cards or a compact table (the choice
// is remembered), search by name, the header's state counts as filters,
// sorting, collapsible groups, and actions on a selection of programs.
import { act } from './api.js';
import { allowed, el, fmtCPU, fmtDuration, fmtMemory, sparkline, STATES } from './render.js';

const $ = (sel) => document.querySelector(sel);
const store = {
  get: (k, d) => { try { return JSON.parse(localStorage.getItem('pyvisor.' + k)) ?? d; } catch { return d; } },
  set: (k, v) => { try { localStorage.setItem('pyvisor.' + k, JSON.stringify(v)); } catch { /* private mode */ } },
};
const ACTIONS = { start: ['▶', 'Start'], stop: ['■', 'Stop'], restart: ['↻', 'Restart'] };
const DONE = { start: 'started', stop: 'stopped', restart: 'restarted' };
const DOING = { start: 'Starting…', stop: 'Stopping…', restart: 'Restarting…' };
const SORTS = {
  name: (a, b) => a.name.localeCompare(b.name),
  state: (a, b) => STATES.indexOf(a.state) - STATES.indexOf(b.state),
  cpu: (a, b) => (a.pid == null ? -1 : a.cpu_percent ?? 0) - (b.pid == null ? -1 : b.cpu_percent ?? 0),
  memory: (a, b) => (a.pid == null ? -1 : a.memory_rss_bytes) - (b.pid == null ? -1 : b.memory_rss_bytes),
  restarts: (a, b) => a.restart_count - b.restart_count,
};

// canDo is what the server allows now (PROGRAM's actions), else the rules of render.js.
export function canDo(p, a) {
  return Array.isArray(p.actions) ? p.actions.includes(a) : allowed(p)[a];
}

// when is a time of the last day as a clock time, an older one with its date.
export function when(iso) {
  const d = new Date(iso);
  return Date.now() - d < 864e5 ? d.toLocaleTimeString() : d.toLocaleString();
}

// put changes a cached value and applies it only when it changed.
function put(r, key, value, apply) {
  if (r.v[key] === value) return;
  r.v[key] = value;
  apply(value);
}

// initViews wires the views around the cards of main.js (rows: name -> card
// row, kept by syncCards(programs)). Only the view shown is built and kept up
// to date: the cards through syncCards, the table here; the other is brought
// up to date when it is shown. The function returned is called with every new
// list; onList(programs) gets each list too (the program page).
export function initViews(list, rows, syncCards, onList) {
  const table = $('[data-field="table"]'), tbody = table.querySelector('tbody');
  const find = $('[data-field="find"]'), bulk = $('[data-field="bulk"]'), allBox = $('[data-field="select-all"]');
  const st = {
    view: store.get('view', 'cards'), q: '', state: null, sort: 'order', desc: false,
    collapsed: new Set(store.get('collapsed', [])), selected: new Set(), programs: [], shown: [],
  };
  const trows = new Map(); // name -> table row
  const heads = { cards: new Map(), table: new Map() }; // group -> heading node, per view

  function tRow(name) {
    const c = {}, td = (cls, ...kids) => el('td', { class: cls }, ...kids);
    c.check = el('input', { type: 'checkbox', 'data-select': '', 'aria-label': `Select ${name}` });
    c.state = el('span', { class: 'badge' });
    c.spark = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    for (const [k, v] of [['class', 'spark'], ['viewBox', '0 0 100 20'], ['preserveAspectRatio', 'none'], ['role', 'img']]) c.spark.setAttribute(k, v);
    c.line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    c.spark.append(c.line);
    for (const k of ['pid', 'up', 'rs', 'cpu', 'mem', 'exit', 'res']) c[k] = el('span');
    c.buttons = {};
    const acts = td('c-act');
    for (const [a, [icon, label]] of Object.entries(ACTIONS)) {
      c.buttons[a] = el('button', { type: 'button', 'data-action': a, title: label, 'aria-label': `${label} ${name}` }, icon);
      acts.append(c.buttons[a]);
    }
    const tr = el('tr', { 'data-trow': name },
      td('c-sel', c.check), td('c-name', el('a', { href: '#/programs/' + encodeURIComponent(name) }, name)), td('c-state', c.state),
      td('c-pid', c.pid), td('c-up', c.up), td('c-num', c.rs), td('c-cpu', el('div', { class: 'cpu-cell' }, c.cpu, c.spark)), td('c-mem', c.mem),
      td('c-exit', c.exit), acts, td('c-res', c.res));
    return { tr, c, v: {}, busy: null };
  }

  function updateT(r, p) {
    const { c } = r, run = p.pid != null;
    const txt = (n) => (v) => { n.textContent = v; };
    put(r, 'state', p.state, (s) => { c.state.className = 'badge ' + s; c.state.textContent = s; r.tr.dataset.state = s; });
    put(r, 'pid', run ? String(p.pid) : '—', txt(c.pid));
    put(r, 'up', run ? fmtDuration(p.uptime_seconds) : '—', txt(c.up));
    put(r, 'rs', String(p.restart_count), txt(c.rs));
    put(r, 'cpu', fmtCPU(p), txt(c.cpu));
    put(r, 'spark', p.cpu_history.join(), () => sparkline(c, p.cpu_history));
    put(r, 'mem', fmtMemory(p), txt(c.mem));
    put(r, 'exit', p.last_exit_time ? when(p.last_exit_time) : '—', txt(c.exit));
    put(r, 'exitWhy', p.exit_description || '', (t) => { c.exit.title = t; });
    put(r, 'ok', Object.keys(ACTIONS).map((a) => canDo(p, a)).join() + r.busy, () => {
      for (const [a, b] of Object.entries(c.buttons)) b.disabled = r.busy != null || !canDo(p, a);
    });
  }

  // result shows how an action ended on a program's table row.
  function result(name, text, failed) {
    const r = trows.get(name);
    if (!r) return;
    r.c.res.textContent = text;
    r.c.res.title = text;
    r.c.res.className = failed ? 'failed' : '';
  }

  async function run(name, a) {
    const r = trows.get(name);
    if (r) {
      r.busy = a;
      r.v.ok = null;
      result(name, DOING[a], false);
      updateT(r, r.p);
    }
    try {
      const p = await act(name, a);
      result(name, `✓ ${DONE[a]}`, false);
      if (r) r.p = p;
    } catch (err) {
      result(name, `✗ ${err.message}`, true);
    } finally {
      if (r) {
        r.busy = null;
        r.v.ok = null;
        updateT(r, r.p);
      }
    }
  }

  // groupsOf puts the shown programs, in their order, into groups in the
  // order of the configuration, the programs without one last (one group
  // when none has one). Empty groups are left out.
  function groupsOf(shown) {
    const by = new Map();
    for (const p of st.programs) if (p.group && !by.has(p.group)) by.set(p.group, []);
    by.set('', []);
    for (const p of shown) by.get(p.group || '').push(p);
    for (const [g, ps] of by) if (!ps.length) by.delete(g);
    return by;
  }

  function head(view, g, n) {
    let h = heads[view].get(g);
    if (!h) {
      const b = el('button', { type: 'button', 'data-group': g, 'aria-expanded': 'true' });
      h = view === 'table' ? el('tr', { class: 'grp' }, el('th', { colspan: 11 }, b)) : el('h2', { class: 'grp' }, b);
      h.btn = b;
      h.v = {};
      heads[view].set(g, h);
    }
    const open = !st.collapsed.has(g);
    put(h, 'label', `${open ? '▾' : '▸'} ${g || 'No group'} (${n})`, (t) => { h.btn.textContent = t; });
    h.btn.setAttribute('aria-expanded', String(open));
    return h;
  }

  // place puts nodes, in order, first in parent, moving only those out of
  // place, and hides the children after them.
  function place(parent, nodes) {
    let prev = null;
    for (const n of nodes) {
      const at = prev ? prev.nextSibling : parent.firstChild;
      if (at !== n) parent.insertBefore(n, at);
      if (n.hidden) n.hidden = false;
      prev = n;
    }
    for (let n = prev ? prev.nextSibling : parent.firstChild; n; n = n.nextSibling) if (!n.hidden) n.hidden = true;
  }

  function layout() {
    const q = st.q.toLowerCase();
    st.shown = st.programs.filter((p) => (!st.state || p.state === st.state) && p.name.toLowerCase().includes(q));
    if (st.sort !== 'order') {
      st.shown.sort(SORTS[st.sort]);
      if (st.desc) st.shown.reverse();
    }
    const grouped = st.programs.some((p) => p.group);
    const view = st.view;
    const nodes = [];
    for (const [g, ps] of groupsOf(st.shown)) {
      if (grouped) nodes.push(head(view, g, ps.length));
      if (grouped && st.collapsed.has(g)) continue;
      for (const p of ps) {
        if (view === 'cards') {
          const row = rows.get(p.name); // none for a program just removed from its card
          if (row) nodes.push(row.el);
          continue;
        }
        let r = trows.get(p.name);
        if (!r) trows.set(p.name, (r = tRow(p.name)));
        r.p = p;
        updateT(r, p);
        put(r, 'sel', st.selected.has(p.name), (v) => { r.c.check.checked = v; });
        nodes.push(r.tr);
      }
    }
    place(view === 'cards' ? list : tbody, nodes);
    $('[data-field="nomatch"]').hidden = st.shown.length > 0 || st.programs.length === 0;
    showBulk();
  }

  function showBulk() {
    const shownNames = st.shown.map((p) => p.name);
    const n = st.selected.size;
    bulk.hidden = n === 0;
    $('[data-field="selected"]').textContent = `${n} selected`;
    allBox.checked = n > 0 && shownNames.every((x) => st.selected.has(x));
    allBox.indeterminate = n > 0 && !allBox.checked;
  }

  function markCounts() {
    if (st.state && document.querySelector(`[data-count="${st.state}"][data-zero]`)) st.state = null; // none left in it
    for (const b of document.querySelectorAll('[data-filter]')) b.setAttribute('aria-pressed', String(b.dataset.filter === st.state));
  }

  function setView(v) {
    if (v === st.view) return;
    st.view = v;
    store.set('view', v);
    document.body.dataset.view = v;
    for (const b of document.querySelectorAll('button[data-view]')) b.setAttribute('aria-pressed', String(b.dataset.view === v));
    if (v === 'cards') syncCards(st.programs); // not kept up to date while hidden
    layout();
  }

  // A selection only holds programs shown: actions go to what the user sees.
  function dropHidden() {
    const shown = new Set(st.shown.map((p) => p.name));
    for (const n of st.selected) if (!shown.has(n)) st.selected.delete(n);
  }

  document.addEventListener('click', (e) => {
    const v = e.target.closest('button[data-view]');
    if (v) setView(v.dataset.view);
    const f = e.target.closest('button[data-filter]');
    if (f) {
      st.state = st.state === f.dataset.filter ? null : f.dataset.filter;
      markCounts();
      layout();
      dropHidden();
      layout();
    }
    const g = e.target.closest('button[data-group]');
    if (g) {
      const k = g.dataset.group;
      if (!st.collapsed.delete(k)) st.collapsed.add(k);
      store.set('collapsed', [...st.collapsed]);
      layout();
    }
    const s = e.target.closest('button[data-sort]');
    if (s) {
      const k = s.dataset.sort;
      if (st.sort === k && st.desc) st.sort = 'order';
      else if (st.sort === k) st.desc = true;
      else Object.assign(st, { sort: k, desc: false });
      for (const th of table.querySelectorAll('th[aria-sort]')) th.removeAttribute('aria-sort');
      if (st.sort !== 'order') s.parentNode.setAttribute('aria-sort', st.desc ? 'descending' : 'ascending');
      layout();
    }
    const b = e.target.closest('button[data-bulk]');
    if (b) {
      const a = b.dataset.bulk;
      // One request per program, all at once; each row shows its own result.
      for (const n of st.selected) {
        const r = trows.get(n);
        if (r && canDo(r.p, a)) run(n, a);
        else result(n, `– not ${DONE[a]}: it is ${r ? r.p.state : 'gone'}`, false);
      }
    }
  });
  tbody.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-action]');
    if (b && !b.disabled) run(b.closest('[data-trow]').dataset.trow, b.dataset.action);
  });
  tbody.addEventListener('change', (e) => {
    if (!e.target.matches('[data-select]')) return;
    const n = e.target.closest('[data-trow]').dataset.trow;
    if (e.target.checked) st.selected.add(n);
    else st.selected.delete(n);
    trows.get(n).v.sel = e.target.checked;
    showBulk();
  });
  allBox.addEventListener('change', () => {
    for (const p of st.shown) {
      if (allBox.checked) st.selected.add(p.name);
      else st.selected.delete(p.name);
    }
    layout();
  });
  find.addEventListener('input', () => {
    st.q = find.value.trim();
    layout();
    dropHidden();
    showBulk();
  });

  document.body.dataset.view = st.view;
  for (const b of document.querySelectorAll('button[data-view]')) b.setAttribute('aria-pressed', String(b.dataset.view === st.view));

  return (programs) => {
    st.programs = programs;
    const names = new Set(programs.map((p) => p.name));
    for (const n of trows.keys()) {
      if (!names.has(n)) {
        trows.get(n).tr.remove();
        trows.delete(n);
        st.selected.delete(n);
      }
    }
    if (st.view === 'cards') syncCards(programs);
    markCounts();
    layout();
    onList(programs);
  };
}
