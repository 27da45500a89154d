// logsearch.js: the log viewer's search over the live log and its backups.
// Matches list newest first; a click on one opens its page (see main.js).
import { searchLogs } from './api.js';
import { matcher, matchNode } from './render.js';

const batch = 100; // matches per request, and per click on More

// initSearch wires the search form of the log viewer dlg. name() is the
// program shown; open(file, page, line) shows a match. It returns a function
// that clears the search, for when the viewer opens on another program.
export function initSearch(dlg, name, perPage, open) {
  const form = dlg.querySelector('[data-form="search"]');
  const box = dlg.querySelector('[data-field="search"]');
  const regexBox = dlg.querySelector('[data-field="regex"]');
  const results = dlg.querySelector('[data-field="results"]');
  const list = dlg.querySelector('[data-field="matches"]');
  const info = dlg.querySelector('[data-field="search-info"]');
  const more = dlg.querySelector('[data-action="more"]');
  // st is the search shown; seq drops answers to searches no longer shown.
  const st = { seq: 0, q: '', regex: false, cursor: null, count: 0, scanned: 0, find: null };

  const describe = () => {
    const what = st.regex ? `/${st.q}/` : `“${st.q}”`;
    const n = `${st.count} match${st.count === 1 ? '' : 'es'} for ${what}`;
    info.textContent = st.cursor ? `${n} so far · More searches older lines` : `${n} in all files`;
  };

  const fetchMore = async () => {
    const seq = st.seq;
    more.disabled = true;
    info.textContent = 'Searching…';
    try {
      const res = await searchLogs(name(), { q: st.q, regex: st.regex, cursor: st.cursor, lines: perPage, limit: batch });
      if (seq !== st.seq) return;
      list.append(...res.matches.map((m) => matchNode(name(), m, st.find)));
      st.count += res.matches.length;
      st.scanned += res.scanned_bytes;
      st.cursor = res.next_cursor;
      describe();
    } catch (err) {
      if (seq === st.seq) info.textContent = `Search failed: ${err.message}`;
    } finally {
      if (seq === st.seq) {
        more.hidden = !st.cursor;
        more.disabled = false;
      }
    }
  };

  const clear = () => {
    st.seq++;
    list.replaceChildren();
    results.hidden = true;
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = box.value;
    if (!q) return;
    st.seq++;
    Object.assign(st, { q, regex: regexBox.checked, cursor: null, count: 0, scanned: 0, find: matcher(q, regexBox.checked) });
    list.replaceChildren();
    more.hidden = true;
    results.hidden = false;
    fetchMore();
  });
  more.addEventListener('click', fetchMore);
  dlg.querySelector('[data-action="clear-search"]').addEventListener('click', () => {
    clear();
    box.focus();
  });
  list.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-match]');
    if (b) open(Number(b.dataset.file), Number(b.dataset.page), Number(b.dataset.line));
  });

  return () => {
    clear();
    box.value = '';
    regexBox.checked = false;
  };
}
