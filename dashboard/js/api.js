// The API client. Same origin, JSON both ways, the access token from memory. Browser sessions
// (contract section 4): auth calls carry `X-Railguard-Client: browser`, so the refresh token
// travels only as the HttpOnly `rg_refresh` cookie; a 401 on a signed-in call refreshes once
// from that cookie and retries, and if that fails the session is over.

import { session } from './session.js';

const BASE = '/api/v1';
const BROWSER_CLIENT = { 'X-Railguard-Client': 'browser' };

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const error = body?.error ?? {};
    super(error.message ?? body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error.code ?? (status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'error');
    this.details = error.details ?? {};
    this.retryAfter = retryAfter;
  }
}

/** The session ended (refresh refused): the app shows the login. */
export class SessionEnded extends Error {}

const sessionEndedListeners = new Set();
export function onSessionEnded(listener) {
  sessionEndedListeners.add(listener);
}

async function send(method, path, { body, headers = {}, workspace = true, token = true } = {}) {
  const allHeaders = { Accept: 'application/json', ...headers };
  if (body !== undefined) allHeaders['Content-Type'] = 'application/json';
  if (token && session.accessToken) allHeaders.Authorization = `Bearer ${session.accessToken}`;
  if (workspace && session.workspaceId) allHeaders['X-Workspace-ID'] = session.workspaceId;
  const response = await fetch(BASE + path, {
    method,
    headers: allHeaders,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    const retryAfter = Number(response.headers.get('Retry-After')) || null;
    throw new ApiError(response.status, parsed, retryAfter);
  }
  return parsed;
}

let refreshing = null;

function refreshByCookie() {
  return send('POST', '/auth/refresh', { headers: BROWSER_CLIENT, token: false, workspace: false });
}

/** The user a JWT names (`sub`): read, not verified; the server verifies. */
function subjectOf(accessToken) {
  const payload = accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(payload)).sub;
}

/**
 * A new access token from the refresh cookie; false if there is no session to resume.
 * The tabs of this origin share the cookie, so they refresh one at a time (a Web Lock): two
 * refreshes with the same cookie would present a spent token, which ends the session as a
 * theft. If another tab has since logged in as someone else, this page starts over as them
 * rather than show one person's screens with another's token.
 */
export function resume() {
  refreshing ??= (navigator.locks ? navigator.locks.request('railguard-refresh', refreshByCookie) : refreshByCookie())
    .then((reply) => {
      const token = reply.data.access_token;
      if (session.user && subjectOf(token) !== session.user.id) {
        window.location.reload();
        return false;
      }
      session.accessToken = token;
      return true;
    })
    .catch((error) => {
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return false;
      throw error;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** A signed-in call: `{data, meta}` of the reply, or an ApiError. */
export async function api(method, path, options = {}) {
  try {
    return await send(method, path, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || !session.signedIn) throw error;
    if (!(await resume())) {
      session.end();
      for (const listener of sessionEndedListeners) listener();
      throw new SessionEnded('Your session has ended. Log in again.');
    }
    return send(method, path, options);
  }
}

// -- the auth flow (public routes) --------------------------------------------------------------
export function signUp(email, password, name) {
  return send('POST', '/auth/signup', { body: { email, password, name }, token: false, workspace: false });
}

/** `{access_token}` or `{mfa_required, mfa_token}`. */
export async function logIn(email, password) {
  const reply = await send('POST', '/auth/login', {
    body: { email, password }, headers: BROWSER_CLIENT, token: false, workspace: false,
  });
  return reply.data;
}

export async function verifyMfa(mfaToken, code) {
  const reply = await send('POST', '/auth/mfa/verify', {
    body: { mfa_token: mfaToken, code }, headers: BROWSER_CLIENT, token: false, workspace: false,
  });
  return reply.data;
}

/**
 * End the session on the server, which ends every session this browser's cookies name and
 * clears the cookie. Only then is this page signed out: if the logout failed (offline, 429,
 * 5xx) the error is thrown and the person stays signed in, rather than believe they left.
 */
export async function logOut() {
  await send('POST', '/auth/logout', { headers: BROWSER_CLIENT, token: false, workspace: false });
  session.end();
}

/** Every page of a list route, following `meta.next_cursor`. */
export async function listAll(path, options = {}) {
  const items = [];
  let cursor = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const query = `${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const reply = await api('GET', path + query, options);
    items.push(...reply.data);
    cursor = reply.meta?.next_cursor ?? null;
  } while (cursor);
  return items;
}
