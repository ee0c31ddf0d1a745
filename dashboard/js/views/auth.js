// Signing up and logging in, with the MFA step when the account has it on.

import { logIn, signUp, verifyMfa } from '../api.js';
import { h, replace } from '../dom.js';
import { field, form, input, onSubmit } from '../forms.js';
import { session } from '../session.js';

async function signedIn(accessToken, context) {
  session.accessToken = accessToken;
  await context.loadAccount();
  context.go('');
}

function mfaStep(screen, challenge, context) {
  const codeForm = onSubmit(
    form({ class: 'card narrow', 'aria-labelledby': 'mfa-title' },
      h('h1', { id: 'mfa-title' }, 'Two-factor authentication'),
      h('p', {}, 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.'),
      field('Code', input('code', { autocomplete: 'one-time-code', inputmode: 'numeric', required: true, autofocus: true })),
      h('button', { type: 'submit' }, 'Verify')),
    async (element) => verifyMfa(challenge.mfa_token, element.elements.code.value.trim()),
    (tokens) => signedIn(tokens.access_token, context),
  );
  replace(screen, codeForm);
  codeForm.elements.code.focus();
}

export const loginView = {
  path: 'login',
  label: 'Log in',
  async render(screen, context) {
    const loginForm = onSubmit(
      form({ class: 'card narrow', 'aria-labelledby': 'login-title' },
        h('h1', { id: 'login-title' }, 'Log in to Railguard'),
        field('Email', input('email', { type: 'email', autocomplete: 'username', required: true })),
        field('Password', input('password', { type: 'password', autocomplete: 'current-password', required: true })),
        h('button', { type: 'submit' }, 'Log in'),
        h('p', {}, 'New here? ', h('a', { href: '#/signup' }, 'Create an account'))),
      async (element) => logIn(element.elements.email.value.trim(), element.elements.password.value),
      async (reply) => {
        if (reply.mfa_required) mfaStep(screen, reply, context);
        else await signedIn(reply.access_token, context);
      },
    );
    replace(screen, loginForm);
  },
};

export const signupView = {
  path: 'signup',
  label: 'Create an account',
  async render(screen, context) {
    const signupForm = onSubmit(
      form({ class: 'card narrow', 'aria-labelledby': 'signup-title' },
        h('h1', { id: 'signup-title' }, 'Create your Railguard account'),
        field('Name', input('name', { autocomplete: 'name', required: true, maxlength: 100 })),
        field('Email', input('email', { type: 'email', autocomplete: 'email', required: true })),
        field('Password', input('password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 12, maxlength: 256 }),
          '12 to 256 characters. Common passwords are refused.'),
        h('button', { type: 'submit' }, 'Create account'),
        h('p', {}, 'Have an account? ', h('a', { href: '#/login' }, 'Log in'))),
      async (element) => {
        const email = element.elements.email.value.trim();
        const password = element.elements.password.value;
        await signUp(email, password, element.elements.name.value.trim());
        return logIn(email, password);
      },
      (reply) => signedIn(reply.access_token, context),
    );
    replace(screen, signupForm);
  },
};
