/** Refusals and failed requests as one sentence for people (banners, failed messages, forms). */
import { ApiError } from './http';
import { RETRYABLE_CODES, type Refusal } from './protocol';

/** A refusal as one sentence for people. */
export function describeRefusal(refusal: Refusal): string {
  const retry = RETRYABLE_CODES.has(refusal.code) ? ' You can send it again.' : '';
  const details = refusal.details?.length ? ` (${refusal.details.join('; ')})` : '';
  return `${capitalize(refusal.message)}${details}.${retry}`.replace(/\.\./g, '.');
}

/** A failed history request, for the "try again" banner. */
export function describeApiError(e: unknown): string {
  if (e instanceof ApiError) {
    return e.code === 'network' ? 'Could not reach the server.' : `Could not load history: ${e.message}`;
  }
  return 'Could not load history.';
}

/** The fields of the account forms a refusal can be about. */
export type AccountField = 'email' | 'password' | 'name';

/** A failed account request as a form shows it: the sentence, under the field it is about. */
export interface AccountProblem {
  code: string;
  /** The field it is about (shown under it), or `null`: the form as a whole. */
  field: AccountField | null;
  message: string;
}

const FIELD_OF_CODE: Readonly<Record<string, AccountField>> = {
  email_taken: 'email',
  name_taken: 'name',
  weak_password: 'password',
};

/**
 * A failed account request (`accounts.ts`): the server's own sentence (it is
 * written for people), with how long to wait when it is a 429, and the field
 * it is about — by its code, or for `invalid_request` the field its message
 * names.
 */
export function describeAccountError(e: unknown): AccountProblem {
  if (!(e instanceof ApiError)) return { code: 'internal', field: null, message: 'Something went wrong. Try again.' };
  if (e.code === 'network') {
    return { code: e.code, field: null, message: 'Could not reach the server. Check your connection and try again.' };
  }
  let message = asSentence(e.message);
  if (e.code === 'rate_limited' && e.retryAfterMs !== null) message += ` Try again in ${inSeconds(e.retryAfterMs)}.`;
  const field = FIELD_OF_CODE[e.code] ?? (e.code === 'invalid_request' ? fieldNamedIn(e.message) : null);
  return { code: e.code, field, message };
}

/** Why the client is a guest again, when the server signed it out (a 401, or close code 4001 with its reason). */
export function describeSignedOut(reason: string | null): string {
  const why = reason?.trim().replace(/\.$/, '');
  return why ? `You were signed out: ${why}.` : 'You were signed out.';
}

/** The longest reason a removal notice quotes: the rest of a longer one is cut, not wrapped over the page. */
const MAX_REASON_CHARS = 300;

/**
 * Why a room is gone from your list: the server took you out of it (`left`),
 * with its reason, which is for people ("removed by a moderator"). The reason
 * is the application's own text: one line, at most `MAX_REASON_CHARS`.
 */
export function describeRemoval(room: string, reason: string, label = `#${room}`): string {
  const line = reason.replace(/\s+/g, ' ').trim();
  const chars = Array.from(line);
  const why = chars.length > MAX_REASON_CHARS ? `${chars.slice(0, MAX_REASON_CHARS).join('').trimEnd()}…` : line;
  if (!why) return `You were removed from ${label}.`;
  return `You were removed from ${label}: ${/[.!?…]$/.test(why) ? why : `${why}.`}`;
}

/**
 * A failed request of the rooms API (creating a room, a member's change) as
 * one sentence: the server's own (it is written for people), with the
 * problems it listed — a user id among them read as the name `nameOf` knows
 * for it — and never a status or a code.
 */
export function describeRoomError(
  e: unknown,
  nameOf: (userId: string) => string | undefined = () => undefined,
): string {
  if (!(e instanceof ApiError)) return 'Something went wrong. Try again.';
  if (e.code === 'network') return 'Could not reach the server. Check your connection and try again.';
  if (e.code === 'bad_response' || e.code === 'http_error' || !e.message.trim()) {
    return 'The server could not do that just now. Try again.';
  }
  const details = e.details.map((d) => d.replace(USER_ID, (id) => nameOf(id.toLowerCase()) ?? id)).join('; ');
  let message = asSentence(details ? `${e.message.trim().replace(/[.!?]$/, '')} (${details})` : e.message);
  if (e.code === 'rate_limited' && e.retryAfterMs !== null) message += ` Try again in ${inSeconds(e.retryAfterMs)}.`;
  return message;
}

/** A user id (a UUID) inside a sentence. */
const USER_ID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;

/** Why a room you asked for cannot be opened (a private room you are not in): the server's sentence. */
export function describeRoomRefusal(label: string, message: string): string {
  const why = message
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[.!?]$/, '');
  return why ? `You can't open ${label}: ${why}.` : `You can't open ${label}.`;
}

/** The first field a message names ("email: too long"), if any. */
function fieldNamedIn(message: string): AccountField | null {
  const match = /\b(email|password|name)\b/i.exec(message);
  return match ? (match[1]?.toLowerCase() as AccountField) : null;
}

function inSeconds(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return s === 1 ? '1 second' : `${s} seconds`;
}

function asSentence(s: string): string {
  const text = capitalize(s.trim());
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
