// The chosen workspace's settings (contract section 5): every member sees them; owners and admins
// rename it and set its MFA policy; the owner deletes it. Anyone may create a workspace of their own.

import { api } from '../api.js';
import { badge, h, pageHeader, replace, uid, when } from '../dom.js';
import { field, form, input, onSubmit } from '../forms.js';
import { session } from '../session.js';
import { notice } from '../ui.js';

/** Where a workspace's own routes are: its id is in the path, so no workspace header. */
export function workspacePath(suffix = '') {
  return `/workspaces/${encodeURIComponent(session.workspaceId)}${suffix}`;
}
export const BY_PATH = { workspace: false };

function facts(workspace) {
  return h('section', { class: 'card', 'aria-labelledby': 'facts-title' },
    h('h2', { id: 'facts-title' }, workspace.name),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Your role'), h('dd', {}, workspace.role),
      h('dt', {}, 'Two-factor authentication'),
      h('dd', {}, workspace.require_mfa
        ? badge('Required of every member', 'ok')
        : badge('Not required', 'muted')),
      h('dt', {}, 'Plan'), h('dd', {}, workspace.plan),
      h('dt', {}, 'Created'), h('dd', {}, when(workspace.created_at))));
}

function requireMfaField(workspace) {
  // Requiring MFA applies to its author too: the API refuses it to someone without it.
  const blocked = !workspace.require_mfa && !session.user?.mfa_enabled;
  const id = uid('require-mfa');
  const hintId = `${id}-hint`;
  return h('div', { class: 'field', 'data-field': 'require_mfa' },
    h('label', { for: id, class: 'checkbox' },
      h('input', {
        type: 'checkbox', id, name: 'require_mfa', checked: workspace.require_mfa, disabled: blocked, 'aria-describedby': hintId,
      }),
      ' Require two-factor authentication'),
    h('p', { class: 'hint', id: hintId },
      blocked
        ? ['Turn on two-factor authentication for your own account first, under ', h('a', { href: '#/account' }, 'Account'), '.']
        : 'Members without it cannot use this workspace until they turn it on. API keys are not affected.'),
    h('p', { class: 'field-error', hidden: true }));
}

function editSection(workspace, context) {
  const editForm = onSubmit(
    form({ 'aria-labelledby': 'edit-title' },
      field('Name', input('name', { value: workspace.name, required: true, maxlength: 100, autocomplete: 'off' })),
      requireMfaField(workspace),
      h('button', { type: 'submit' }, 'Save changes')),
    async (element) => {
      const body = {};
      const name = element.elements.name.value.trim();
      const requireMfa = element.elements.require_mfa.checked;
      if (name !== workspace.name) body.name = name;
      if (requireMfa !== workspace.require_mfa) body.require_mfa = requireMfa;
      if (Object.keys(body).length === 0) return false;
      await api('PATCH', workspacePath(), { ...BY_PATH, body });
      return true;
    },
    async (changed) => {
      if (!changed) {
        notice('Nothing to change.', 'warn');
        return;
      }
      await context.loadAccount();
      notice('Workspace settings saved.');
      context.reload();
    },
  );
  return h('section', { class: 'card', 'aria-labelledby': 'edit-title' },
    h('h2', { id: 'edit-title' }, 'Change settings'), editForm);
}

function deleteSection(workspace, context) {
  const confirmName = input('confirm_name', { autocomplete: 'off', required: true });
  const button = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Delete workspace');
  confirmName.addEventListener('input', () => {
    button.disabled = confirmName.value !== workspace.name;
  });
  const deleteForm = onSubmit(
    form({ 'aria-labelledby': 'delete-title' },
      h('p', {}, 'Its API keys, webhook tokens, agent UIs and everyone’s sessions in it stop working within seconds. Its secrets are purged after the retention period.'),
      field(`Type the workspace name (${workspace.name}) to confirm`, confirmName),
      button),
    async () => {
      if (confirmName.value !== workspace.name) return false;
      await api('DELETE', workspacePath(), BY_PATH);
      return true;
    },
    async (deleted) => {
      if (!deleted) return;
      await context.loadAccount();
      notice(`Workspace “${workspace.name}” deleted.`, 'warn');
      context.go('');
    },
  );
  return h('section', { class: 'card danger-zone', 'aria-labelledby': 'delete-title' },
    h('h2', { id: 'delete-title' }, 'Delete workspace'), deleteForm);
}

function createSection(context) {
  const createForm = onSubmit(
    form({ 'aria-labelledby': 'create-workspace-title' },
      field('Name', input('name', { required: true, maxlength: 100, autocomplete: 'off' }), 'You will be its owner.'),
      h('button', { type: 'submit', class: 'secondary' }, 'Create workspace')),
    async (element) => (await api('POST', '/workspaces', { ...BY_PATH, body: { name: element.elements.name.value.trim() } })).data,
    async (created) => {
      await context.loadAccount();
      session.chooseWorkspace(created.id);
      notice(`Workspace “${created.name}” created; it is now the one you are in.`);
      context.go('settings');
    },
  );
  return h('section', { class: 'card', 'aria-labelledby': 'create-workspace-title' },
    h('h2', { id: 'create-workspace-title' }, 'Create a workspace'), createForm);
}

export const workspaceView = {
  path: 'settings',
  label: 'Workspace settings',
  async render(screen, context) {
    if (!session.workspaceId) {
      replace(screen, pageHeader('Workspace settings'), h('p', { class: 'empty' }, 'You are not in a workspace.'), createSection(context));
      return;
    }
    const workspace = (await api('GET', workspacePath(), BY_PATH)).data;
    const manages = workspace.role === 'owner' || workspace.role === 'admin';
    replace(screen,
      pageHeader('Workspace settings'),
      facts(workspace),
      manages ? editSection(workspace, context) : null,
      workspace.role === 'owner' ? deleteSection(workspace, context) : null,
      createSection(context));
  },
};
