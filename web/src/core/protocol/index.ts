/**
 * The WhisperChat wire protocol as the client sees it (docs/protocol.md §3–§5).
 *
 * The types come from `generated/`, which `make types` writes from whisper-core's
 * Rust types; this module adds only what a client needs on top: decoding server
 * frames, and the name rules the server enforces, so the UI can say "no" before
 * sending.
 */
import type { ClientFrame } from './generated/ClientFrame';
import type { ErrorCode } from './generated/ErrorCode';
import type { ServerFrame } from './generated/ServerFrame';
import type { WireLimits } from './generated/WireLimits';

export type { AckStatus } from './generated/AckStatus';
export type { Attachment } from './generated/Attachment';
export type { Change } from './generated/Change';
export type { ClientFrame } from './generated/ClientFrame';
export type { ClientId } from './generated/ClientId';
export type { DisplayName } from './generated/DisplayName';
export type { Draft } from './generated/Draft';
export type { Emoji } from './generated/Emoji';
export type { Epoch } from './generated/Epoch';
export type { ErrorCode } from './generated/ErrorCode';
// Renamed: `Event` would shadow the DOM's in every module that imports it.
export type { Event as RoomEvent } from './generated/Event';
export type { ExternalId } from './generated/ExternalId';
export type { FileId } from './generated/FileId';
export type { FileName } from './generated/FileName';
export type { HistoryPage } from './generated/HistoryPage';
export type { HttpError } from './generated/HttpError';
export type { HttpErrorBody } from './generated/HttpErrorBody';
export type { HttpErrorCode } from './generated/HttpErrorCode';
export type { Member } from './generated/Member';
export type { MemberAction } from './generated/MemberAction';
export type { Message } from './generated/Message';
export type { MessageId } from './generated/MessageId';
export type { Person } from './generated/Person';
export type { PresenceUser } from './generated/PresenceUser';
export type { PrincipalKind } from './generated/PrincipalKind';
export type { Reactions } from './generated/Reactions';
export type { Refusal } from './generated/Refusal';
export type { Role } from './generated/Role';
export type { RoomChange } from './generated/RoomChange';
export type { RoomDetail } from './generated/RoomDetail';
export type { RoomList } from './generated/RoomList';
export type { RoomName } from './generated/RoomName';
export type { RoomSummary } from './generated/RoomSummary';
export type { SearchHit } from './generated/SearchHit';
export type { SearchResults } from './generated/SearchResults';
export type { Seq } from './generated/Seq';
export type { ServerFrame } from './generated/ServerFrame';
export type { TextMark } from './generated/TextMark';
export type { ThumbSize } from './generated/ThumbSize';
export type { UserId } from './generated/UserId';
export type { Visibility } from './generated/Visibility';
export type { WireLimits } from './generated/WireLimits';

/** A server frame of one `type`. */
export type ServerFrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
/** A client frame of one `type`. */
export type ClientFrameOf<T extends ClientFrame['type']> = Extract<ClientFrame, { type: T }>;

/** The server's defaults (docs/protocol.md §10), used until `welcome` says otherwise. */
export const DEFAULT_LIMITS: WireLimits = {
  max_content_chars: 4000,
  max_frame_bytes: 65536,
  max_batch: 100,
  messages_per_second: 20,
  message_burst: 40,
  max_recover: 1000,
  max_rooms: 100,
};

/** The room every client starts in. */
export const LOBBY = 'lobby';

/** Refusals worth retrying unchanged: the same frame may pass later. */
export const RETRYABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'storage_unavailable',
  'rate_limited',
  'internal',
]);

/**
 * Every type of `ServerFrame`, as a record: a type added to the generated
 * union and not here fails to compile, instead of being dropped as unknown.
 */
const SERVER_FRAME_TYPES: Readonly<Record<ServerFrame['type'], true>> = {
  welcome: true,
  message_ids: true,
  messages: true,
  ack: true,
  events: true,
  joined: true,
  presence: true,
  presence_changes: true,
  receipt: true,
  typing: true,
  left: true,
  room: true,
  error: true,
  pong: true,
};

/**
 * Decodes one text frame from the server. Returns `null` for anything that is not
 * a JSON object with a known `type`: a newer server may send frames this client
 * does not know, and those are ignored rather than fatal.
 */
export function decodeServerFrame(text: string): ServerFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(SERVER_FRAME_TYPES, type)) return null;
  return value as ServerFrame;
}

/** Encodes one client frame. */
export function encodeClientFrame(frame: ClientFrame): string {
  return JSON.stringify(frame);
}

const ROOM_PART = /^[a-z0-9_-]+$/;

/** Whether the server accepts `name` as a room name (docs/protocol.md §2). */
export function isValidRoomName(name: string): boolean {
  if (name.length === 0 || name.length > 64) return false;
  const parts = name.split('/');
  return parts.length <= 2 && parts.every((p) => ROOM_PART.test(p));
}

/**
 * Turns what a person typed into a room name: lowercase, spaces to `-`, a leading
 * `#` dropped. Returns `null` when the result is still not a valid name.
 */
export function normalizeRoomName(input: string): string | null {
  const name = input
    .trim()
    .replace(/^#/, '')
    .toLowerCase()
    .replace(/\s*\/\s*/g, '/')
    .replace(/\s+/g, '-');
  return isValidRoomName(name) ? name : null;
}

/** A room name split into its space (`acme` in `acme/general`) and channel. */
export function splitRoomName(name: string): { space: string | null; channel: string } {
  const slash = name.indexOf('/');
  return slash < 0 ? { space: null, channel: name } : { space: name.slice(0, slash), channel: name.slice(slash + 1) };
}

// Control characters, and the invisible formatting characters the server refuses in names.
// eslint-disable-next-line no-control-regex
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

/**
 * Checks a display name as the server will (1–32 printable characters after
 * trimming). Returns the trimmed name, or a sentence saying what is wrong.
 */
export function checkDisplayName(input: string): { ok: true; name: string } | { ok: false; reason: string } {
  const name = input.trim();
  if (name.length === 0) return { ok: false, reason: 'Enter a name.' };
  if ([...name].length > 32) return { ok: false, reason: 'At most 32 characters.' };
  if (NAME_FORBIDDEN.test(name)) return { ok: false, reason: 'Use printable characters only.' };
  return { ok: true, name };
}

/** Whether the server takes `emoji` as a reaction: 1–32 bytes (UTF-8), no whitespace or control character. */
export function isValidEmoji(emoji: string): boolean {
  const bytes = new TextEncoder().encode(emoji).length;
  // eslint-disable-next-line no-control-regex
  return bytes >= 1 && bytes <= 32 && !/[\s\u0000-\u001f\u007f-\u009f]/.test(emoji);
}

/** The length of `content` as the server counts it: Unicode scalar values after trimming. */
export function contentLength(content: string): number {
  return [...content.trim()].length;
}
