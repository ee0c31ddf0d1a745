// Webhook triggers (contract section 8): URLs-with-a-token that start an agent. The token (and
// the signing secret, when there is one) is shown once; the list shows only the token's prefix.

import { api, listAll } from '../api.js';
import { badge, h, table, when } from '../dom.js';
import { secretPanel } from '../ui.js';
import {
  act, actionsColumn, agentIdField, checkbox, deleteButton, formPanel, nameField, panelButton, refreshOrSay, resourcePage,
  rowActions, rowButton, saved, text,
} from './resources.js';

const SHOWN_ONCE = "Copy it now. You won't see it again.";

function path(trigger, tail = '') {
  return `/webhook-triggers/${encodeURIComponent(trigger.id)}${tail}`;
}

/** How to call the trigger, in a few lines: the URL, the token header, and the signature. */
function howToCall(signed) {
  const url = `${window.location.origin}/api/v1/webhook/trigger`;
  return h('div', { class: 'how-to' },
    h('h3', {}, 'How to call it'),
    h('p', {}, 'Send ', h('code', {}, `POST ${url}`), ' with the header ', h('code', {}, 'Authorization: Bearer <token>'),
      ' and a JSON body. It answers 202 when the event is accepted.'),
    signed ? h('p', {},
      'Calls must also be signed: ', h('code', {}, 'X-Webhook-Timestamp'), ' is the current Unix time in seconds, and ',
      h('code', {}, 'X-Webhook-Signature'), ' is ', h('code', {}, 'sha256=<hex>'),
      ', the HMAC-SHA256 of ', h('code', {}, 'timestamp + "." + body'), ' keyed with the signing secret. ',
      'A timestamp more than 5 minutes off is refused.') : null);
}

function createPanel(page) {
  return formPanel(page, {
    title: 'Create a webhook trigger',
    submitLabel: 'Create trigger',
    fields: [
      nameField(),
      agentIdField('The agent a call starts.'),
      checkbox('generate_secret', 'Require signed calls', true,
        'Also issue a signing secret; each call must then carry a signature made with it.'),
      checkbox('is_active', 'Active', true, 'An inactive trigger refuses calls.'),
    ],
    action: (formElement) => api('POST', '/webhook-triggers', {
      body: {
        name: text(formElement, 'name'),
        agent_id: text(formElement, 'agent_id'),
        generate_secret: formElement.elements.generate_secret.checked,
        is_active: formElement.elements.is_active.checked,
      },
    }),
    done: (reply) => {
      const created = reply.data;
      const values = [{ label: 'Token', value: created.token }];
      if (created.secret) values.push({ label: 'Signing secret', value: created.secret });
      page.show(secretPanel(`New trigger "${created.name}"`, SHOWN_ONCE, values, () => page.close(), howToCall(created.has_secret)));
      refreshOrSay(page);
    },
  });
}

async function rotateToken(page, trigger) {
  let reply;
  await act(page, {
    confirm: {
      question: `Rotate the token of "${trigger.name}"?`,
      label: 'Rotate token',
      explanation: 'The old token stops working now. Callers need the new one.',
    },
    call: async () => {
      reply = await api('POST', path(trigger, '/rotate-token'));
    },
    success: `The token of "${trigger.name}" was rotated.`,
  });
  if (reply) {
    page.show(secretPanel(`New token for "${trigger.name}"`, SHOWN_ONCE, [{ label: 'Token', value: reply.data.token }],
      () => page.close(), howToCall(trigger.has_secret)));
  }
}

function renamePanel(page, trigger) {
  return formPanel(page, {
    title: `Rename trigger "${trigger.name}"`,
    submitLabel: 'Save',
    fields: [nameField(trigger.name)],
    action: (formElement) => api('PATCH', path(trigger), { body: { name: text(formElement, 'name') } }),
    done: (reply) => saved(page, `Trigger "${reply.data.name}" saved.`),
  });
}

function actions(page, trigger) {
  const switchTo = !trigger.is_active;
  return rowActions(
    rowButton('Rename', `Rename trigger ${trigger.name}`, () => page.show(renamePanel(page, trigger))),
    rowButton(switchTo ? 'Activate' : 'Deactivate', `${switchTo ? 'Activate' : 'Deactivate'} trigger ${trigger.name}`,
      () => act(page, {
        call: () => api('PATCH', path(trigger), { body: { is_active: switchTo } }),
        success: `Trigger "${trigger.name}" ${switchTo ? 'activated' : 'deactivated'}.`,
      })),
    rowButton('Rotate token', `Rotate the token of trigger ${trigger.name}`, () => rotateToken(page, trigger)),
    deleteButton(page, {
      what: 'trigger',
      name: trigger.name,
      path: path(trigger),
      explanation: 'Its token stops working. This cannot be undone.',
    }));
}

function draw(triggers, page) {
  return table('Webhook triggers', [
    { label: 'Name', cell: (trigger) => trigger.name },
    { label: 'Agent', cell: (trigger) => h('code', {}, trigger.agent_id) },
    { label: 'Token', cell: (trigger) => h('code', {}, `${trigger.token_prefix}…`) },
    { label: 'Status', cell: (trigger) => (trigger.is_active ? badge('active', 'ok') : badge('inactive', 'muted')) },
    { label: 'Signed', cell: (trigger) => (trigger.has_secret ? 'Yes' : 'No') },
    { label: 'Last used', cell: (trigger) => when(trigger.last_used_at) },
    actionsColumn(page, actions),
  ].filter(Boolean), triggers, 'No webhook triggers yet.');
}

export const triggersView = {
  path: 'triggers',
  label: 'Webhook triggers',
  async render(screen) {
    await resourcePage(screen, {
      title: 'Webhook triggers',
      intro: 'A trigger lets another service start an agent with one HTTP call. Its token is shown once.',
      actions: (page) => [panelButton(page, 'Create trigger', createPanel)],
      load: () => listAll('/webhook-triggers'),
      draw,
    });
  },
};
