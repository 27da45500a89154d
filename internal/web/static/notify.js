// notify.js: the "Test notifications" button, and the message shown once
// when a notification could not be delivered (a notify_failed event).
import { testNotify } from './api.js';
import { showMessage } from './reload.js';

const btn = document.querySelector('[data-action="notify-test"]');

btn.addEventListener('click', async () => {
  if (btn.disabled) return;
  btn.disabled = true;
  btn.classList.add('busy');
  try {
    const { results } = await testNotify();
    if (!results.length) {
      showMessage('No notifications are configured: add a notify list to the configuration file.', true);
      return;
    }
    const lines = results.map((r) => `${r.target}: ${r.ok ? 'sent' : 'failed: ' + r.error}`);
    showMessage(`Test notification:\n${lines.join('\n')}`, results.some((r) => !r.ok));
  } catch (err) {
    showMessage(`Test notification failed:\n${err.message}`, true);
  } finally {
    btn.disabled = false;
    btn.classList.remove('busy');
  }
});

// onHistory gets every event of the history as it happens and shows the
// failed notifications.
export function onHistory(e) {
  if (e.event === 'notify_failed') showMessage(`A notification was not delivered:\n${e.detail}`, true);
}
