// The workspace's members (contract section 5). Every member sees the list and may leave (not
// the owner); owners and admins add people and change or remove those below their own role; the
// owner hands ownership to another member. What a role cannot do is not offered.

import { api, listAll } from '../api.js';
import { badge, h, pageHeader, replace, table, when } from '../dom.js';
import { describe, field, form, input, onSubmit } from '../forms.js';
import { session } from '../session.js';
import { confirmAction, notice } from '../ui.js';
import { BY_PATH, workspacePath } from './workspace.js';

const RANK = { user: 1, admin: 2, owner: 3 };

/** The roles one may give: those below one's own (never owner: that is a transfer). */
function assignable(role) {
  return ['admin', 'user'].filter((candidate) => RANK[candidate] < (RANK[role] ?? 0));
}

/** A member's last use of the workspace (noted at most once a minute): when, from where, and
 * by which client on hover. */
function lastUse(member) {
  if (!member.last_used_at) return when(null);
  return h('span', {}, when(member.last_used_at),
    h('span', { class: 'muted', title: member.last_used_user_agent ?? 'unknown client' },
      ` from ${member.last_used_ip ?? 'an unknown address'}`));
}

function outranks(role, other) {
  return (RANK[role] ?? 0) > (RANK[other] ?? 0);
}

function roleSelect(name, roles, selected, props = {}) {
  return h('select', { name, ...props }, roles.map((role) => h('option', { value: role, selected: role === selected }, role)));
}

function addSection(roles, context) {
  const addForm = onSubmit(
    form({ 'aria-labelledby': 'add-title' },
      h('div', { class: 'form-row' },
        field('Email', input('email', { type: 'email', required: true, autocomplete: 'off' }), 'They need a Railguard account already.'),
        field('Role', roleSelect('role', roles, 'user'),
          roles.includes('admin') ? 'Admins manage resources and members below them; users read.' : 'Users read the workspace’s resources.')),
      h('button', { type: 'submit' }, 'Add member')),
    async (element) => (await api('POST', workspacePath('/members'), {
      ...BY_PATH, body: { email: element.elements.email.value.trim(), role: element.elements.role.value },
    })).data,
    (member) => {
      notice(`${member.email} added as ${member.role}.`);
      context.reload();
    },
  );
  return h('section', { class: 'card', 'aria-labelledby': 'add-title' }, h('h2', { id: 'add-title' }, 'Add a member'), addForm);
}

function memberPath(member) {
  return workspacePath(`/members/${encodeURIComponent(member.user_id)}`);
}

function roleChanger(member, roles, context) {
  const who = member.email;
  return onSubmit(
    form({ class: 'inline-form' },
      roleSelect('role', roles, member.role, { 'aria-label': `Role of ${who}` }),
      h('button', { type: 'submit', class: 'secondary small', 'aria-label': `Change role of ${who}` }, 'Change role')),
    async (element) => {
      const role = element.elements.role.value;
      if (role === member.role) return null;
      return (await api('PATCH', memberPath(member), { ...BY_PATH, body: { role } })).data;
    },
    (changed) => {
      if (!changed) return;
      notice(`${changed.email} is now ${changed.role}.`);
      context.reload();
    },
  );
}

function actionButton(label, ariaLabel, kind, act) {
  const button = h('button', { type: 'button', class: `${kind} small`, 'aria-label': ariaLabel }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await act();
    } catch (error) {
      notice(describe(error), 'bad');
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function rowActions(member, me, myRole, context) {
  const roles = assignable(myRole);
  const actions = [];
  if (member.role !== 'owner' && member.user_id !== me && outranks(myRole, member.role)) {
    if (roles.length > 1) actions.push(roleChanger(member, roles, context));
    actions.push(actionButton('Remove', `Remove ${member.email}`, 'danger', async () => {
      const sure = await confirmAction(`Remove ${member.email}?`, 'Remove',
        'They lose access to this workspace within seconds. You can add them again later.');
      if (!sure) return;
      await api('DELETE', memberPath(member), BY_PATH);
      notice(`${member.email} removed.`);
      context.reload();
    }));
  }
  if (member.user_id === me && member.role !== 'owner') {
    actions.push(actionButton('Leave workspace', 'Leave workspace', 'danger', async () => {
      const sure = await confirmAction(`Leave ${session.workspace?.name ?? 'this workspace'}?`, 'Leave',
        'You lose access to it at once. Someone who manages it can add you again.');
      if (!sure) return;
      await api('DELETE', memberPath(member), BY_PATH);
      await context.loadAccount();
      notice('You left the workspace.');
      context.go('');
    }));
  }
  return actions.length > 0 ? h('div', { class: 'actions' }, actions) : null;
}

function transferSection(members, me, context) {
  const others = members.filter((member) => member.user_id !== me);
  if (others.length === 0) return null;
  const transferForm = onSubmit(
    form({ 'aria-labelledby': 'transfer-title' },
      field('New owner', h('select', { name: 'user_id' },
        others.map((member) => h('option', { value: member.user_id }, `${member.name} (${member.email})`))),
      'You become an admin of this workspace.'),
      h('button', { type: 'submit', class: 'danger' }, 'Transfer ownership')),
    async (element) => {
      const chosen = others.find((member) => member.user_id === element.elements.user_id.value);
      const sure = await confirmAction(`Make ${chosen.email} the owner?`, 'Transfer ownership',
        'They get full control, including deleting the workspace. You become an admin; only they can give ownership back.');
      if (!sure) return null;
      await api('POST', workspacePath('/transfer-ownership'), { ...BY_PATH, body: { user_id: chosen.user_id } });
      return chosen;
    },
    async (chosen) => {
      if (!chosen) return;
      await context.loadAccount(); // the caller is an admin now
      notice(`${chosen.email} is the owner now; you are an admin.`);
      context.reload();
    },
  );
  return h('section', { class: 'card', 'aria-labelledby': 'transfer-title' },
    h('h2', { id: 'transfer-title' }, 'Transfer ownership'), transferForm);
}

export const membersView = {
  path: 'members',
  label: 'Members',
  async render(screen, context) {
    if (!session.workspaceId) {
      replace(screen, pageHeader('Members'), h('p', { class: 'empty' }, 'You are not in a workspace.'));
      return;
    }
    const members = await listAll(workspacePath('/members'), BY_PATH);
    const me = session.user?.id;
    const myRole = members.find((member) => member.user_id === me)?.role ?? session.role;
    const roles = assignable(myRole);
    replace(screen,
      pageHeader('Members'),
      roles.length > 0 ? addSection(roles, context) : null,
      table('Members', [
        { label: 'Name', cell: (member) => h('span', {}, member.name, member.user_id === me ? h('span', { class: 'muted' }, ' (you)') : null) },
        { label: 'Email', cell: (member) => member.email },
        { label: 'Role', cell: (member) => badge(member.role, member.role === 'owner' ? 'ok' : 'muted') },
        { label: 'Two-factor', cell: (member) => (member.mfa_enabled ? badge('On', 'ok') : badge('Off', 'warn')) },
        { label: 'Last used', cell: lastUse },
        { label: 'Actions', cell: (member) => rowActions(member, me, myRole, context) ?? '—' },
      ], members, 'No members.'),
      myRole === 'owner' ? transferSection(members, me, context) : null);
  },
};
