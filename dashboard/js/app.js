// The dashboard: resumes the session from its cookie, draws the shell for the signed-in person
// and their role, and shows the screen the URL's hash names (#/keys, #/members, ...).

import { api, listAll, logOut, onSessionEnded, resume } from './api.js';
import { h, replace } from './dom.js';
import { describe } from './forms.js';
import { session } from './session.js';
import { notice } from './ui.js';
import { accountView } from './views/account.js';
import { agentUisView } from './views/agent_uis.js';
import { auditView } from './views/audit.js';
import { loginView, signupView } from './views/auth.js';
import { credentialsView } from './views/credentials.js';
import { keysView } from './views/keys.js';
import { membersView } from './views/members.js';
import { triggersView } from './views/triggers.js';
import { workspaceView } from './views/workspace.js';

// Screens of a workspace, in the order the navigation lists them. `roles`: who is offered it.
const WORKSPACE_VIEWS = [keysView, credentialsView, triggersView, agentUisView, membersView, auditView, workspaceView];
const PUBLIC_VIEWS = [loginView, signupView];
const ALL_VIEWS = [...WORKSPACE_VIEWS, accountView, ...PUBLIC_VIEWS];

const main = document.getElementById('view');

function offered(view) {
  return !view.roles || view.roles.includes(session.role);
}

function currentPath() {
  return window.location.hash.replace(/^#\/?/, '').split('?')[0];
}

export function go(path) {
  if (currentPath() === path) render();
  else window.location.hash = `#/${path}`;
}

/** Load who is signed in and their workspaces (after a login or a reload). */
export async function loadAccount() {
  const me = await api('GET', '/me', { workspace: false });
  session.user = me.data;
  session.setWorkspaces(await listAll('/workspaces', { workspace: false }));
}

function drawShell() {
  const switcher = document.getElementById('workspace-switch');
  const menu = document.getElementById('account-menu');
  const sections = document.getElementById('sections');
  if (!session.signedIn) {
    replace(switcher);
    replace(menu);
    replace(sections);
    sections.hidden = true;
    return;
  }
  const select = h('select', { id: 'workspace-select', name: 'workspace' },
    session.workspaces.map((workspace) => h('option', {
      value: workspace.id, selected: workspace.id === session.workspaceId,
    }, `${workspace.name} (${workspace.role})`)));
  select.addEventListener('change', () => {
    session.chooseWorkspace(select.value);
    render();
  });
  replace(switcher, h('label', { for: 'workspace-select', class: 'visually-hidden' }, 'Workspace'), select);
  replace(menu,
    h('a', { href: '#/account', 'aria-current': currentPath() === 'account' ? 'page' : null }, session.user?.email ?? 'Account'),
    h('button', { type: 'button', class: 'link', onclick: signOut }, 'Log out'));
  sections.hidden = false;
  replace(sections, h('ul', {}, WORKSPACE_VIEWS.filter(offered).map((view) => h('li', {},
    h('a', { href: `#/${view.path}`, 'aria-current': currentPath() === view.path ? 'page' : null }, view.label)))));
}

async function signOut() {
  try {
    await logOut();
  } catch (error) {
    notice(`You are still logged in: ${describe(error)}`, 'bad');
    return;
  }
  go('login');
}

function landing() {
  return WORKSPACE_VIEWS.find(offered) ?? accountView;
}

/** Draw the screen the hash names; one screen at a time, the latest request wins. */
let drawing = 0;
export async function render() {
  const turn = ++drawing;
  const path = currentPath();
  let view = ALL_VIEWS.find((candidate) => candidate.path === path);
  if (!session.signedIn && !PUBLIC_VIEWS.includes(view)) view = loginView;
  else if (session.signedIn && (view === undefined || PUBLIC_VIEWS.includes(view) || !offered(view))) view = landing();
  if (view.path !== path) {
    history.replaceState(null, '', `#/${view.path}`);
  }
  drawShell();
  document.title = `${view.label} · Railguard`;
  const screen = h('div', { class: 'screen' });
  try {
    await view.render(screen, { go, reload: render, loadAccount });
  } catch (error) {
    // A workspace that requires MFA of a member without it: say where to turn it on.
    const fix = error?.code === 'mfa_required' ? [' ', h('a', { href: '#/account' }, 'Turn on two-factor authentication')] : null;
    replace(screen, h('h1', {}, view.label), h('p', { class: 'form-error', role: 'alert' }, describe(error), fix));
  }
  if (turn !== drawing) return; // a later navigation drew over this one
  replace(main, screen);
  main.dataset.screen = view.path; // drawn: tests wait for this
  main.focus({ preventScroll: true });
}

onSessionEnded(() => {
  notice('Your session has ended. Log in again.', 'warn');
  go('login');
});

async function start() {
  try {
    if (await resume()) await loadAccount();
  } catch (error) {
    session.end();
    notice(describe(error), 'bad');
  }
  window.addEventListener('hashchange', render);
  await render();
  document.body.dataset.ready = 'true'; // tests wait for this
}

start();
