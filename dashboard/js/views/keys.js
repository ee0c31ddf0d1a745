// API keys (contract section 6): list, create with restrictions, edit, rotate, revoke. A new key
// is shown once, in a secret panel; the list shows only its mask.

import { api, listAll } from '../api.js';
import { badge, h, table, uid, when } from '../dom.js';
import { checkedValues, field, input, lines } from '../forms.js';
import { secretPanel } from '../ui.js';
import {
  act, openFresh, fieldError, formPanel, panelButton, refreshOrSay, resourcePage, rowActions, rowButton, saved, text,
} from './resources.js';
import { usagePanel } from './usage.js';

// The contract's scopes, grouped by what they reach.
const SCOPE_GROUPS = [
  ['Agents', ['agents:read', 'agents:write', 'agents:execute']],
  ['Prompts', ['prompts:read', 'prompts:write', 'prompts:execute']],
  ['Data sources', ['data_sources:read', 'data_sources:write', 'data_sources:execute']],
  ['Executions and traces', ['executions:read', 'traces:read', 'traces:write']],
  ['Credentials', ['credentials:read', 'credentials:write']],
  ['Sessions and chat', ['sessions:read', 'chat:write']],
  ['Webhook triggers', ['webhook_triggers:read', 'webhook_triggers:write']],
  ['Agent UIs', ['agent_uis:read', 'agent_uis:write']],
];

const GRACE_CHOICES = [
  [0, 'No time: it stops now'],
  [3600, '1 hour'],
  [86400, '1 day'],
  [259200, '3 days'],
  [604800, '7 days'],
];

const STATUS_KINDS = { active: 'ok', expired: 'warn', revoked: 'bad' };
const SHOWN_ONCE = "Copy it now. You won't see it again.";

function scopeChecklist(checked) {
  const errorId = uid('scopes-error');
  return h('fieldset', { class: 'field scopes', 'data-field': 'scopes', 'aria-describedby': errorId },
    h('legend', {}, 'Scopes'),
    h('p', { class: 'hint' }, 'What the key may do. Choose at least one.'),
    h('div', { class: 'scope-groups' }, SCOPE_GROUPS.map(([group, scopes]) => h('fieldset', { class: 'scope-group' },
      h('legend', {}, group),
      scopes.map((scope) => {
        const id = uid('scope');
        return h('label', { for: id, class: 'checkbox' },
          h('input', { type: 'checkbox', id, name: 'scopes', value: scope, checked: checked.includes(scope) }),
          h('code', {}, scope));
      })))),
    h('p', { class: 'field-error', id: errorId, hidden: true }));
}

function rateLimitField(current) {
  const hintId = uid('rate-hint');
  const errorId = uid('rate-error');
  const part = (name, label, max, value) => {
    const id = uid('rate');
    return h('div', { class: 'field' },
      h('label', { for: id }, label),
      input(name, { id, type: 'number', min: 1, max, step: 1, inputmode: 'numeric', value: value ?? '' }));
  };
  return h('fieldset', { class: 'field', 'data-field': 'rate_limit', 'aria-describedby': `${hintId} ${errorId}` },
    h('legend', {}, 'Rate limit (optional)'),
    h('p', { class: 'hint', id: hintId },
      "Both or neither. The workspace's plan limits still apply; a key's own limit can only be lower."),
    h('div', { class: 'form-row' },
      part('rate_limit_requests', 'Requests', 1000000, current?.requests),
      part('rate_limit_window_seconds', 'Per window of (seconds)', 86400, current?.window_seconds)),
    h('p', { class: 'field-error', id: errorId, hidden: true }));
}

// `datetime-local` holds the reader's local time; the API takes and gives UTC.
function localInput(rfc3339) {
  if (!rfc3339) return '';
  const date = new Date(rfc3339);
  const pad = (number) => String(number).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function utc(localValue) {
  return new Date(localValue).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The fields of a key's settings, filled from `key` (an edit) or empty (a new key). */
function settingsFields(key) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return [
    field('Name', input('name', { required: true, maxlength: 100, value: key?.name ?? '', autocomplete: 'off' }),
      'Say where it is used, e.g. "Billing service".'),
    scopeChecklist(key?.scopes ?? []),
    field('Allowed IP addresses (optional)',
      h('textarea', { name: 'allowed_ips', rows: 3, spellcheck: 'false', value: (key?.allowed_ips ?? []).join('\n') }),
      'One IPv4 or IPv6 address or CIDR range a line, e.g. 203.0.113.7 or 10.0.0.0/8. Empty: any address.'),
    field('Allowed origins (optional)',
      h('textarea', { name: 'allowed_origins', rows: 2, spellcheck: 'false', value: (key?.allowed_origins ?? []).join('\n') }),
      'One exact origin a line, e.g. https://app.example.com, for calls from a browser. Empty: any origin.'),
    field('Expires (optional)', input('expires_at', { type: 'datetime-local', value: localInput(key?.expires_at) }),
      `In your local time (${zone}); it is stored in UTC. Empty: the key does not expire.`),
    rateLimitField(key?.rate_limit),
  ];
}

/** The settings the form holds, in the API's shape; empty lists and fields as null. */
function settingsOf(formElement) {
  const scopes = checkedValues(formElement, 'scopes');
  if (scopes.length === 0) throw fieldError('scopes', 'Choose at least one scope.');
  const requests = text(formElement, 'rate_limit_requests');
  const window = text(formElement, 'rate_limit_window_seconds');
  if (Boolean(requests) !== Boolean(window)) {
    throw fieldError('rate_limit', 'Give both the number of requests and the window, or neither.');
  }
  const listOrNull = (name) => {
    const items = lines(formElement.elements[name].value);
    return items.length ? items : null;
  };
  const expires = formElement.elements.expires_at.value;
  return {
    name: text(formElement, 'name'),
    scopes,
    allowed_ips: listOrNull('allowed_ips'),
    allowed_origins: listOrNull('allowed_origins'),
    expires_at: expires ? utc(expires) : null,
    rate_limit: requests ? { requests: Number(requests), window_seconds: Number(window) } : null,
  };
}

/** Only what changed: a PATCH leaves the rest alone, and null clears a restriction. */
function changesOf(key, formElement) {
  const wanted = settingsOf(formElement);
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const current = {
    name: key.name,
    scopes: key.scopes,
    allowed_ips: key.allowed_ips.length ? key.allowed_ips : null,
    allowed_origins: key.allowed_origins.length ? key.allowed_origins : null,
    rate_limit: key.rate_limit,
  };
  const changes = {};
  for (const [name, value] of Object.entries(current)) {
    const comparable = name === 'scopes' ? [...wanted.scopes].sort() : wanted[name];
    if (!same(comparable, name === 'scopes' ? [...value].sort() : value)) changes[name] = wanted[name];
  }
  if (formElement.elements.expires_at.value !== localInput(key.expires_at)) changes.expires_at = wanted.expires_at;
  return changes;
}

function showKey(page, title, created) {
  page.show(secretPanel(title, SHOWN_ONCE, [{ label: 'API key', value: created.key }], () => page.close(),
    h('p', { class: 'hint' }, 'Send it in the X-API-Key header, or as Authorization: Bearer <key>.')));
  refreshOrSay(page);
}

function createPanel(page) {
  return formPanel(page, {
    title: 'Create an API key',
    submitLabel: 'Create key',
    fields: settingsFields(null),
    action: (formElement) => {
      const body = Object.fromEntries(Object.entries(settingsOf(formElement)).filter(([, value]) => value !== null));
      return api('POST', '/api-keys', { body });
    },
    done: (reply) => showKey(page, `New key "${reply.data.name}"`, reply.data),
  });
}

function editPanel(page, key) {
  return formPanel(page, {
    title: `Edit key "${key.name}"`,
    submitLabel: 'Save changes',
    fields: settingsFields(key),
    action: async (formElement) => {
      const changes = changesOf(key, formElement);
      if (Object.keys(changes).length === 0) return null;
      return api('PATCH', `/api-keys/${encodeURIComponent(key.id)}`, { body: changes });
    },
    done: (reply) => saved(page, reply ? `Key "${reply.data.name}" saved.` : 'Nothing changed.'),
  });
}

function rotatePanel(page, key) {
  return formPanel(page, {
    title: `Rotate key "${key.name}"`,
    submitLabel: 'Rotate key',
    fields: [
      h('p', {}, 'You get a new key with the same settings. The old key keeps working for the time you choose, then stops.'),
      field('Keep the old key working for', h('select', { name: 'grace_period_seconds' },
        GRACE_CHOICES.map(([seconds, label]) => h('option', { value: seconds, selected: seconds === 86400 }, label)))),
    ],
    action: (formElement) => api('POST', `/api-keys/${encodeURIComponent(key.id)}/rotate`, {
      body: { grace_period_seconds: Number(formElement.elements.grace_period_seconds.value) },
    }),
    done: (reply) => showKey(page, `New key for "${key.name}"`, reply.data),
  });
}

function revoke(page, key) {
  return act(page, {
    confirm: {
      question: `Revoke key "${key.name}"?`,
      label: 'Revoke key',
      explanation: 'Anything using it is refused within 5 seconds. This cannot be undone.',
    },
    call: () => api('DELETE', `/api-keys/${encodeURIComponent(key.id)}`),
    success: `Key "${key.name}" revoked.`,
  });
}

function restrictions(key) {
  const parts = [];
  if (key.allowed_ips.length) parts.push(`IPs: ${key.allowed_ips.join(', ')}`);
  if (key.allowed_origins.length) parts.push(`Origins: ${key.allowed_origins.join(', ')}`);
  if (key.rate_limit) parts.push(`${key.rate_limit.requests} requests per ${key.rate_limit.window_seconds} s`);
  return parts.length ? h('ul', { class: 'plain' }, parts.map((part) => h('li', {}, part))) : h('span', { class: 'muted' }, 'None');
}

function scopeSummary(scopes) {
  const shown = scopes.slice(0, 2).map((scope) => h('code', {}, scope));
  const more = scopes.length - shown.length;
  return h('span', { class: 'scope-summary', title: scopes.join(' ') },
    shown.flatMap((item, index) => (index ? [', ', item] : [item])),
    more > 0 ? ` and ${more} more` : null);
}

function keyTable(keys, page) {
  return table('API keys', [
    { label: 'Name', cell: (key) => key.name },
    { label: 'Key', cell: (key) => h('code', {}, key.masked_key) },
    { label: 'Scopes', cell: (key) => scopeSummary(key.scopes) },
    { label: 'Restrictions', cell: restrictions },
    { label: 'Status', cell: (key) => badge(key.status, STATUS_KINDS[key.status]) },
    { label: 'Last used', cell: (key) => when(key.last_used_at) },
    { label: 'Expires', cell: (key) => when(key.expires_at) },
    {
      label: 'Actions',
      cell: (key) => {
        // Rotation keeps the name, so the mask tells two keys apart.
        const which = `key ${key.name} (${key.masked_key})`;
        const usage = rowButton('Usage', `Usage of ${which}`,
          () => openFresh(page, `/api-keys/${encodeURIComponent(key.id)}`, usagePanel));
        if (key.status === 'revoked') return rowActions(usage);
        return rowActions(
          rowButton('Edit', `Edit ${which}`, () => openFresh(page, `/api-keys/${encodeURIComponent(key.id)}`, editPanel)),
          usage,
          key.status === 'active' ? rowButton('Rotate', `Rotate ${which}`, () => page.show(rotatePanel(page, key))) : null,
          rowButton('Revoke', `Revoke ${which}`, () => revoke(page, key), 'danger'));
      },
    },
  ], keys, 'No API keys yet. Create one to call the API from your own code.');
}

export const keysView = {
  path: 'keys',
  label: 'API keys',
  roles: ['owner', 'admin'],
  async render(screen) {
    await resourcePage(screen, {
      title: 'API keys',
      intro: 'Keys let your code call the API in this workspace. Each key is shown once, when it is created or rotated.',
      actions: (page) => [panelButton(page, 'Create key', createPanel)],
      load: () => listAll('/api-keys'),
      draw: keyTable,
    });
  },
};
