// upload.js: the dialog that uploads a program as a ZIP file, or a new ZIP
// for an uploaded program (update mode: the name is fixed, the other fields
// start with the program's values).
import { upload } from './api.js';
import { fmtBytes } from './render.js';

// A 50 MiB upload over a slow link takes minutes; the dialog must still end.
const timeoutMs = 10 * 60 * 1000;

const dlg = document.querySelector('[data-modal="upload"]');
const form = dlg.querySelector('form');
const field = (f) => dlg.querySelector(`[data-field="upload-${f}"]`);
const [titleEl, nameIn, scriptIn, fileIn, argsIn, autoIn, errorEl, groupIn] =
  ['title', 'name', 'script', 'file', 'args', 'autostart', 'error', 'group'].map(field);
const submit = dlg.querySelector('button[type="submit"]');

// us is the dialog's state: the program being updated (null when adding one),
// the arguments as first shown, the request in flight and who opened the dialog.
const us = { program: null, shownArgs: '', abort: null, opener: null, maxZip: 0, uploaded: null };

// setUploadLimit takes the largest ZIP the server accepts, in bytes
// (max_zip_bytes of the program list), so a larger one is refused at once.
export function setUploadLimit(bytes) {
  us.maxZip = bytes || 0;
}

// onUploaded sets what happens once an upload was accepted: fn(name, opener).
export function onUploaded(fn) {
  us.uploaded = fn;
}

// relScript is a program's script relative to its directory, as the form takes it.
const relScript = (p) => (p.script.startsWith(p.cwd + '/') ? p.script.slice(p.cwd.length + 1) : p.script);

// openUpload opens the dialog to add a program, or to update p when given.
export function openUpload(p, opener) {
  Object.assign(us, { program: p || null, opener: opener || null, shownArgs: '' });
  form.reset();
  showError('');
  titleEl.textContent = p ? `Update ${p.name}` : 'Upload Program';
  nameIn.readOnly = !!p;
  scriptIn.required = !p;
  if (p) {
    nameIn.value = p.name;
    scriptIn.value = relScript(p);
    us.shownArgs = argsIn.value = p.args.join(', ');
    autoIn.checked = p.enabled;
    groupIn.value = p.group || '';
  }
  setSending(false);
  dlg.showModal();
  (p ? fileIn : nameIn).focus();
}

function showError(msg) {
  errorEl.textContent = msg;
  errorEl.hidden = !msg;
}

function setSending(on) {
  submit.disabled = on;
  submit.classList.toggle('busy', on);
  const verb = us.program ? 'Update' : 'Upload';
  submit.textContent = on ? `${verb.slice(0, -1)}ing…` : verb;
  dlg.setAttribute('aria-busy', on ? 'true' : 'false');
}

form.addEventListener('submit', async (e) => {
  e.preventDefault(); // no page navigation: the answer is shown here
  if (us.abort) return;
  const p = us.program;
  const fd = new FormData();
  if (!p) fd.append('name', nameIn.value);
  if (!p || scriptIn.value.trim()) fd.append('script', scriptIn.value.trim());
  // An update keeps the program's arguments unless they were edited: joined
  // with commas they might not split back the same.
  if (!p || argsIn.value !== us.shownArgs) fd.append('args', argsIn.value);
  fd.append('autostart', autoIn.checked ? 'true' : 'false');
  fd.append('group', groupIn.value.trim());
  const file = fileIn.files[0];
  // The server would refuse it only after the whole upload.
  if (us.maxZip && file && file.size > us.maxZip) {
    showError(`${file.name} is ${fmtBytes(file.size)}, larger than the limit of ${fmtBytes(us.maxZip)}: it was not sent.`);
    return;
  }
  fd.append('file', file);
  const ctrl = new AbortController();
  const timeout = AbortSignal.timeout(timeoutMs);
  us.abort = ctrl;
  showError('');
  setSending(true);
  try {
    const res = await upload(fd, p ? p.name : null, AbortSignal.any([ctrl.signal, timeout]));
    dlg.close();
    if (us.uploaded) us.uploaded(res.name, us.opener);
  } catch (err) {
    if (timeout.aborted) showError(`The upload did not finish within ${timeoutMs / 60000} minutes; try again.`);
    else if (!ctrl.signal.aborted) showError(err.message);
  } finally {
    us.abort = null;
    setSending(false);
  }
});

dlg.querySelector('[data-action="cancel"]').addEventListener('click', () => dlg.close());
document.querySelector('[data-action="upload"]').addEventListener('click', (e) => openUpload(null, e.currentTarget));

// Esc closes the dialog natively; closing it ends a request still on its way.
dlg.addEventListener('close', () => {
  if (us.abort) us.abort.abort();
  if (us.opener && us.opener.isConnected) us.opener.focus();
});
