// Credentials (contract section 7): a vault of secrets the workspace's agents use. Values go in
// through a password field and never come back: the list shows only a mask. Owners and admins
// manage them, and see and restore deleted ones; users read the list.

import { api, listAll } from '../api.js';
import { badge, h, table, when } from '../dom.js';
import { field, input, secretInput } from '../forms.js';
import { session } from '../session.js';
import {
  act, actionsColumn, checkbox, deleteButton, openFresh, formPanel, nameField, panelButton, refreshOrSay, resourcePage, rowActions,
  rowButton, saved, text,
} from './resources.js';

const TYPE_SUGGESTIONS = ['openai', 'anthropic', 'google', 'azure-openai', 'aws', 'postgres', 'mysql', 'http', 'slack', 'github'];

function path(credential, tail = '') {
  return `/credentials/${encodeURIComponent(credential.id)}${tail}`;
}

function valueInput(required) {
  return secretInput('value', { required, maxlength: 10000 });
}

/** Read the value and clear its field at once, so the typed secret does not stay in the page. */
function takeValue(formElement) {
  const value = formElement.elements.value.value;
  formElement.elements.value.value = '';
  return value;
}

function createPanel(page) {
  return formPanel(page, {
    title: 'Add a credential',
    submitLabel: 'Add credential',
    fields: [
      nameField(),
      h('div', { class: 'form-row' },
        field('Type', input('type', { required: true, maxlength: 50, list: 'credential-types', autocomplete: 'off', spellcheck: 'false' }),
          'Lowercase letters, digits, ".", "_" or "-", e.g. openai or postgres.'),
        field('Category (optional)', input('category', { maxlength: 50, autocomplete: 'off' }), 'e.g. llm or database.')),
      h('datalist', { id: 'credential-types' }, TYPE_SUGGESTIONS.map((type) => h('option', { value: type }))),
      field('Value', valueInput(true), 'Stored encrypted. It is never shown again, only a mask of it.'),
      field('Description (optional)', h('textarea', { name: 'description', rows: 2, maxlength: 500 })),
      checkbox('is_default', 'Use it as the default for its type', false),
    ],
    action: (formElement) => {
      const body = {
        name: text(formElement, 'name'),
        type: text(formElement, 'type'),
        value: takeValue(formElement),
        is_default: formElement.elements.is_default.checked,
      };
      for (const optional of ['category', 'description']) {
        if (text(formElement, optional)) body[optional] = text(formElement, optional);
      }
      return api('POST', '/credentials', { body });
    },
    done: (reply) => saved(page, `Credential "${reply.data.name}" added.`),
  });
}

function editPanel(page, credential) {
  return formPanel(page, {
    title: `Edit credential "${credential.name}"`,
    submitLabel: 'Save changes',
    fields: [
      nameField(credential.name),
      field('Description', h('textarea', { name: 'description', rows: 2, maxlength: 500, value: credential.description ?? '' })),
      field('Replace the value (optional)', valueInput(false),
        `Now ${credential.masked_content}. Leave empty to keep it.`),
      checkbox('is_default', `Use it as the default for ${credential.type}`, credential.is_default),
    ],
    action: (formElement) => {
      const changes = {};
      const value = takeValue(formElement);
      if (value) changes.value = value;
      if (text(formElement, 'name') !== credential.name) changes.name = text(formElement, 'name');
      if (text(formElement, 'description') !== (credential.description ?? '')) changes.description = text(formElement, 'description');
      if (formElement.elements.is_default.checked !== credential.is_default) changes.is_default = formElement.elements.is_default.checked;
      if (Object.keys(changes).length === 0) return null;
      return api('PATCH', path(credential), { body: changes });
    },
    done: (reply) => saved(page, reply ? `Credential "${reply.data.name}" saved.` : 'Nothing changed.'),
  });
}

function liveActions(page, credential) {
  return rowActions(
    rowButton('Edit', `Edit credential ${credential.name}`, () => openFresh(page, path(credential), editPanel)),
    credential.is_default ? null : rowButton('Set default', `Make ${credential.name} the default for ${credential.type}`,
      () => act(page, {
        call: () => api('POST', path(credential, '/set-default')),
        success: `"${credential.name}" is now the default for ${credential.type}.`,
      })),
    deleteButton(page, {
      what: 'credential',
      name: credential.name,
      path: path(credential),
      explanation: 'Agents can no longer use it. An owner or admin can restore it for 30 days.',
    }));
}

const COMMON_COLUMNS = [
  { label: 'Name', cell: (credential) => credential.name },
  { label: 'Type', cell: (credential) => h('code', {}, credential.type) },
  { label: 'Category', cell: (credential) => credential.category ?? h('span', { class: 'muted' }, 'none') },
  { label: 'Value', cell: (credential) => h('code', {}, credential.masked_content) },
];

function draw(credentials, page, showDeleted) {
  const live = credentials.filter((credential) => !credential.deleted_at);
  const deleted = credentials.filter((credential) => credential.deleted_at);
  return [
    table('Credentials', [
      ...COMMON_COLUMNS,
      { label: 'Default', cell: (credential) => (credential.is_default ? badge('default', 'ok') : '') },
      { label: 'Description', cell: (credential) => credential.description ?? '' },
      { label: 'Updated', cell: (credential) => when(credential.updated_at) },
      actionsColumn(page, liveActions),
    ].filter(Boolean), live, 'No credentials yet.'),
    showDeleted ? h('section', { 'aria-labelledby': 'deleted-title' },
      h('h2', { id: 'deleted-title' }, 'Deleted credentials'),
      table('Deleted credentials', [
        ...COMMON_COLUMNS,
        { label: 'Deleted', cell: (credential) => when(credential.deleted_at) },
        {
          label: 'Actions',
          cell: (credential) => rowActions(rowButton('Restore', `Restore credential ${credential.name}`, () => act(page, {
            call: () => api('POST', path(credential, '/restore')),
            success: `Credential "${credential.name}" restored.`,
          }))),
        },
      ], deleted, 'No deleted credentials.')) : null,
  ];
}

export const credentialsView = {
  path: 'credentials',
  label: 'Credentials',
  async render(screen) {
    // Deleted credentials are listed to owners and admins only.
    let showDeleted = false;
    const toggle = (page) => {
      const box = h('input', { type: 'checkbox', id: 'show-deleted', name: 'show_deleted' });
      box.addEventListener('change', async () => {
        showDeleted = box.checked;
        await refreshOrSay(page);
      });
      return h('label', { for: 'show-deleted', class: 'checkbox toggle' }, box, ' Show deleted');
    };
    await resourcePage(screen, {
      title: 'Credentials',
      intro: 'Secrets your agents use, such as model provider keys. Values are stored encrypted and never shown again.',
      actions: (page) => (session.canManage ? [toggle(page), panelButton(page, 'Add credential', createPanel)] : []),
      load: () => listAll(showDeleted ? '/credentials?include_deleted=true' : '/credentials'),
      draw: (credentials, page) => draw(credentials, page, showDeleted),
    });
  },
};
