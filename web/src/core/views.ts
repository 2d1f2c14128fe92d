/**
 * What the UI renders: the immutable `ChatSnapshot` `ChatClient` publishes, one
 * `RoomView` per room and one `ChatMessage` per message. Views are rebuilt only
 * for what changed — a message's view is kept as long as the message, a room's
 * until the room changes — so a change in one room leaves every other room's
 * view the same object, and a hook that selects one room does not re-render.
 */
import type { ConnectionStatus } from './connection';
import type { OutboxEntry, SendStatus } from './outbox';
import type { Identity } from './prefs';
import type { Message, PresenceUser, RoomSummary, WireLimits } from './protocol';
import type { TypingUser } from './typing';

/** One message as the UI shows it: stored, or still in the outbox. */
export interface ChatMessage {
  /** Stable across the optimistic → stored transition of your own messages. */
  key: string;
  /** The server's ULID, once known. */
  id: string | null;
  /** The room position, once stored and received. */
  seq: number | null;
  room: string;
  userId: string;
  name: string;
  content: string;
  clientId: string | null;
  createdAt: string;
  /** Whether you wrote it (this identity). */
  own: boolean;
  /** For your own messages: where delivery stands. */
  status: SendStatus | null;
  /** Why it failed, when it did. */
  error: string | null;
}

export interface RoomView {
  name: string;
  /** Stored messages in seq order, then your own messages not stored yet. */
  messages: readonly ChatMessage[];
  /** Older messages can be read with `loadOlder`. */
  hasMoreBefore: boolean;
  loadingOlder: boolean;
  /** The first page is loading and nothing is shown yet. */
  loading: boolean;
  /** Whether the room's history is known (from cache or server), even if empty. */
  loaded: boolean;
  presence: readonly PresenceUser[];
  typing: readonly TypingUser[];
  /** Messages from others the user has not seen yet. */
  unread: number;
  /** The subscription is confirmed on the current connection. */
  joined: boolean;
  draft: string;
  /** A history load that failed, for a "try again" banner. */
  error: string | null;
}

export interface Notice {
  id: number;
  text: string;
}

export interface ChatSnapshot {
  /** The local cache has been read. */
  ready: boolean;
  status: ConnectionStatus;
  identity: Identity;
  limits: WireLimits;
  /** The rooms in the sidebar, in the order joined. */
  myRooms: readonly string[];
  currentRoom: string | null;
  rooms: Readonly<Record<string, RoomView>>;
  /** `GET /v1/rooms`: rooms with history on the server. */
  directory: readonly RoomSummary[];
  /** Whether the server has rooms beyond `directory` (its first page). */
  directoryHasMore: boolean;
  /** The latest refusal worth telling the user about. */
  notice: Notice | null;
}

/** Stored messages' views, kept per message for as long as the identity stays the same. */
export class StoredMessageViews {
  private owner: string | null = null;
  private cache = new WeakMap<Message, ChatMessage>();

  /** Switches to identity `me`; whether that changed anything (every view must then be rebuilt). */
  setOwner(me: string | null): boolean {
    if (this.owner === me) return false;
    // Whether a message is "own" depends on who this client is.
    this.owner = me;
    this.cache = new WeakMap();
    return true;
  }

  get(m: Message): ChatMessage {
    const cached = this.cache.get(m);
    if (cached) return cached;
    const view = storedMessageView(m, this.owner);
    this.cache.set(m, view);
    return view;
  }
}

export function storedMessageView(m: Message, me: string | null): ChatMessage {
  const own = me !== null && m.user_id === me;
  return {
    key: own && m.client_id ? `c:${m.client_id}` : `i:${m.id}`,
    id: m.id,
    seq: m.seq,
    room: m.room,
    userId: m.user_id,
    name: m.name,
    content: m.content,
    clientId: m.client_id ?? null,
    createdAt: m.created_at,
    own,
    status: own ? 'sent' : null,
    error: null,
  };
}

export function pendingMessageView(entry: OutboxEntry, me: string | null, myName: string): ChatMessage {
  return {
    key: `c:${entry.client_id}`,
    id: entry.id,
    seq: null,
    room: entry.room,
    userId: me ?? '',
    name: myName,
    content: entry.content,
    clientId: entry.client_id,
    createdAt: entry.created_at,
    own: true,
    status: entry.state,
    error: entry.error ?? null,
  };
}

/** Messages from others after `readSeq` (`stored` in seq order). */
export function unreadCount(stored: readonly Message[], readSeq: number | null, me: string | null): number {
  if (readSeq === null) return 0;
  let unread = 0;
  for (let i = stored.length - 1; i >= 0; i--) {
    const m = stored[i];
    if (!m || m.seq <= readSeq) break;
    if (m.user_id !== me) unread += 1;
  }
  return unread;
}
