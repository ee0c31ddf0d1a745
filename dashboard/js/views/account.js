// The signed-in person's own account: the password, two-factor authentication (an authenticator
// app, and recovery codes shown once), and their own security events. None of it is of a
// workspace, so no call here sends the workspace header.

import { ApiError, api, logOut } from '../api.js';
import { badge, h, pageHeader, replace, table } from '../dom.js';
import { describe, field, form, input, onSubmit } from '../forms.js';
import { qrCode } from '../qr.js';
import { session } from '../session.js';
import { downloadButton, notice, secretPanel } from '../ui.js';
import { eventColumns } from './audit.js';

const ME = { workspace: false };

function passwordInput(name, autocomplete) {
  return input(name, { type: 'password', autocomplete, required: true });
}

/** The code and password every change of the factors asks for, as one form's fields. */
function secondFactorFields(codeHint) {
  return [
    field('Code', input('code', { autocomplete: 'one-time-code', inputmode: 'numeric', required: true, maxlength: 64 }), codeHint),
    field('Password', passwordInput('password', 'current-password')),
  ];
}

/**
 * Send `{code, password}` of the form, clearing both after. A wrong password is a 401
 * `invalid_credentials` here (contract section 4): said beside the password, in words that fit.
 */
async function confirmWith(formElement, path) {
  const body = { code: formElement.elements.code.value.trim(), password: formElement.elements.password.value };
  formElement.elements.code.value = '';
  formElement.elements.password.value = '';
  try {
    return await api('POST', path, { ...ME, body });
  } catch (error) {
    if (error instanceof ApiError && error.code === 'invalid_credentials') {
      throw new ApiError(error.status, {
        error: { code: 'invalid_current_password', message: 'The password is not right.', details: { field: 'password' } },
      });
    }
    throw error;
  }
}

/** The ten recovery codes, once: a list, Copy all, Download, and a plain warning. */
function recoveryCodesPanel(codes, onDone) {
  const text = `Railguard recovery codes for ${session.user?.email ?? 'your account'}\n\n${codes.join('\n')}\n`;
  const copyAll = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: async () => {
      await navigator.clipboard.writeText(codes.join('\n'));
      notice('Recovery codes copied.');
    },
  }, 'Copy all');
  return secretPanel(
    'Your recovery codes',
    'Save these codes now, somewhere safe: this is the only time they are shown. Each one signs you in once if you lose your authenticator app.',
    [],
    onDone,
    [
      h('ol', { class: 'recovery-codes', 'aria-label': 'Recovery codes' },
        codes.map((code) => h('li', {}, h('code', { 'data-secret': 'recovery code' }, code)))),
      h('div', { class: 'buttons' }, copyAll, downloadButton('Download (.txt)', 'railguard-recovery-codes.txt', text)),
    ],
  );
}

function passwordSection(context) {
  const passwordForm = onSubmit(
    form({ 'aria-labelledby': 'password-title' },
      h('div', { class: 'form-row' },
        field('Current password', passwordInput('current_password', 'current-password')),
        field('New password', passwordInput('new_password', 'new-password'), '12 to 256 characters. Common passwords are refused.')),
      h('p', { class: 'hint' }, 'Changing it logs you out everywhere, here too.'),
      h('button', { type: 'submit' }, 'Change password')),
    async (element) => {
      const body = {
        current_password: element.elements.current_password.value,
        new_password: element.elements.new_password.value,
      };
      element.elements.current_password.value = '';
      element.elements.new_password.value = '';
      await api('POST', '/me/password', { ...ME, body });
    },
    async () => {
      // Every session of the user ended, this one too.
      try {
        await logOut();
      } catch {
        session.end(); // the session was already over
      }
      notice('Your password was changed, and you were logged out everywhere. Log in with the new password.');
      context.go('login');
    },
  );
  return h('section', { class: 'card', 'aria-labelledby': 'password-title' },
    h('h2', { id: 'password-title' }, 'Password'), passwordForm);
}

/** MFA off: "Turn on" starts the setup; the QR code and key, then a code and the password. */
function turnOnSteps(slot, context) {
  const start = h('button', { type: 'button' }, 'Turn on');
  start.addEventListener('click', async () => {
    start.disabled = true;
    try {
      const setup = (await api('POST', '/me/mfa/totp/setup', ME)).data;
      setupStep(slot, setup, context);
    } catch (error) {
      start.disabled = false;
      notice(describe(error), 'bad');
    }
  });
  return [
    h('p', {}, 'Two-factor authentication is off. Turn it on to ask for a code from an authenticator app at each login.'),
    start,
  ];
}

function setupStep(slot, setup, context) {
  const enableForm = onSubmit(
    form({ 'aria-labelledby': 'enable-title' },
      h('h3', { id: 'enable-title' }, '2. Enter a code to confirm'),
      h('div', { class: 'form-row' }, secondFactorFields('The 6-digit code your app shows now.')),
      h('div', { class: 'buttons' },
        h('button', { type: 'submit' }, 'Turn on two-factor authentication'),
        h('button', { type: 'button', class: 'secondary', onclick: () => context.reload() }, 'Cancel'))),
    (element) => confirmWith(element, '/me/mfa/totp/enable'),
    async (reply) => {
      await context.loadAccount(); // MFA is on now
      slot.parentElement.querySelector('.section-title .badge').replaceWith(badge('On', 'ok'));
      notice('Two-factor authentication is on.');
      replace(slot, recoveryCodesPanel(reply.data.recovery_codes, () => context.reload()));
    },
  );
  replace(slot,
    h('h3', {}, '1. Add Railguard to your authenticator app'),
    h('div', { class: 'totp-setup' },
      h('figure', { class: 'qr' }, qrCode(setup.qr_svg, 'QR code to scan with your authenticator app')),
      h('div', { class: 'totp-manual' },
        h('p', {}, 'Scan the QR code with your app, or enter this setup key by hand (time-based, 6 digits):'),
        h('code', { class: 'totp-secret', 'data-secret': 'setup key', 'aria-label': 'Setup key' }, setup.secret))),
    enableForm);
  enableForm.elements.code.focus();
}

/** MFA on: new recovery codes, or turn it off; each with a code and the password. */
function mfaOnForms(slot, context) {
  const codeHint = 'A code from your app, or one of your recovery codes.';
  const regenerate = onSubmit(
    form({ 'aria-labelledby': 'regenerate-title', class: 'subcard' },
      h('h3', { id: 'regenerate-title' }, 'New recovery codes'),
      h('p', { class: 'hint' }, 'Your current recovery codes stop working.'),
      secondFactorFields(codeHint),
      h('button', { type: 'submit', class: 'secondary' }, 'Regenerate recovery codes')),
    (element) => confirmWith(element, '/me/mfa/recovery-codes'),
    (reply) => {
      notice('New recovery codes made; the old ones no longer work.');
      replace(slot, recoveryCodesPanel(reply.data.recovery_codes, () => context.reload()));
    },
  );
  const turnOff = onSubmit(
    form({ 'aria-labelledby': 'disable-title', class: 'subcard' },
      h('h3', { id: 'disable-title' }, 'Turn off'),
      h('p', { class: 'hint' }, 'Logins will ask for your password only. Your other sessions end.'),
      secondFactorFields(codeHint),
      h('button', { type: 'submit', class: 'danger' }, 'Turn off two-factor authentication')),
    (element) => confirmWith(element, '/me/mfa/totp/disable'),
    async () => {
      await context.loadAccount();
      notice('Two-factor authentication is off.', 'warn');
      context.reload();
    },
  );
  return [
    h('p', {}, 'Two-factor authentication is on: each login asks for a code from your authenticator app.'),
    h('div', { class: 'mfa-forms' }, regenerate, turnOff),
  ];
}

function mfaSection(context) {
  const on = Boolean(session.user?.mfa_enabled);
  const slot = h('div', { class: 'mfa-body' });
  replace(slot, on ? mfaOnForms(slot, context) : turnOnSteps(slot, context));
  return h('section', { class: 'card', 'aria-labelledby': 'mfa-title' },
    h('div', { class: 'section-title' },
      h('h2', { id: 'mfa-title' }, 'Two-factor authentication'),
      badge(on ? 'On' : 'Off', on ? 'ok' : 'warn')),
    slot);
}

/** The person's own events, newest first; "More" follows the cursor. */
async function eventsSection() {
  const rows = [];
  const slot = h('div', {});
  let cursor = null;
  async function more() {
    const query = new URLSearchParams({ limit: '20' });
    if (cursor) query.set('cursor', cursor);
    const reply = await api('GET', `/me/security-events?${query}`, ME);
    rows.push(...reply.data);
    cursor = reply.meta?.next_cursor ?? null;
    const button = h('button', { type: 'button', class: 'secondary' }, 'More');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await more();
      } catch (error) {
        button.disabled = false;
        notice(describe(error), 'bad');
      }
    });
    replace(slot,
      table('Your security events',
        [eventColumns.time, eventColumns.action, eventColumns.sourceIp, eventColumns.userAgent],
        rows, 'No events yet.'),
      cursor ? button : null);
  }
  try {
    await more();
  } catch (error) {
    replace(slot, h('p', { class: 'form-error', role: 'alert' }, describe(error)));
  }
  return h('section', { class: 'card', 'aria-labelledby': 'events-title' },
    h('h2', { id: 'events-title' }, 'Your security events'),
    h('p', { class: 'hint' }, 'Logins, password and two-factor changes on your account, newest first.'),
    slot);
}

export const accountView = {
  path: 'account',
  label: 'Account',
  async render(screen, context) {
    const user = session.user ?? {};
    replace(screen,
      pageHeader('Account'),
      h('section', { class: 'card', 'aria-labelledby': 'profile-title' },
        h('h2', { id: 'profile-title', class: 'visually-hidden' }, 'Profile'),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Name'), h('dd', {}, user.name ?? ''),
          h('dt', {}, 'Email'), h('dd', {}, user.email ?? ''))),
      passwordSection(context),
      mfaSection(context),
      await eventsSection());
  },
};
