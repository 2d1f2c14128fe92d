/**
 * What the UI renders: the immutable `ChatSnapshot` `ChatClient` publishes, one
 * `RoomView` per room and one `ChatMessage` per message. Views are rebuilt only
 * for what changed — a message's view is kept as long as the message, a room's
 * until the room changes — so a change in one room leaves every other room's
 * view the same object, and a hook that selects one room does not re-render.
 */
import type { Account } from './accounts';
import type { ConnectionStatus } from './connection';
import type { DraftFile } from './draft-files';
import type { NoticeEvent } from './events';
import { NO_LINKS, attachmentView, type AttachmentView, type FileLinks } from './files';
import { kindOf } from './names';
import type { ChangeEntry, ChangeKind, OutboxEntry, SendStatus } from './outbox';
import type { NameOf } from './people';
import type { Identity } from './prefs';
import type {
  Attachment,
  Member,
  Message,
  Person,
  PresenceUser,
  PrincipalKind,
  RoomSummary,
  WireLimits,
} from './protocol';
import { describeNotice, type RoomMeta, type RoomProfileSeen } from './rooms';
import type { TypingUser } from './typing';

/** One emoji's reactions to a message. */
export interface ReactionView {
  emoji: string;
  count: number;
  /** You are one of them: a click takes yours back. */
  mine: boolean;
  /** Who, by name, as far as known (the server lists the first ten). */
  names: readonly string[];
}

/** The message a reply answers, as its quote shows it. */
export interface ReplyPreview {
  id: string;
  /** The original is held (so it can be shown and scrolled to). */
  loaded: boolean;
  name: string | null;
  /** Its first line. */
  excerpt: string | null;
  deleted: boolean;
}

/** Your latest pending change to a message: where it stands. */
export interface ChangeStatus {
  kind: ChangeKind;
  clientId: string;
  state: SendStatus;
  /** Why it failed, when it did (a failure worth retrying: others roll back). */
  error: string | null;
}

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
  /** Who stood behind the name when it was posted: a guest's is self-chosen, an account's verified. */
  principal: PrincipalKind;
  content: string;
  clientId: string | null;
  createdAt: string;
  /** Whether you wrote it (this identity). */
  own: boolean;
  /** For your own messages: where delivery stands. */
  status: SendStatus | null;
  /** Why it failed, when it did. */
  error: string | null;
  /**
   * Failed for a reason that may pass (the rate limit, the store): it goes
   * again by itself. `false` for a refusal for good (too long, not allowed…),
   * which only a change of the text can get past.
   */
  retryable: boolean;
  /** The message it answers. */
  replyTo: ReplyPreview | null;
  /** When it was last edited (your pending edit: when you made it). */
  editedAt: string | null;
  /** Taken back: no text, no reactions, no actions. */
  deleted: boolean;
  reactions: readonly ReactionView[];
  /** For your own stored messages: who else has read it (names), from their receipts. */
  readBy: readonly string[];
  /** Your latest change to it still in the outbox, if any. */
  change: ChangeStatus | null;
  /** The files it carries, in the author's order (none once deleted). */
  attachments: readonly AttachmentView[];
}

/** A member or room event, as the one line the message list shows in its place ("Ada added Bob"). */
export interface RoomNotice {
  key: string;
  id: string;
  seq: number;
  kind: 'member' | 'room';
  text: string;
  createdAt: string;
}

/** A room's members, as `GET /v1/rooms/{room}` told them (read when its settings or member list ask). */
export interface RoomMembersView {
  members: readonly Member[];
  /** Who is banned: listed to the room's moderators and owners only (`null` for others). */
  banned: readonly Person[] | null;
  loading: boolean;
  /** Why they could not be read. */
  error: string | null;
}

/**
 * The message the room was opened at (a search result): the list scrolls to
 * it and marks it for a moment. Far older than the latest messages, it is
 * shown with those around it, apart from them (`detached`, window.ts): the
 * room's `messages` are then that stretch, read further older and newer as
 * the reader scrolls, until it meets the latest ones or `jumpToLatest`.
 */
export interface JumpView {
  /** The message's id and seq. */
  id: string;
  seq: number;
  /** New for every jump: jumping to the same message again scrolls to it again. */
  token: number;
  /** `messages` are a stretch around the message, not the latest: "Jump to latest" goes back. */
  detached: boolean;
  /** Newer messages than the stretch's can be read with `loadNewer` (detached only). */
  hasMoreAfter: boolean;
  loadingNewer: boolean;
}

export interface RoomView {
  name: string;
  /** Stored messages in seq order, then your own messages not stored yet. */
  messages: readonly ChatMessage[];
  /** Member and room events in seq order, each to be shown between the messages around its seq. */
  notices: readonly RoomNotice[];
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
  /**
   * The open room's first message (by someone else) that was unread when the
   * room was opened: a "New messages" line goes above it. Stays put while the
   * room is open, so reading does not make it jump.
   */
  newMessagesKey: string | null;
  /**
   * Whether `newMessagesKey` says where this visit's unread part begins: the
   * room is open, and joined since (a room opened before it was joined waits
   * for the server's read watermark in `joined`). The list waits for it before
   * settling where it opens.
   */
  newMessagesKnown: boolean;
  /** The subscription is confirmed on the current connection. */
  joined: boolean;
  draft: string;
  /** The files of the message being written: uploading, uploaded (kept with the draft) or refused. */
  draftFiles: readonly DraftFile[];
  /** A history load that failed, for a "try again" banner. */
  error: string | null;
  /** The message the room was opened at, if any (`openMessage`). */
  jump: JumpView | null;
}

export interface Notice {
  id: number;
  text: string;
}

/** The server took you out of a room (`left`): it is gone from your rooms, and this says why. */
export interface Removal {
  room: string;
  /** "You were removed from #acme/general: removed by a moderator." */
  text: string;
}

export interface ChatSnapshot {
  /** The local cache has been read. */
  ready: boolean;
  status: ConnectionStatus;
  /** Who you are to the server: the guest's identity, or the account's (no token: the cookie is it). */
  identity: Identity;
  /** Signed in: the account (as remembered until `GET /v1/me` answers). `null` for a guest. */
  account: Account | null;
  /** `GET /v1/me` has answered (or could not): `account` is not last visit's guess any more. */
  accountChecked: boolean;
  /** Why you are a guest again, when the server signed you out ("You were signed out."), until dismissed. */
  signedOut: string | null;
  /**
   * Rooms the server took you out of, oldest first (one each), until dismissed
   * or opened again. Shown over every page, as `signedOut` is.
   */
  removals: readonly Removal[];
  limits: WireLimits;
  /** The rooms in the sidebar, in the order joined. */
  myRooms: readonly string[];
  currentRoom: string | null;
  rooms: Readonly<Record<string, RoomView>>;
  /** `GET /v1/rooms`: public rooms with history on the server, and your private and direct rooms. */
  directory: readonly RoomSummary[];
  /**
   * What each room known is (public, private, direct), its title, topic and
   * your role: from `GET /v1/rooms`, the rooms you create or open, and their
   * events since. A room without an entry is guessed from its name (`guessMeta`).
   */
  roomMeta: Readonly<Record<string, RoomMeta>>;
  /** The members of the rooms whose members were asked for (`loadRoomDetails`). */
  roomMembers: Readonly<Record<string, RoomMembersView>>;
  /** Whether the server has rooms beyond `directory` (its first page). */
  directoryHasMore: boolean;
  /** The latest refusal worth telling the user about. */
  notice: Notice | null;
}

/** What a stored message's view shows beyond the message itself. */
export interface MessageExtras {
  reply: ReplyPreview | null;
  readBy: readonly string[];
  /** Per reaction of the message (in its order), who by name. */
  reactionNames: readonly (readonly string[])[];
  change: ChangeStatus | null;
}

const NO_EXTRAS: MessageExtras = { reply: null, readBy: [], reactionNames: [], change: null };

/** Where a message's extras come from: the room around it. */
export interface MessageContext {
  nameOf: NameOf;
  /** A held message of the room, by id (for reply quotes). */
  original: (id: string) => Message | undefined;
  /** Who else has read up to a seq (user ids). */
  readersOf: (seq: number) => readonly string[];
}

/** The extras of stored message `m` (shown with your pending `changes`), owned by `me` or not. */
export function messageExtras(
  m: Message,
  me: string | null,
  ctx: MessageContext,
  changes?: readonly ChangeEntry[],
): MessageExtras {
  const own = me !== null && m.user_id === me;
  const reply = m.reply_to ? replyPreview(m.reply_to, ctx) : null;
  const readBy = own && !m.deleted ? ctx.readersOf(m.seq).map(ctx.nameOf) : [];
  const reactionNames = (m.reactions ?? []).map((r) => r.users.map(ctx.nameOf));
  const change = changes?.length ? changeStatus(changes) : null;
  if (!reply && !readBy.length && !reactionNames.length && !change) return NO_EXTRAS;
  return { reply, readBy, reactionNames, change };
}

/** The quote of message `id` of the room. */
export function replyPreview(id: string, ctx: Pick<MessageContext, 'original'>): ReplyPreview {
  const original = ctx.original(id);
  if (!original) return { id, loaded: false, name: null, excerpt: null, deleted: false };
  return {
    id,
    loaded: true,
    name: original.name,
    excerpt: original.deleted ? null : firstLine(original.content) || filesExcerpt(original.attachments ?? []),
    deleted: Boolean(original.deleted),
  };
}

/** A message of files alone, in a line: `cat.png`, `cat.png and 2 more files`. */
export function filesExcerpt(files: readonly Pick<Attachment, 'name'>[]): string {
  const first = files[0];
  if (!first) return '';
  const more = files.length - 1;
  return more === 0 ? first.name : `${first.name} and ${more === 1 ? '1 more file' : `${more} more files`}`;
}

/** The first line of a text, shortened to `max` characters. */
export function firstLine(text: string, max = 120): string {
  const line = text.trim().split('\n', 1)[0] ?? '';
  const chars = [...line];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : line;
}

/** What a message's pending changes say: a failed one first (it waits for you), else the latest. */
function changeStatus(changes: readonly ChangeEntry[]): ChangeStatus {
  const shown = changes.find((c) => c.state === 'failed') ?? changes[changes.length - 1];
  if (!shown) throw new Error('changeStatus needs a change');
  return { kind: shown.kind, clientId: shown.client_id, state: shown.state, error: shown.error ?? null };
}

/**
 * Stored messages' views, kept per message (and what it shows beyond itself)
 * for as long as the identity stays the same, so an unchanged message keeps its
 * view object and its row does not re-render.
 */
export class StoredMessageViews {
  private owner: string | null = null;
  private links: FileLinks = NO_LINKS;
  private cache = new WeakMap<Message, { signature: string; view: ChatMessage }>();

  /**
   * Switches to identity `me`, whose files are read from `links`; whether that
   * changed anything (every view must then be rebuilt).
   */
  setOwner(me: string | null, links: FileLinks = NO_LINKS): boolean {
    if (this.owner === me && this.links.base === links.base && this.links.token === links.token) return false;
    // Whether a message is "own" depends on who this client is; a guest's file URLs carry its token.
    this.owner = me;
    this.links = links;
    this.cache = new WeakMap();
    return true;
  }

  get(m: Message, extras: MessageExtras = NO_EXTRAS): ChatMessage {
    const signature = extras === NO_EXTRAS ? '' : JSON.stringify(extras);
    const cached = this.cache.get(m);
    if (cached && cached.signature === signature) return cached.view;
    const view = storedMessageView(m, this.owner, extras, this.links);
    this.cache.set(m, { signature, view });
    return view;
  }
}

/** A stored message's `ChatMessage.key`: your own by `client_id`, like its optimistic copy. */
export function messageKey(m: Message, me: string | null): string {
  return me !== null && m.user_id === me && m.client_id ? `c:${m.client_id}` : `i:${m.id}`;
}

export function storedMessageView(
  m: Message,
  me: string | null,
  extras: MessageExtras = NO_EXTRAS,
  links: FileLinks = NO_LINKS,
): ChatMessage {
  const own = me !== null && m.user_id === me;
  const deleted = Boolean(m.deleted);
  return {
    key: messageKey(m, me),
    id: m.id,
    seq: m.seq,
    room: m.room,
    userId: m.user_id,
    name: m.name,
    // Stored at post time: a guest's message stays a guest's after it signs up.
    principal: kindOf(m),
    content: m.content,
    clientId: m.client_id ?? null,
    createdAt: m.created_at,
    own,
    status: own ? 'sent' : null,
    error: null,
    retryable: false,
    replyTo: extras.reply,
    editedAt: deleted ? null : (m.edited_at ?? null),
    deleted,
    reactions: deleted
      ? []
      : (m.reactions ?? []).map((r, i) => ({
          emoji: r.emoji,
          count: r.count,
          mine: me !== null && r.users.includes(me),
          names: extras.reactionNames[i] ?? [],
        })),
    readBy: extras.readBy,
    change: extras.change,
    attachments: deleted ? [] : attachmentViews(m.attachments, links),
  };
}

const NO_ATTACHMENTS: readonly AttachmentView[] = [];

function attachmentViews(attachments: readonly Attachment[] | undefined, links: FileLinks): readonly AttachmentView[] {
  return attachments?.length ? attachments.map((a) => attachmentView(a, links)) : NO_ATTACHMENTS;
}

/** Your message still in the outbox, shown as `myName` of kind `myKind` (whoever will post it). */
export function pendingMessageView(
  entry: OutboxEntry,
  me: string | null,
  myName: string,
  myKind: PrincipalKind,
  reply: ReplyPreview | null = null,
  links: FileLinks = NO_LINKS,
): ChatMessage {
  return {
    key: `c:${entry.client_id}`,
    id: entry.id,
    seq: null,
    room: entry.room,
    userId: me ?? '',
    name: myName,
    principal: myKind,
    content: entry.content,
    clientId: entry.client_id,
    createdAt: entry.created_at,
    own: true,
    status: entry.state,
    error: entry.error ?? null,
    retryable: entry.state === 'failed' && Boolean(entry.retryable),
    replyTo: reply,
    editedAt: null,
    deleted: false,
    reactions: [],
    readBy: [],
    change: null,
    attachments: attachmentViews(entry.attachments, links),
  };
}

/**
 * The notices of member and room events (in seq order), as you read them
 * (you are "You"). A rename is told from a new topic by the room event before
 * it, or else by what the room was called when the event arrived.
 */
export function noticeViews(
  events: readonly NoticeEvent[],
  me: string | null,
  /** What the room was before an event, as known when it arrived (when no room event before it is held). */
  knownBefore: (eventId: string) => RoomProfileSeen | undefined = () => undefined,
): RoomNotice[] {
  let before: RoomProfileSeen | null = null;
  return events.map((event) => {
    const text = describeNotice(event, me, before ?? knownBefore(event.id) ?? null);
    if (event.kind === 'room') before = { title: event.title?.trim() ? event.title : null, topic: event.topic };
    return { key: `n:${event.id}`, id: event.id, seq: event.seq, kind: event.kind, text, createdAt: event.created_at };
  });
}

/** Messages from others after `readSeq` (`stored` in seq order); deleted ones are no news. */
export function unreadCount(stored: readonly Message[], readSeq: number | null, me: string | null): number {
  if (readSeq === null) return 0;
  let unread = 0;
  for (let i = stored.length - 1; i >= 0; i--) {
    const m = stored[i];
    if (!m || m.seq <= readSeq) break;
    if (m.user_id !== me && !m.deleted) unread += 1;
  }
  return unread;
}

/**
 * The first message after watermark `after` that is news: by someone else, not
 * deleted (`stored` in seq order). `null` when there is none, or no watermark to
 * speak of (`after` unknown, or 0: a first visit, where everything is new and a
 * line at the top says nothing).
 */
export function firstUnread(stored: readonly Message[], after: number | null, me: string | null): Message | null {
  if (after === null || after <= 0) return null;
  let first: Message | null = null;
  for (let i = stored.length - 1; i >= 0; i--) {
    const m = stored[i];
    if (!m || m.seq <= after) break;
    if (m.user_id !== me && !m.deleted) first = m;
  }
  return first;
}
