// Forms: labelled fields with a hint and an error slot each, and one way to show an API error
// next to what caused it (a field when the API names one, else the form).

import { ApiError, SessionEnded } from './api.js';
import { h, uid } from './dom.js';

// Plain words for the API's error codes; the API's own message is the fallback.
const MESSAGES = {
  invalid_credentials: 'The email or password is not right.',
  invalid_current_password: 'The current password is not right.',
  invalid_mfa_code: 'That code is not right, or it was already used.',
  invalid_mfa_token: 'This sign-in took too long. Start again.',
  invalid_pin: 'That PIN is not right.',
  mfa_required: 'This workspace requires two-factor authentication. Turn it on under Account.',
  forbidden: 'Your role does not allow this.',
  not_found: 'It no longer exists. Reload the page.',
  csrf: 'The request was refused. Reload the page.',
};

export function describe(error) {
  if (error instanceof SessionEnded) return error.message;
  if (!(error instanceof ApiError)) return 'Something went wrong. Check your connection and try again.';
  if (error.status === 429) {
    const seconds = error.retryAfter ?? 60;
    return `Too many requests. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`;
  }
  if (error.status >= 500) return 'The service had a problem. Try again in a moment.';
  return MESSAGES[error.code] ?? error.message;
}

/** A labelled control. `control` is an input, select or textarea with a `name`. */
export function field(label, control, hint) {
  const id = control.id || uid('field');
  control.id = id;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  control.setAttribute('aria-describedby', hint ? `${hintId} ${errorId}` : errorId);
  return h('div', { class: 'field', 'data-field': control.name },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errorId, hidden: true }));
}

export function input(name, props = {}) {
  return h('input', { name, type: 'text', ...props });
}

/**
 * A field for a secret that is not the person's own password (a credential's value, a PIN).
 * Not `type=password`: browsers' password managers treat any such field as this site's login,
 * and would offer to fill the person's own password into it or save the secret as one, whatever
 * `autocomplete` says. A text field masked by the stylesheet (`.masked`) is not a login field.
 */
export function secretInput(name, props = {}) {
  return input(name, {
    class: 'masked', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false',
    'data-1p-ignore': true, 'data-lpignore': 'true', 'data-bwignore': true, ...props,
  });
}

export function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
}

/** Lines of a textarea, trimmed, blanks dropped. */
export function lines(text) {
  return text.split(/[\n,]/).map((line) => line.trim()).filter(Boolean);
}

export function form(props, ...children) {
  return h('form', { novalidate: true, ...props },
    h('p', { class: 'form-error', role: 'alert', hidden: true }),
    children);
}

function clearErrors(formElement) {
  for (const slot of formElement.querySelectorAll('.field-error, .form-error')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const control of formElement.querySelectorAll('[aria-invalid]')) {
    control.removeAttribute('aria-invalid');
  }
}

/** Show an error beside the field it names, else at the top of the form; focus it. */
function showError(formElement, error) {
  const named = fieldsOf(error);
  let shown = false;
  for (const { name, message } of named) {
    const wrapper = formElement.querySelector(`[data-field="${name}"]`);
    if (!wrapper) continue;
    const slot = wrapper.querySelector('.field-error');
    slot.textContent = message;
    slot.hidden = false;
    const control = wrapper.querySelector('input, select, textarea');
    control?.setAttribute('aria-invalid', 'true');
    if (!shown) control?.focus();
    shown = true;
  }
  if (!shown) {
    const slot = formElement.querySelector('.form-error');
    slot.textContent = describe(error);
    slot.hidden = false;
    slot.focus?.();
  }
}

function fieldsOf(error) {
  if (!(error instanceof ApiError)) return [];
  const details = error.details ?? {};
  if (Array.isArray(details.fields)) {
    // `body.allowed_ips.1` names the field `allowed_ips`
    return details.fields.map((item) => ({
      name: String(item.field).replace(/^body\./, '').split('.')[0],
      message: sentence(item.message || 'This value is not valid.'),
    }));
  }
  if (typeof details.field === 'string') return [{ name: details.field, message: describe(error) }];
  return [];
}

function sentence(text) {
  const trimmed = text.replace(/^Value error, /, '');
  return trimmed.charAt(0).toUpperCase() + trimmed.slice(1) + (/[.!?]$/.test(trimmed) ? '' : '.');
}

/**
 * Run `action` on submit with the button disabled; an error is shown in the form.
 * `action` gets the form element; its result is passed to `done`.
 */
export function onSubmit(formElement, action, done = () => {}) {
  formElement.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(formElement);
    const buttons = formElement.querySelectorAll('button');
    for (const button of buttons) button.disabled = true;
    try {
      done(await action(formElement));
    } catch (error) {
      showError(formElement, error);
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  });
  return formElement;
}
