/**
 * Who the client is to the server — its principal: a guest, known by the token
 * it keeps in prefs (one click, no account), or an account, known by the
 * session cookie the browser keeps. Pure: what the WebSocket presents, whose
 * local store and room list are used, and what an answer of `GET /v1/me` makes
 * of the principal the client had.
 */
import type { Account, MeResponse } from './accounts';
import { accountOf } from './accounts';
import type { Credentials } from './connection';
import type { Identity } from './prefs';

export type Principal = { kind: 'guest' } | { kind: 'account'; account: Account };

export const GUEST: Principal = { kind: 'guest' };

/**
 * Whose local store and room list: `null` for the guest (the browser's own,
 * the one there was before accounts), an account's user id otherwise.
 */
export function ownerOf(principal: Principal): string | null {
  return principal.kind === 'account' ? principal.account.userId : null;
}

/** The identity shown and used to tell "own" messages: the guest's from prefs, or the account's. */
export function identityOf(principal: Principal, guest: Identity): Identity {
  if (principal.kind === 'guest') return guest;
  // No token: the cookie is the credential, and the client never holds it.
  return { userId: principal.account.userId, token: null, name: principal.account.name };
}

/**
 * What the WebSocket presents: a guest its token and name; an account nothing
 * but the cookie that rides the upgrade (the server knows its name).
 */
export function credentialsOf(principal: Principal, identity: Identity): Credentials {
  return principal.kind === 'guest' ? { token: identity.token, name: identity.name } : { cookie: true };
}

/** Whether two principals are the same person (an account renamed is still itself). */
export function samePrincipal(a: Principal, b: Principal): boolean {
  if (a.kind === 'guest' || b.kind === 'guest') return a.kind === b.kind;
  return a.account.userId === b.account.userId;
}

/**
 * Who the client is after `GET /v1/me`: the account it answered, a guest
 * (`null`: 401), or — no answer (`undefined`: offline, timed out) — who it was.
 */
export function principalAfterMe(current: Principal, me: MeResponse | null | undefined): Principal {
  if (me === undefined) return current;
  if (me === null) return GUEST;
  return { kind: 'account', account: accountOf(me) };
}
