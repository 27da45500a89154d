// api.js: the JSON API and the event streams, as the dashboard uses them.
// URLs are relative so the dashboard also works behind a path prefix.

const programURL = (name) => 'api/programs/' + encodeURIComponent(name);

// request sends a request and returns the decoded JSON body; it throws an
// Error whose message is the server's {"error": ...} text when there is one.
// init adds fetch options (body, signal).
async function request(method, url, init = {}) {
  let res;
  try {
    res = await fetch(url, { method, headers: { Accept: 'application/json' }, cache: 'no-store', ...init });
  } catch (e) {
    throw new Error('cannot reach the server (' + e.message + ')');
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: a proxy's error page, say. The status says enough.
  }
  if (res.status === 401) {
    // The session expired or ended (a restart of pyvisor ends them all).
    location.assign('login?expired=1');
  }
  if (!res.ok) {
    throw new Error((body && body.error) || `${res.status} ${res.statusText}`);
  }
  return body;
}

export const listPrograms = () => request('GET', 'api/programs');

// getSession says who is logged in: {auth, user, via} (via "session" for a browser login).
export const getSession = () => request('GET', 'api/session');

// act runs "start", "stop" or "restart" and returns the program afterwards.
export const act = (name, action) => request('POST', programURL(name) + '/' + action);

// upload sends a program's form (FormData with its ZIP): a new program when
// name is null, else new files for the uploaded program name.
export const upload = (form, name, signal) => (name == null
  ? request('POST', 'api/programs', { body: form, signal })
  : request('PUT', programURL(name), { body: form, signal }));

// removeProgram deletes an uploaded program and its files.
export const removeProgram = (name) => request('DELETE', programURL(name));

// reloadConfig has the manager re-read its configuration file and returns
// {added, removed, changed, needs_restart}; an invalid file throws with the
// loader's report as the message.
export const reloadConfig = () => request('POST', 'api/reload');

// testNotify sends a test notification through every target of the notify
// list and returns {results: [{target, ok, error}]}.
export const testNotify = () => request('POST', 'api/notify/test');

// programSettings is a program's definition as resolved (environment variable names only).
export const programSettings = (name) => request('GET', programURL(name) + '/settings');

// programUsage is a program's sampled CPU and memory history, with the interval.
export const programUsage = (name) => request('GET', programURL(name) + '/usage');

// programEvents reads limit events of a program's history, newest first, those
// before event id before when given: {events, next}.
export const programEvents = (name, limit, before) =>
  request('GET', `${programURL(name)}/events?limit=${limit}${before == null ? '' : '&before=' + before}`);

// logPage reads page page (1 = the newest lines) of file file (0 the live
// log, 1..N its backups) of a program's log, with the list of its files.
export const logPage = (name, page, lines, file = 0) =>
  request('GET', `${programURL(name)}/logs?page=${page}&lines=${lines}&file=${file}`);

// logDownloadURL is where the browser downloads file file of a program's log.
export const logDownloadURL = (name, file) => `${programURL(name)}/logs/download?file=${file}`;

// searchLogs searches a program's log and its backups: {q, regex, cursor,
// lines, limit}; the answer is {matches, scanned_bytes, next_cursor}.
export function searchLogs(name, { q, regex = false, cursor = null, lines = 200, limit = 100 }) {
  const p = new URLSearchParams({ q, lines: String(lines), limit: String(limit) });
  if (regex) p.set('regex', '1');
  if (cursor) p.set('cursor', cursor);
  return request('GET', `${programURL(name)}/logs/search?${p}`);
}

// watchPrograms calls onPrograms with each {title, programs} from
// /api/events, and onHistory (if given) with each event of the history as it
// happens (not while polling). onStatus receives "live", "reconnecting" or "polling". After
// repeated failures (no SSE through a proxy, say) it polls every 2 s instead,
// and tries the stream again now and then. It returns a function that stops it.
export function watchPrograms(onPrograms, onStatus, onHistory) {
  const pollEvery = 2000, retrySSEAfter = 15; // polls before trying SSE again
  let es = null, timer = null, failures = 0, stopped = false;

  const poll = async (n) => {
    if (stopped) return;
    if (n >= retrySSEAfter) { connect(); return; }
    try {
      onPrograms(await listPrograms());
      onStatus('polling');
    } catch {
      onStatus('reconnecting');
    }
    timer = setTimeout(() => poll(n + 1), pollEvery);
  };

  const connect = () => {
    failures = 0;
    es = new EventSource('api/events');
    es.addEventListener('programs', (e) => {
      failures = 0;
      onStatus('live');
      onPrograms(JSON.parse(e.data));
    });
    if (onHistory) es.addEventListener('history', (e) => onHistory(JSON.parse(e.data)));
    es.onerror = () => {
      failures++;
      // EventSource reconnects by itself unless the response was not a stream.
      if (es.readyState === EventSource.CLOSED || failures >= 3) {
        es.close();
        es = null;
        poll(0);
      } else {
        onStatus('reconnecting');
      }
    };
  };

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (es) es.close();
  };
}

// followLog follows a program's log until the returned function is called.
// Whenever the server (again) follows the log, after a reconnection too,
// onPage gets page 1 of perPage lines; then onLines gets each batch of the
// lines written after that page: none falls between them, none is in both.
// onError gets a message when the stream breaks; EventSource keeps retrying
// meanwhile.
export function followLog(name, perPage, onPage, onLines, onError) {
  const es = new EventSource(`${programURL(name)}/logs/stream?lines=${perPage}`);
  es.addEventListener('page', (e) => onPage(JSON.parse(e.data)));
  es.addEventListener('lines', (e) => onLines(JSON.parse(e.data)));
  es.addEventListener('error', (e) => {
    if (e.data) onError(JSON.parse(e.data).error);
    else if (es.readyState === EventSource.CLOSED) onError('Stopped following: the live log stream closed.');
    else onError('Stopped following: the connection to pyvisor was lost; following again once it is back.');
  });
  return () => es.close();
}
