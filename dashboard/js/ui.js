// Shared pieces of the screens: notices, confirmations, and showing a secret once.

import { h } from './dom.js';

/** A short message in the live region (read out by screen readers); it fades after a while. */
export function notice(text, kind = 'ok') {
  const region = document.getElementById('notices');
  const item = h('p', { class: `notice notice-${kind}` }, text);
  region.append(item);
  setTimeout(() => item.remove(), 6000);
}

/** Ask before an act that cannot be undone; resolves true when confirmed. */
export function confirmAction(question, confirmLabel, explanation) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h('h2', { id: 'confirm-title' }, question),
      explanation ? h('p', {}, explanation) : null,
      h('form', { method: 'dialog', class: 'buttons' },
        h('button', { value: 'cancel', class: 'secondary', autofocus: true }, 'Cancel'),
        h('button', { value: 'confirm', class: 'danger' }, confirmLabel)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

async function copy(text, button) {
  await navigator.clipboard.writeText(text);
  button.textContent = 'Copied';
  setTimeout(() => {
    button.textContent = 'Copy';
  }, 2000);
}

/**
 * A secret shown once (a new key, a webhook token and secret, recovery codes): each value with a
 * copy button, the warning in plain words, and a button that clears it from the page.
 * `values` is [{label, value}]; `onDone` runs when the reader has saved them.
 */
export function secretPanel(title, warning, values, onDone, extra = null) {
  const panel = h('section', { class: 'secret-panel', 'aria-labelledby': 'secret-title', tabindex: '-1' },
    h('h2', { id: 'secret-title' }, title),
    h('p', { class: 'warning' }, warning),
    values.map(({ label, value }) => {
      const button = h('button', { type: 'button', class: 'secondary' }, 'Copy');
      button.addEventListener('click', () => copy(value, button));
      return h('div', { class: 'secret-value' },
        h('span', { class: 'secret-label' }, label),
        h('code', { 'data-secret': label }, value),
        button);
    }),
    extra,
    h('button', {
      type: 'button',
      onclick: () => {
        panel.remove();
        onDone?.();
      },
    }, 'I have saved it'));
  queueMicrotask(() => panel.focus());
  return panel;
}

/** Offer text as a file download (recovery codes), without a URL that outlives the click. */
export function downloadButton(label, filename, text) {
  return h('button', {
    type: 'button',
    class: 'secondary',
    onclick: () => {
      const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
      const link = h('a', { href: url, download: filename });
      document.body.append(link);
      link.click();
      link.remove();
      URL.revokeObjectURL(url);
    },
  }, label);
}
