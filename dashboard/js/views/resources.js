// What the resource screens (API keys, credentials, webhook triggers, agent UIs) share: a page
// with a header, one panel at a time above the list (a form, or a secret shown once), the list
// itself redrawn in place (so a panel survives a change), and row actions that confirm, call the
// API, say what happened and redraw.

import { api, ApiError } from '../api.js';
import { h, pageHeader, replace, uid } from '../dom.js';
import { describe, field, form, input, onSubmit } from '../forms.js';
import { session } from '../session.js';
import { confirmAction, notice } from '../ui.js';

/**
 * Draw a resource page into `screen`: `load()` fetches the rows, `draw(rows, page)` turns them
 * into content; `actions(page)` gives the header's buttons. Returns the page:
 * `show(panel)`, `close()`, `refresh()`.
 */
export async function resourcePage(screen, { title, intro, actions = () => [], load, draw }) {
  const slot = h('div', { class: 'panel-slot' });
  const list = h('div', { class: 'resource-list' });
  const page = {
    show(panel) {
      replace(slot, panel);
      const target = panel.querySelector('input, select, textarea') ?? panel;
      queueMicrotask(() => target.focus());
    },
    close() {
      replace(slot);
    },
    async refresh() {
      replace(list, draw(await load(), page));
    },
  };
  await page.refresh();
  replace(screen, pageHeader(title, actions(page)), intro ? h('p', { class: 'muted intro' }, intro) : null, slot, list);
  return page;
}

/**
 * A form in a card, above the list: `fields` then the submit and Cancel buttons. `action(form)`
 * calls the API (its errors land beside the fields); `done(result)` follows.
 */
export function formPanel(page, { title, submitLabel, fields, action, done }) {
  const titleId = uid('panel-title');
  return onSubmit(
    form({ class: 'card panel', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      fields,
      h('div', { class: 'buttons' },
        h('button', { type: 'submit' }, submitLabel),
        h('button', { type: 'button', class: 'secondary', onclick: () => page.close() }, 'Cancel'))),
    action,
    done,
  );
}

/** The header's button that opens the form `panel(page)`; owners and admins only (else null). */
export function panelButton(page, label, panel) {
  return session.canManage ? h('button', { type: 'button', onclick: () => page.show(panel(page)) }, label) : null;
}

/** The list's Actions column, `actions(page, row)`; owners and admins only (else null). */
export function actionsColumn(page, actions) {
  return session.canManage ? { label: 'Actions', cell: (row) => actions(page, row) } : null;
}

/** A resource's Name field (1 to 100 characters), holding `value` when it renames. */
export function nameField(value, hint) {
  return field('Name', input('name', { required: true, maxlength: 100, value, autocomplete: 'off' }), hint);
}

/** The agent a trigger starts or an agent UI chats with. */
export function agentIdField(hint) {
  return field('Agent ID', input('agent_id', { required: true, maxlength: 100, autocomplete: 'off', spellcheck: 'false' }), hint);
}

/** An error for one field, found before asking the API: shown beside it as the API's would be. */
export function fieldError(name, message) {
  return new ApiError(400, { error: { code: 'validation_error', message, details: { field: name } } }, null);
}

/** One checkbox with its label beside it, in a field (so an error can be shown beside it). */
export function checkbox(name, label, checked, hint) {
  const id = uid('check');
  const hintId = `${id}-hint`;
  return h('div', { class: 'field', 'data-field': name },
    h('label', { for: id, class: 'checkbox' },
      h('input', { type: 'checkbox', id, name, checked, 'aria-describedby': hint ? hintId : null }),
      ` ${label}`),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', hidden: true }));
}

/** A small button in a row: visible text, and an accessible name that says which row. */
export function rowButton(label, ariaLabel, onclick, kind = 'secondary') {
  return h('button', { type: 'button', class: `${kind} small`, 'aria-label': ariaLabel, onclick }, label);
}

export function rowActions(...buttons) {
  return h('div', { class: 'actions' }, buttons);
}

/** A row's Delete button: asks (saying what follows, `explanation`), deletes `path`, says so. */
export function deleteButton(page, { what, name, path, explanation }) {
  return rowButton('Delete', `Delete ${what} ${name}`, () => act(page, {
    confirm: { question: `Delete ${what} "${name}"?`, label: `Delete ${what}`, explanation },
    call: () => api('DELETE', path),
    success: `${what[0].toUpperCase()}${what.slice(1)} "${name}" deleted.`,
  }), 'danger');
}

/**
 * Run an act from a row: ask first when `confirm` is given ({question, label, explanation}),
 * then call, say `success`, and redraw the list. A refusal is said in a notice.
 */
export async function act(page, { confirm, call, success }) {
  if (confirm && !(await confirmAction(confirm.question, confirm.label, confirm.explanation))) return;
  try {
    await call();
  } catch (error) {
    notice(describe(error), 'bad');
    return;
  }
  // The list is redrawn before the notice: a row clicked once the notice shows is never stale.
  await refreshOrSay(page);
  notice(success);
}

/**
 * Open the panel `panelOf(page, resource)` on the resource at `path` as it is now, not as its row
 * drew it: an edit sends only what differs from the form's starting values, so a stale start
 * would drop or undo changes (and a usage panel shows the last use as of now).
 */
export async function openFresh(page, path, panelOf) {
  let current;
  try {
    current = (await api('GET', path)).data;
  } catch (error) {
    notice(describe(error), 'bad');
    return;
  }
  page.show(panelOf(page, current));
}

/** After a form's change: close the form, redraw the list, then say so (see `act`). */
export async function saved(page, message) {
  page.close();
  await refreshOrSay(page);
  notice(message);
}

/** Redraw the list; a failure is said in a notice (the change itself was made). */
export async function refreshOrSay(page) {
  try {
    await page.refresh();
  } catch (error) {
    notice(describe(error), 'bad');
  }
}

/** The text of a control, trimmed. */
export function text(formElement, name) {
  return formElement.elements[name].value.trim();
}
