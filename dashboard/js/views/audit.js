// The workspace's audit trail (contract section 10), for owners and admins: the events newest
// first, a page at a time (Older / Newer, over a stack of the cursors seen), filtered by action,
// and the check of the trail's hash chain. The events' columns are shared with the account's own
// security events.

import { api, listAll } from '../api.js';
import { badge, h, pageHeader, replace, table, when } from '../dom.js';
import { describe, field, form, onSubmit } from '../forms.js';
import { BY_PATH, workspacePath } from './workspace.js';

// The contract's action names, in plain words; the filter offers these.
const ACTIONS = {
  'user.signed_up': 'Signed up',
  'auth.login_succeeded': 'Logged in',
  'auth.login_failed': 'Failed login',
  'auth.refresh_reused': 'Old session token reused (sessions ended)',
  'auth.logged_out': 'Logged out',
  'user.password_changed': 'Password changed',
  'mfa.enabled': 'Two-factor authentication turned on',
  'mfa.disabled': 'Two-factor authentication turned off',
  'mfa.recovery_code_used': 'Recovery code used',
  'workspace.created': 'Workspace created',
  'workspace.updated': 'Workspace settings changed',
  'workspace.deleted': 'Workspace deleted',
  'member.added': 'Member added',
  'member.role_changed': 'Member role changed',
  'member.removed': 'Member removed',
  'workspace.ownership_transferred': 'Ownership transferred',
  'api_key.created': 'API key created',
  'api_key.updated': 'API key changed',
  'api_key.rotated': 'API key rotated',
  'api_key.revoked': 'API key revoked',
  'api_key.expired': 'API key expired',
  'credential.created': 'Credential created',
  'credential.updated': 'Credential changed',
  'credential.deleted': 'Credential deleted',
  'credential.restored': 'Credential restored',
  'credential.purged': 'Credential purged',
  'webhook_trigger.created': 'Webhook trigger created',
  'webhook_trigger.updated': 'Webhook trigger changed',
  'webhook_trigger.deleted': 'Webhook trigger deleted',
  'webhook_trigger.token_rotated': 'Webhook trigger token rotated',
  'agent_ui.created': 'Agent UI created',
  'agent_ui.updated': 'Agent UI changed',
  'agent_ui.deleted': 'Agent UI deleted',
  'agent_ui.unlock_failed': 'Agent UI: wrong PIN',
};
// Recorded too, though not names the filter takes.
const OTHER_ACTIONS = {
  'credential.revealed': 'Credential value read by the platform',
  'workspace.plan_changed': 'Plan changed',
};

const PAGE_SIZE = 25;

/** An event's action in plain words, the API's name in its tooltip. */
function action(event) {
  const words = ACTIONS[event.action] ?? OTHER_ACTIONS[event.action] ?? event.action;
  const details = Object.entries(event.details ?? {});
  return h('span', { class: 'event-action' },
    h('span', { title: event.action }, words),
    details.length > 0
      ? h('span', { class: 'event-details' }, details.map(([name, value]) => `${name.replaceAll('_', ' ')}: ${value}`).join(', '))
      : null);
}

/** Columns of an event table, shared with the account's security events. */
export const eventColumns = {
  time: { label: 'Time', cell: (event) => when(event.occurred_at) },
  action: { label: 'Action', cell: action },
  sourceIp: { label: 'Source IP', cell: (event) => (event.source_ip ? h('span', { class: 'mono' }, event.source_ip) : '—') },
  userAgent: { label: 'User agent', cell: (event) => (event.user_agent ? h('span', { class: 'user-agent' }, event.user_agent) : '—') },
};

/** "user", its id, and the member's email when the id is a member's. */
function party(value, people) {
  if (!value) return '—';
  const known = people.get(value.id);
  return h('span', { class: 'party' },
    h('span', { class: 'party-type' }, value.type.replaceAll('_', ' ')),
    known ? ` ${known}` : null,
    h('code', { class: 'party-id' }, value.id));
}

function verificationPanel(result) {
  const summary = result.valid
    ? [badge(`Verified: ${result.events_checked} event${result.events_checked === 1 ? '' : 's'}`, 'ok')]
    : [
      badge('Broken', 'bad'),
      result.broken_at
        ? h('p', { class: 'chain-break' },
          `The chain breaks at event ${result.broken_at.seq}`,
          result.broken_at.event_id ? [' (', h('code', {}, result.broken_at.event_id), ')'] : null,
          `: ${result.broken_at.reason}.`)
        : h('p', { class: 'chain-break' }, `${result.events_checked} events were checked before the break.`),
    ];
  return [
    h('div', { class: 'verification-result', 'data-valid': String(result.valid) }, summary),
    result.caveat
      ? h('details', { class: 'caveat' }, h('summary', {}, 'What this check covers'), h('p', {}, result.caveat))
      : null,
  ];
}

async function drawVerification(slot, full) {
  replace(slot, h('p', { class: 'muted' }, full ? 'Reading every event…' : 'Checking…'));
  try {
    const reply = await api('GET', `/audit-events/verify${full ? '?full=true' : ''}`);
    replace(slot, verificationPanel(reply.data));
  } catch (error) {
    replace(slot, badge('Not checked', 'warn'), h('p', { class: 'form-error' }, describe(error)));
  }
}

async function memberNames() {
  try {
    const members = await listAll(workspacePath('/members'), BY_PATH);
    return new Map(members.map((member) => [member.user_id, member.email]));
  } catch {
    return new Map(); // ids alone, then
  }
}

export const auditView = {
  path: 'audit',
  label: 'Audit trail',
  roles: ['owner', 'admin'],
  async render(screen) {
    const people = await memberNames();
    const state = { action: '', cursors: [null], page: 0 };
    const results = h('div', { class: 'audit-results' });
    const verification = h('div', { class: 'verification', 'aria-live': 'polite' });

    async function drawPage() {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (state.action) query.set('action', state.action);
      const cursor = state.cursors[state.page];
      if (cursor) query.set('cursor', cursor);
      const reply = await api('GET', `/audit-events?${query}`);
      const next = reply.meta?.next_cursor ?? null;
      state.cursors[state.page + 1] = next;
      const turn = (step) => async () => {
        state.page += step;
        try {
          await drawPage();
        } catch (error) {
          state.page -= step;
          replace(results, h('p', { class: 'form-error', role: 'alert' }, describe(error)));
        }
      };
      replace(results,
        table('Audit events', [
          eventColumns.time,
          eventColumns.action,
          { label: 'Actor', cell: (event) => party(event.actor, people) },
          { label: 'Target', cell: (event) => party(event.target, people) },
          eventColumns.sourceIp,
        ], reply.data, state.action ? 'No events of this action.' : 'No events yet.'),
        h('nav', { class: 'pager', 'aria-label': 'Audit pages' },
          h('button', { type: 'button', class: 'secondary', disabled: state.page === 0, onclick: turn(-1) }, 'Newer'),
          h('span', { class: 'muted' }, `Page ${state.page + 1}`),
          h('button', { type: 'button', class: 'secondary', disabled: next === null, onclick: turn(1) }, 'Older')));
    }

    const select = h('select', { name: 'action' },
      h('option', { value: '' }, 'All actions'),
      Object.entries(ACTIONS).map(([name, words]) => h('option', { value: name }, `${words} (${name})`)));
    const filter = onSubmit(
      form({ class: 'audit-filter', 'aria-label': 'Filter the audit trail' },
        field('Action', select),
        h('button', { type: 'submit', class: 'secondary' }, 'Filter')),
      async () => {
        state.action = select.value;
        state.cursors = [null];
        state.page = 0;
        await drawPage();
      },
    );

    await drawPage();
    replace(screen,
      pageHeader('Audit trail'),
      h('section', { class: 'card', 'aria-labelledby': 'verify-title' },
        h('h2', { id: 'verify-title' }, 'Integrity'),
        h('p', { class: 'hint' }, 'Each event’s hash covers its content and the hash of the event before it.'),
        verification,
        h('button', { type: 'button', class: 'secondary small', onclick: () => drawVerification(verification, true) }, 'Check every event')),
      filter,
      results);
    await drawVerification(verification, false);
  },
};
