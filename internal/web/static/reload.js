// reload.js: the "Reload config" button, shown when the server can reload,
// and the message that says what the reload changed, or why it failed.
import { reloadConfig } from './api.js';

const btn = document.querySelector('[data-action="reload"]');
const box = document.querySelector('[data-field="reload-msg"]');
const text = box.querySelector('[data-field="reload-text"]');

// showReload shows the button when the server says reloading is available.
export function showReload(available) {
  btn.hidden = !available;
}

const names = (l) => l.join(', ');

// summary says in a line or two what a reload changed.
function summary(r) {
  const parts = [['added', r.added], ['removed', r.removed], ['changed', r.changed]]
    .filter(([, l]) => l.length).map(([verb, l]) => `${verb} ${names(l)}`);
  let s = `Configuration reloaded: ${parts.length ? parts.join('; ') : 'no changes'}.`;
  if (r.needs_restart.length) s += `\nTakes effect only after a restart of the manager: ${names(r.needs_restart)}.`;
  return s;
}

// showMessage shows msg in the message box under the header, as an error
// when failed is set.
export function showMessage(msg, failed) {
  text.textContent = msg;
  box.dataset.kind = failed ? 'error' : 'ok';
  // An error is announced at once; a success politely.
  box.setAttribute('role', failed ? 'alert' : 'status');
  box.hidden = false;
}

btn.addEventListener('click', async () => {
  if (btn.disabled) return;
  btn.disabled = true;
  btn.classList.add('busy');
  try {
    showMessage(summary(await reloadConfig()), false);
  } catch (err) {
    showMessage(`Reload failed:\n${err.message}`, true);
  } finally {
    btn.disabled = false;
    btn.classList.remove('busy');
  }
});

box.querySelector('[data-action="dismiss"]').addEventListener('click', () => { box.hidden = true; });
