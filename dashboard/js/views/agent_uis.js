// Agent UI deployments (contract section 9): a chat page for an agent, optionally behind a PIN.
// A PIN goes in through a password field and is stored hashed; the list says only whether there
// is one.

import { api, listAll } from '../api.js';
import { badge, h, table, when } from '../dom.js';
import { field, secretInput } from '../forms.js';
import {
  act, actionsColumn, agentIdField, deleteButton, fieldError, formPanel, nameField, panelButton, resourcePage, rowActions,
  rowButton, saved, text,
} from './resources.js';

const PIN_HINT = '4 to 8 digits. Visitors type it to open the UI.';

function path(deployment) {
  return `/agent-uis/${encodeURIComponent(deployment.id)}`;
}

function pinInput(required) {
  return secretInput('pin', {
    inputmode: 'numeric', pattern: '[0-9]{4,8}', minlength: 4, maxlength: 8, required,
  });
}

/** Read the PIN and clear its field at once; '' for none. */
function takePin(formElement) {
  const pin = formElement.elements.pin.value.trim();
  formElement.elements.pin.value = '';
  if (pin && !/^[0-9]{4,8}$/.test(pin)) throw fieldError('pin', 'A PIN is 4 to 8 digits.');
  return pin;
}

function createPanel(page) {
  return formPanel(page, {
    title: 'Create an agent UI',
    submitLabel: 'Create agent UI',
    fields: [
      nameField(),
      agentIdField('The agent visitors chat with.'),
      field('PIN (optional)', pinInput(false), `${PIN_HINT} Leave empty for an open UI.`),
    ],
    action: (formElement) => {
      const body = { name: text(formElement, 'name'), agent_id: text(formElement, 'agent_id') };
      const pin = takePin(formElement);
      if (pin) body.pin = pin;
      return api('POST', '/agent-uis', { body });
    },
    done: (reply) => saved(page, `Agent UI "${reply.data.name}" created.`),
  });
}

function pinPanel(page, deployment) {
  const verb = deployment.pin_protected ? 'Change' : 'Set';
  return formPanel(page, {
    title: `${verb} the PIN of "${deployment.name}"`,
    submitLabel: `${verb} PIN`,
    fields: [field('New PIN', pinInput(true), PIN_HINT)],
    action: (formElement) => api('PATCH', path(deployment), { body: { pin: takePin(formElement) } }),
    done: () => saved(page, `The PIN of "${deployment.name}" was ${deployment.pin_protected ? 'changed' : 'set'}.`),
  });
}

function renamePanel(page, deployment) {
  return formPanel(page, {
    title: `Rename agent UI "${deployment.name}"`,
    submitLabel: 'Save',
    fields: [nameField(deployment.name)],
    action: (formElement) => api('PATCH', path(deployment), { body: { name: text(formElement, 'name') } }),
    done: (reply) => saved(page, `Agent UI "${reply.data.name}" saved.`),
  });
}

function actions(page, deployment) {
  return rowActions(
    rowButton('Rename', `Rename agent UI ${deployment.name}`, () => page.show(renamePanel(page, deployment))),
    rowButton(deployment.pin_protected ? 'Change PIN' : 'Set PIN',
      `${deployment.pin_protected ? 'Change' : 'Set'} the PIN of ${deployment.name}`,
      () => page.show(pinPanel(page, deployment))),
    deployment.pin_protected ? rowButton('Remove PIN', `Remove the PIN of ${deployment.name}`, () => act(page, {
      confirm: {
        question: `Remove the PIN of "${deployment.name}"?`,
        label: 'Remove PIN',
        explanation: 'Anyone with its address can then use the UI.',
      },
      call: () => api('PATCH', path(deployment), { body: { pin: null } }),
      success: `The PIN of "${deployment.name}" was removed.`,
    })) : null,
    deleteButton(page, {
      what: 'agent UI',
      name: deployment.name,
      path: path(deployment),
      explanation: 'It stops working, and its open sessions end. This cannot be undone.',
    }));
}

function draw(deployments, page) {
  return table('Agent UIs', [
    { label: 'Name', cell: (deployment) => deployment.name },
    { label: 'Agent', cell: (deployment) => h('code', {}, deployment.agent_id) },
    { label: 'Access', cell: (deployment) => (deployment.pin_protected ? badge('PIN protected', 'ok') : badge('No PIN', 'warn')) },
    { label: 'Created', cell: (deployment) => when(deployment.created_at) },
    actionsColumn(page, actions),
  ].filter(Boolean), deployments, 'No agent UIs yet.');
}

export const agentUisView = {
  path: 'agent-uis',
  label: 'Agent UIs',
  async render(screen) {
    await resourcePage(screen, {
      title: 'Agent UIs',
      intro: 'A chat page for one of your agents. A PIN keeps it to the people you give it to.',
      actions: (page) => [panelButton(page, 'Create agent UI', createPanel)],
      load: () => listAll('/agent-uis'),
      draw,
    });
  },
};
