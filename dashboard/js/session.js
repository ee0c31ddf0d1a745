// Who is signed in, held in memory only: the access token never reaches storage or the URL. The
// refresh token is an HttpOnly cookie this code cannot read; a reload gets a new access token
// from it (api.js, `resume`). The chosen workspace id is not a secret: it is remembered.

const WORKSPACE_KEY = 'railguard.workspace';

const listeners = new Set();

export const session = {
  accessToken: null,
  user: null, // {id, email, name, mfa_enabled}
  workspaces: [], // [{id, name, role, require_mfa}]
  workspaceId: localStorage.getItem(WORKSPACE_KEY),

  get signedIn() {
    return this.accessToken !== null;
  },

  get workspace() {
    return this.workspaces.find((workspace) => workspace.id === this.workspaceId) ?? null;
  },

  /** The current role in the chosen workspace: owner, admin, user, or null. */
  get role() {
    return this.workspace?.role ?? null;
  },

  /** Owners and admins manage resources and the team; users read. */
  get canManage() {
    return this.role === 'owner' || this.role === 'admin';
  },

  chooseWorkspace(id) {
    this.workspaceId = id;
    if (id) localStorage.setItem(WORKSPACE_KEY, id);
    else localStorage.removeItem(WORKSPACE_KEY);
    notify();
  },

  setWorkspaces(workspaces) {
    this.workspaces = workspaces;
    if (!this.workspace) this.chooseWorkspace(workspaces[0]?.id ?? null);
    notify();
  },

  end() {
    this.accessToken = null;
    this.user = null;
    this.workspaces = [];
    notify();
  },

  onChange(listener) {
    listeners.add(listener);
  },
};

function notify() {
  for (const listener of listeners) listener(session);
}
