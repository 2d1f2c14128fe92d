/** Refusals and failed requests as one sentence for people (banners, failed messages, forms). */
import { ApiError } from './http';
import { RETRYABLE_CODES, type Refusal } from './protocol';

/**
 * A refusal as plain sentences for people (a failed message's line, a
 * banner): never the protocol's words (`invalid_frame`, `data[0].content`).
 * The problems the server listed (`details`, docs/protocol.md §5) are told
 * first, each once, in words; without any the code is; what the server says
 * for itself (a policy's reason) when neither is known. Retryable refusals
 * say that the message goes again by itself.
 */
export function describeRefusal(refusal: Refusal): string {
  const said = new Set<string>();
  for (const detail of refusal.details ?? []) {
    const sentence = describeDetail(detail);
    if (sentence) said.add(sentence);
  }
  const why = said.size > 0 ? [...said].join(' ') : describeCode(refusal);
  const retry = RETRYABLE_CODES.has(refusal.code) ? ' It will be sent again by itself in a moment.' : '';
  return `${why}${retry}`;
}

/** A problem of a refusal's `details` (`path: problem`) in words, or `null` when it is not one known. */
export function describeDetail(detail: string): string | null {
  const colon = detail.indexOf(': ');
  if (colon === -1) return null;
  const path = detail.slice(0, colon);
  const problem = detail.slice(colon + 2).trim();
  const field = /(?:^|\.)([a-z_]+)(?:\[\d+\])?$/.exec(path)?.[1] ?? path;
  switch (field) {
    case 'content': {
      if (/must not be empty|is required/.test(problem)) return 'The message is empty. Write something first.';
      const long = /is (\d+) characters long, at most (\d+)/.exec(problem);
      if (long) {
        return `The message is too long: ${grouped(long[1])} characters, and at most ${grouped(long[2])} are allowed. Shorten it and send it again.`;
      }
      const control = /control character (U\+[0-9A-F]{4,6})/i.exec(problem);
      if (control) {
        return `The message contains an invisible control character (${control[1]}) that can't be sent. Remove it and send it again.`;
      }
      return 'The message has text that cannot be sent.';
    }
    case 'attachments': {
      if (/no file|uploaded by you/.test(problem)) {
        return 'One of its files is no longer available. Remove it and attach it again.';
      }
      if (/at most|more than/.test(problem)) return 'A message can carry at most 10 files.';
      return 'One of its files cannot be sent with it. Remove it and attach it again.';
    }
    case 'reply_to':
      return 'The message it answers is no longer in this room.';
    case 'room':
      if (/required/.test(problem)) return 'The message has no room to go to. Open a room and send it again.';
      return "That room's name is not one the server accepts.";
    case 'user_id':
      return 'A message can only be sent as yourself.';
    case 'client_id':
      return 'The app sent the message in a form the server did not accept. Send it again.';
    case 'data':
      if (/holds \d+ messages/.test(problem)) return 'Too many messages were sent at once.';
      return null;
    case 'emoji':
      return 'That reaction is not one the server accepts.';
    case 'name':
      return `That display name can't be used: ${problem.replace(/\.$/, '')}.`;
    default:
      return null;
  }
}

/** A refusal in words from its code alone (what its `message` says, where it is the server's own reason). */
function describeCode(refusal: Refusal): string {
  const message = refusal.message.trim();
  switch (refusal.code) {
    case 'rate_limited':
      return 'You are sending messages faster than the server allows.';
    case 'storage_unavailable':
      return 'The server could not save it just now. Nothing was stored.';
    case 'internal':
      return 'Something went wrong on the server. Nothing was stored.';
    case 'too_large':
      return /rooms per connection/.test(message)
        ? 'You are in as many rooms as one connection may join. Leave one first.'
        : 'The message is too large to send. Shorten it and send it again.';
    case 'forbidden': {
      if (/^not a member of room/.test(message)) return 'You are not a member of this room, so you cannot post in it.';
      if (/^banned from room/.test(message)) return 'You were banned from this room, so you cannot post in it.';
      if (/own user/.test(message)) return 'A message can only be sent as yourself.';
      return message ? asSentence(message) : 'You are not allowed to do that here.';
    }
    case 'not_found':
      if (/^not in room/.test(message)) return 'You are not in this room any more. Open it again.';
      return message ? asSentence(message) : 'What it refers to is no longer there.';
    case 'invalid_frame':
    case 'unknown_type':
      return 'The server did not accept it as it was sent.';
    default:
      return message ? asSentence(message) : 'The server refused it.';
  }
}

/** `4001` → `4,001` (in English: these sentences are). */
function grouped(digits: string | undefined): string {
  return Number(digits ?? 0).toLocaleString('en-US');
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
