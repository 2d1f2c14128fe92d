/**
 * `ChatClient`: the whole client-side model of WhisperChat, free of any UI
 * framework. It owns the connection, the rooms (messages, presence, typing,
 * unread counts, drafts), the outbox of unacknowledged messages, and the local
 * cache; it publishes an immutable `ChatSnapshot` that React (or anything else)
 * renders.
 *
 * The guarantees it builds on are the server's (docs/protocol.md §6–8): a room's
 * messages have gap-free `seq`s, an ack means durable, a resend with the same
 * `client_id` is stored once, and `join` with `since_seq` replays what was
 * missed.
 *
 * - **Outbox.** Every message gets a `client_id`, shows at once as `sending`, and
 *   stays in the outbox (persisted) until its `message_ids` ack. A refusal marks
 *   it `failed` with the reason; `retry` resends it with the same `client_id`.
 *   After a reconnect, everything still `sending` is sent again, and the server's
 *   idempotency makes that safe.
 * - **Recovery.** Per room the client tracks the highest seq up to which it holds
 *   every message (`contiguousSeq`) and the room's `epoch`. It connects with
 *   `room=` (empty) and sends `join` with `since_seq` for each room. When
 *   `joined.recovered` is false it reads the gap over HTTP (`after_seq`), or, if
 *   the history changed under it (another epoch, a seq above the head, a gap too
 *   large), drops what it had and loads the latest page. Duplicates are dropped
 *   by seq.
 */
import type { BackoffOptions } from './backoff';
import { Connection, type ConnectionStatus } from './connection';
import { Emitter } from './emitter';
import { ApiError, HistoryApi } from './history';
import { newClientId } from './ids';
import { type Identity, type KeyValue, loadIdentity, loadRoomList, saveIdentity, saveRoomList } from './prefs';
import {
  DEFAULT_LIMITS,
  LOBBY,
  RETRYABLE_CODES,
  checkDisplayName,
  contentLength,
  isValidRoomName,
  type ClientFrameOf,
  type Message,
  type PresenceUser,
  type Refusal,
  type RoomSummary,
  type ServerFrame,
  type ServerFrameOf,
  type WireLimits,
} from './protocol';
import type { LocalStore, OutboxRecord, RoomCache } from './store';

export type SendStatus = 'sending' | 'sent' | 'failed';

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

export interface TypingUser {
  userId: string;
  name: string;
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
  /** The latest refusal worth telling the user about. */
  notice: Notice | null;
}

export interface ChatClientOptions {
  /** The WebSocket endpoint (`ws://host/v1/chat/ws`). */
  wsUrl: string;
  store: LocalStore;
  prefs: KeyValue;
  /** The HTTP API; defaults to the page's own origin. */
  api?: HistoryApi;
  WebSocket?: typeof WebSocket;
  backoff?: BackoffOptions;
  random?: () => number;
  now?: () => number;
  newClientId?: () => string;
  /** Least time between two `typing` frames for one room. Default 2 s. */
  typingIntervalMs?: number;
  /** How long "X is typing…" shows after a `typing` frame. Default 4 s. */
  typingShowMs?: number;
  /** Messages kept per room in the local cache. Default 200. */
  cacheSize?: number;
  /** History page size. Default 50. */
  pageSize?: number;
}

interface RoomState {
  name: string;
  bySeq: Map<number, Message>;
  ids: Set<string>;
  sorted: Message[] | null;
  /** Every message with seq ≤ this (down to the oldest loaded) is held; `null` until known. */
  contiguousSeq: number | null;
  epoch: number;
  hasMoreBefore: boolean;
  loadingOlder: boolean;
  loadingLatest: boolean;
  readSeq: number | null;
  presence: PresenceUser[];
  typing: Map<string, { name: string; until: number }>;
  joined: boolean;
  draft: string;
  error: string | null;
  /** The head from the last `joined`, to retry a failed catch-up. */
  head: number;
  /** Bumped when the history is dropped, so fetches started before are ignored. */
  generation: number;
  /** History operations of one room run one after another. */
  queue: Promise<void>;
  lastTypingSentAt: number;
  persistTimer: ReturnType<typeof setTimeout> | null;
  view: RoomView | null;
}

interface OutboxEntry extends OutboxRecord {
  /** `sent`: acked, waiting for the stored message to arrive. */
  state: SendStatus;
  id: string | null;
  /** The connection it was last sent on, so a flush does not send it twice. */
  sentOn: number;
}

export interface ChatEvents extends Record<string, unknown> {
  change: ChatSnapshot;
}

/** Gaps larger than this are not read page by page; the latest page replaces them. */
const FILL_MAX = 1000;
const FILL_PAGE = 500;

export class ChatClient extends Emitter<ChatEvents> {
  private readonly opts: Required<
    Pick<ChatClientOptions, 'typingIntervalMs' | 'typingShowMs' | 'cacheSize' | 'pageSize'>
  > &
    ChatClientOptions;
  private readonly api: HistoryApi;
  private readonly connection: Connection;
  private readonly rooms = new Map<string, RoomState>();
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly caches = new Map<string, RoomCache>();
  private viewCache = new WeakMap<Message, ChatMessage>();
  private identity: Identity;
  private limits: WireLimits = DEFAULT_LIMITS;
  private myRooms: string[];
  private currentRoom: string | null = null;
  private directory: RoomSummary[] = [];
  private notice: Notice | null = null;
  private noticeSeq = 0;
  private ready = false;
  private readonly readyPromise: Promise<void>;
  private connectionGen = 0;
  private started = false;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private snapshot: ChatSnapshot;
  private viewOwner: string | null = null;
  private readonly onBrowserOnline = () => this.connection.reconnectNow();

  constructor(options: ChatClientOptions) {
    super();
    this.opts = { typingIntervalMs: 2000, typingShowMs: 4000, cacheSize: 200, pageSize: 50, ...options };
    this.api = options.api ?? new HistoryApi();
    this.identity = loadIdentity(options.prefs);
    this.myRooms = (loadRoomList(options.prefs) ?? [LOBBY]).filter(isValidRoomName);
    if (this.myRooms.length === 0) this.myRooms = [LOBBY];
    for (const room of this.myRooms) this.rooms.set(room, this.newRoom(room));
    this.connection = new Connection({
      url: options.wsUrl,
      credentials: () => ({ token: this.identity.token, name: this.identity.name }),
      probe: () => this.api.reachable(),
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    this.connection.on('status', (status) => this.onStatus(status));
    this.connection.on('frame', (frame) => this.onFrame(frame));
    this.connection.on('tokenRejected', () => this.forgetToken());
    this.snapshot = this.buildSnapshot();
    this.readyPromise = this.init();
  }

  // ---- reading -------------------------------------------------------------

  /** The current state; a new object after every change, the same one otherwise. */
  getSnapshot = (): ChatSnapshot => this.snapshot;

  /** Calls `listener` after every change; returns a function that stops it. */
  subscribe = (listener: () => void): (() => void) => this.on('change', listener);

  /** Resolves once the local cache has been read. */
  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  // ---- lifecycle -------------------------------------------------------------

  /** Connects (after the local cache is read) and stays connected until `stop`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (typeof window !== 'undefined') window.addEventListener('online', this.onBrowserOnline);
    void this.readyPromise.then(() => {
      if (this.started) this.connection.start();
    });
  }

  stop(): void {
    this.started = false;
    if (typeof window !== 'undefined') window.removeEventListener('online', this.onBrowserOnline);
    this.connection.stop();
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
  }

  /** Skips the backoff wait. */
  reconnectNow(): void {
    this.connection.reconnectNow();
  }

  // ---- identity --------------------------------------------------------------

  /** Sets the display name, for this connection now and for every later one. */
  setName(input: string): { ok: true } | { ok: false; reason: string } {
    const checked = checkDisplayName(input);
    if (!checked.ok) return checked;
    this.identity = { ...this.identity, name: checked.name };
    saveIdentity(this.opts.prefs, this.identity);
    this.connection.send({ type: 'profile', name: checked.name });
    this.commit();
    return { ok: true };
  }

  // ---- rooms ----------------------------------------------------------------

  /** Shows `room`: adds it to the sidebar and joins it if needed, and marks it read. */
  openRoom(room: string): boolean {
    if (!isValidRoomName(room)) return false;
    const state = this.ensureRoom(room);
    this.currentRoom = room;
    this.markRead(state);
    this.commit();
    return true;
  }

  /** Leaves `room` and removes it from the sidebar; returns the room to show next. */
  leaveRoom(room: string): string | null {
    const state = this.rooms.get(room);
    if (!state) return this.currentRoom;
    if (state.joined) this.connection.send({ type: 'leave', room });
    if (state.persistTimer) clearTimeout(state.persistTimer);
    this.rooms.delete(room);
    this.caches.delete(room);
    this.myRooms = this.myRooms.filter((r) => r !== room);
    saveRoomList(this.opts.prefs, this.myRooms);
    void this.opts.store.deleteRoom(room).catch(() => {});
    void this.opts.store.saveDraft(room, '').catch(() => {});
    if (this.currentRoom === room) this.currentRoom = null;
    this.commit();
    return this.currentRoom ?? this.myRooms[0] ?? null;
  }

  /** Reads the next older page of `room`. */
  async loadOlder(room: string): Promise<void> {
    const state = this.rooms.get(room);
    if (!state || !state.hasMoreBefore || state.loadingOlder || state.bySeq.size === 0) return;
    const lowest = this.sorted(state)[0]?.seq;
    if (lowest === undefined) return;
    const gen = state.generation;
    state.loadingOlder = true;
    this.touch(state);
    this.commit();
    try {
      const page = await this.api.messages({ room, beforeSeq: lowest, limit: this.opts.pageSize });
      if (gen !== state.generation || !this.rooms.has(room)) return;
      this.addMessages(state, page.data);
      state.hasMoreBefore = page.has_more;
    } catch (e) {
      state.error = describeApiError(e);
    } finally {
      state.loadingOlder = false;
      this.touch(state);
      this.commit();
    }
  }

  /** Loads the room's history again after a failure. */
  retryHistory(room: string): void {
    const state = this.rooms.get(room);
    if (!state) return;
    state.error = null;
    this.touch(state);
    this.enqueue(state, () => this.catchUp(state, state.head));
    this.commit();
  }

  /** Refreshes the directory of rooms (`GET /v1/rooms`). */
  async refreshDirectory(): Promise<void> {
    try {
      const list = await this.api.rooms();
      this.directory = list.rooms;
      this.commit();
    } catch {
      // The directory is a convenience; the sidebar works without it.
    }
  }

  // ---- composing ---------------------------------------------------------------

  setDraft(room: string, text: string): void {
    const state = this.rooms.get(room);
    if (!state || state.draft === text) return;
    state.draft = text;
    void this.opts.store.saveDraft(room, text).catch(() => {});
    this.touch(state);
    this.commit();
  }

  /** Tells the room you are typing, at most once per `typingIntervalMs`. */
  notifyTyping(room: string): void {
    const state = this.rooms.get(room);
    if (!state || !state.joined) return;
    const now = this.now();
    if (now - state.lastTypingSentAt < this.opts.typingIntervalMs) return;
    if (this.connection.send({ type: 'typing', room })) state.lastTypingSentAt = now;
  }

  /**
   * Sends `text` to `room`: shown at once as `sending`, kept in the outbox until
   * acknowledged. Returns why it cannot be sent, or `null` when it is on its way.
   */
  send(room: string, text: string): string | null {
    const content = text.trim();
    if (!content) return 'The message is empty.';
    if (!isValidRoomName(room)) return 'Not a room.';
    const max = this.limits.max_content_chars;
    if (contentLength(content) > max) return `A message has at most ${max} characters.`;
    this.ensureRoom(room);
    const entry: OutboxEntry = {
      client_id: (this.opts.newClientId ?? newClientId)(),
      room,
      content,
      created_at: new Date(this.now()).toISOString(),
      status: 'sending',
      state: 'sending',
      id: null,
      sentOn: -1,
    };
    this.outbox.set(entry.client_id, entry);
    this.persistOutbox(entry);
    this.transmit([entry]);
    this.touchRoom(room);
    this.commit();
    return null;
  }

  /** Sends a failed message again, with the same `client_id`. */
  retry(clientId: string): void {
    const entry = this.outbox.get(clientId);
    if (!entry || entry.state !== 'failed') return;
    entry.state = 'sending';
    entry.status = 'sending';
    delete entry.error;
    entry.sentOn = -1;
    this.persistOutbox(entry);
    this.transmit([entry]);
    this.touchRoom(entry.room);
    this.commit();
  }

  /** Drops a failed message from the outbox. */
  discard(clientId: string): void {
    const entry = this.outbox.get(clientId);
    if (!entry || entry.state !== 'failed') return;
    this.outbox.delete(clientId);
    void this.opts.store.deleteOutbox(clientId).catch(() => {});
    this.touchRoom(entry.room);
    this.commit();
  }

  dismissNotice(): void {
    if (!this.notice) return;
    this.notice = null;
    this.commit();
  }

  // ---- the connection ------------------------------------------------------------

  private onStatus(status: ConnectionStatus): void {
    if (status.state !== 'online') {
      for (const state of this.rooms.values()) {
        if (state.joined || state.presence.length || state.typing.size) {
          state.joined = false;
          state.presence = [];
          state.typing.clear();
          this.touch(state);
        }
      }
    }
    this.commit();
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame);
        break;
      case 'message_ids':
        this.onAck(frame);
        break;
      case 'messages':
        this.onMessages(frame);
        break;
      case 'joined':
        this.onJoined(frame);
        break;
      case 'presence': {
        const state = this.rooms.get(frame.room);
        if (state) {
          state.presence = frame.users;
          this.touch(state);
        }
        break;
      }
      case 'typing':
        this.onTyping(frame);
        break;
      case 'error':
        this.showNotice(describeRefusal(frame as Refusal));
        break;
    }
    this.commit();
  }

  private onWelcome(frame: ServerFrameOf<'welcome'>): void {
    this.connectionGen += 1;
    if (this.identity.userId !== frame.user_id) {
      // A new identity (first visit, or the old token was refused): "own" changes.
      for (const state of this.rooms.values()) this.touch(state);
    }
    this.identity = { ...this.identity, userId: frame.user_id, token: frame.token };
    saveIdentity(this.opts.prefs, this.identity);
    this.limits = { ...DEFAULT_LIMITS, ...frame.limits };
    for (const room of this.myRooms) {
      const state = this.rooms.get(room);
      if (state) this.sendJoin(state);
    }
    this.transmit([...this.outbox.values()].filter((e) => e.state === 'sending'));
    void this.refreshDirectory();
  }

  private sendJoin(state: RoomState): void {
    const frame: ClientFrameOf<'join'> = { type: 'join', room: state.name };
    if (state.contiguousSeq !== null) {
      frame.since_seq = state.contiguousSeq;
      if (state.epoch) frame.epoch = state.epoch;
    }
    this.connection.send(frame);
  }

  private onJoined(frame: ServerFrameOf<'joined'>): void {
    const state = this.rooms.get(frame.room);
    if (!state) return;
    state.joined = true;
    state.head = frame.seq;
    this.touch(state);
    if (frame.recovered) {
      if (frame.epoch) state.epoch = frame.epoch;
      return;
    }
    const had = state.contiguousSeq;
    if (had !== null) {
      const epochChanged = frame.epoch !== 0 && state.epoch !== 0 && frame.epoch !== state.epoch;
      if (epochChanged || had > frame.seq || frame.seq - had > FILL_MAX) this.resetRoom(state);
    }
    if (frame.epoch) state.epoch = frame.epoch;
    const head = frame.seq;
    this.enqueue(state, () => this.catchUp(state, head));
  }

  private onMessages(frame: ServerFrameOf<'messages'>): void {
    const state = this.rooms.get(frame.room);
    if (!state) return;
    this.addMessages(state, frame.data);
  }

  private onAck(frame: ServerFrameOf<'message_ids'>): void {
    frame.client_ids.forEach((clientId, i) => {
      if (!clientId) return;
      const entry = this.outbox.get(clientId);
      if (!entry) return;
      const state = this.rooms.get(entry.room);
      if (frame.status === 'success') {
        const id = frame.message_ids[i] ?? null;
        void this.opts.store.deleteOutbox(clientId).catch(() => {});
        if (id && state?.ids.has(id)) {
          this.outbox.delete(clientId);
        } else {
          entry.state = 'sent';
          entry.id = id;
        }
      } else {
        entry.state = 'failed';
        entry.status = 'failed';
        entry.error = frame.error ? describeRefusal(frame.error) : 'The server refused the message.';
        this.persistOutbox(entry);
      }
      this.touchRoom(entry.room);
    });
  }

  private onTyping(frame: ServerFrameOf<'typing'>): void {
    if (frame.user_id === this.identity.userId) return;
    const state = this.rooms.get(frame.room);
    if (!state) return;
    state.typing.set(frame.user_id, { name: frame.name, until: this.now() + this.opts.typingShowMs });
    this.touch(state);
    this.scheduleTypingSweep();
  }

  private scheduleTypingSweep(): void {
    let next = Infinity;
    for (const state of this.rooms.values()) for (const t of state.typing.values()) next = Math.min(next, t.until);
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    if (next === Infinity) return;
    this.typingTimer = setTimeout(
      () => {
        this.typingTimer = null;
        const now = this.now();
        for (const state of this.rooms.values()) {
          for (const [user, t] of state.typing) {
            if (t.until <= now) {
              state.typing.delete(user);
              this.touch(state);
            }
          }
        }
        this.commit();
        this.scheduleTypingSweep();
      },
      Math.max(0, next - this.now()),
    );
  }

  private forgetToken(): void {
    if (!this.identity.token) return;
    this.identity = { ...this.identity, token: null };
    saveIdentity(this.opts.prefs, this.identity);
    this.commit();
  }

  /** Sends entries not yet sent on this connection, in batches of at most `max_batch`. */
  private transmit(entries: OutboxEntry[]): void {
    if (!this.connection.isOnline) return;
    const pending = entries.filter((e) => e.sentOn !== this.connectionGen);
    const size = Math.max(1, Math.min(this.limits.max_batch, this.limits.message_burst));
    for (let i = 0; i < pending.length; i += size) {
      const batch = pending.slice(i, i + size);
      const sent = this.connection.send({
        type: 'messages',
        data: batch.map((e) => ({ content: e.content, client_id: e.client_id, room: e.room })),
      });
      if (!sent) return;
      for (const e of batch) e.sentOn = this.connectionGen;
    }
  }

  // ---- history ---------------------------------------------------------------------

  private enqueue(state: RoomState, op: () => Promise<void>): void {
    state.queue = state.queue.then(op).catch(() => {});
  }

  /** After `joined` without recovery: read what is missing up to `head`. */
  private async catchUp(state: RoomState, head: number): Promise<void> {
    if (!this.rooms.has(state.name)) return;
    if (state.contiguousSeq === null) await this.loadLatest(state);
    else if (state.contiguousSeq < head) await this.fillForward(state, head);
  }

  private async loadLatest(state: RoomState): Promise<void> {
    if (state.contiguousSeq !== null) return;
    const gen = state.generation;
    state.loadingLatest = true;
    this.touch(state);
    this.commit();
    try {
      const page = await this.api.messages({ room: state.name, limit: this.opts.pageSize });
      if (gen !== state.generation || !this.rooms.has(state.name)) return;
      state.error = null;
      const last = page.data.at(-1)?.seq ?? 0;
      state.contiguousSeq = Math.max(state.contiguousSeq ?? 0, last);
      state.hasMoreBefore = page.has_more;
      this.addMessages(state, page.data);
      if (state.readSeq === null) state.readSeq = state.contiguousSeq;
    } catch (e) {
      if (gen === state.generation) state.error = describeApiError(e);
    } finally {
      state.loadingLatest = false;
      this.touch(state);
      this.commit();
    }
  }

  private async fillForward(state: RoomState, head: number): Promise<void> {
    const gen = state.generation;
    try {
      while (state.contiguousSeq !== null && state.contiguousSeq < head) {
        const from = state.contiguousSeq;
        const page = await this.api.messages({ room: state.name, afterSeq: from, limit: FILL_PAGE });
        if (gen !== state.generation || !this.rooms.has(state.name)) return;
        this.addMessages(state, page.data);
        state.error = null;
        this.commit();
        if (!page.has_more || (state.contiguousSeq ?? 0) <= from) break;
      }
    } catch (e) {
      if (gen === state.generation) {
        state.error = describeApiError(e);
        this.touch(state);
        this.commit();
      }
    }
  }

  private resetRoom(state: RoomState): void {
    state.generation += 1;
    state.bySeq.clear();
    state.ids.clear();
    state.sorted = null;
    state.contiguousSeq = null;
    state.hasMoreBefore = false;
    state.readSeq = null;
    this.touch(state);
  }

  /** Adds stored messages (live, replayed or read over HTTP), dropping duplicates by seq. */
  private addMessages(state: RoomState, messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const me = this.identity.userId;
    let added = false;
    for (const msg of messages) {
      if (state.bySeq.has(msg.seq)) continue;
      state.bySeq.set(msg.seq, msg);
      state.ids.add(msg.id);
      added = true;
      state.typing.delete(msg.user_id);
      if (me && msg.user_id === me) {
        // Your own message came back stored: its optimistic copy is done.
        const byClientId = msg.client_id ? this.outbox.get(msg.client_id) : undefined;
        if (byClientId) this.dropFromOutbox(byClientId);
        for (const entry of this.outbox.values()) if (entry.id === msg.id) this.dropFromOutbox(entry);
      }
    }
    if (!added) return;
    state.sorted = null;
    if (state.contiguousSeq !== null) {
      while (state.bySeq.has(state.contiguousSeq + 1)) state.contiguousSeq += 1;
    }
    if (this.currentRoom === state.name) this.markRead(state);
    this.touch(state);
    this.schedulePersist(state);
  }

  private dropFromOutbox(entry: OutboxEntry): void {
    this.outbox.delete(entry.client_id);
    void this.opts.store.deleteOutbox(entry.client_id).catch(() => {});
  }

  private markRead(state: RoomState): void {
    const top = this.sorted(state).at(-1)?.seq ?? state.contiguousSeq;
    if (top === null || top === undefined) return;
    if (state.readSeq === null || top > state.readSeq) {
      state.readSeq = top;
      this.touch(state);
      this.schedulePersist(state);
    }
  }

  // ---- local state -------------------------------------------------------------------

  private async init(): Promise<void> {
    try {
      const local = await this.opts.store.load();
      for (const cache of local.rooms) this.caches.set(cache.room, cache);
      for (const state of this.rooms.values()) {
        this.applyCache(state);
        const draft = local.drafts[state.name];
        if (draft && !state.draft) state.draft = draft;
      }
      for (const record of local.outbox) {
        if (this.outbox.has(record.client_id)) continue;
        const entry: OutboxEntry = {
          ...record,
          state: record.status === 'failed' ? 'failed' : 'sending',
          id: null,
          sentOn: -1,
        };
        const state = this.rooms.get(record.room);
        const me = this.identity.userId;
        const stored =
          state && [...state.bySeq.values()].some((m) => m.client_id === record.client_id && m.user_id === me);
        if (stored) void this.opts.store.deleteOutbox(record.client_id).catch(() => {});
        else this.outbox.set(record.client_id, entry);
      }
    } catch {
      // Nothing cached: the network fills the page.
    }
    this.ready = true;
    for (const state of this.rooms.values()) {
      this.touch(state);
      if (state.contiguousSeq === null) this.enqueue(state, () => this.loadLatest(state));
    }
    this.commit();
  }

  private applyCache(state: RoomState): void {
    const cache = this.caches.get(state.name);
    if (!cache || state.contiguousSeq !== null || state.bySeq.size > 0) return;
    state.epoch = cache.epoch;
    state.readSeq = cache.readSeq;
    const messages = [...cache.messages].sort((a, b) => a.seq - b.seq);
    state.contiguousSeq = cache.contiguousSeq;
    state.hasMoreBefore = (messages[0]?.seq ?? cache.contiguousSeq + 1) > 1;
    for (const msg of messages) {
      state.bySeq.set(msg.seq, msg);
      state.ids.add(msg.id);
    }
    state.sorted = null;
  }

  private ensureRoom(room: string): RoomState {
    let state = this.rooms.get(room);
    if (state) return state;
    state = this.newRoom(room);
    this.rooms.set(room, state);
    this.myRooms = [...this.myRooms, room];
    saveRoomList(this.opts.prefs, this.myRooms);
    const created = state;
    if (this.ready) {
      this.applyCache(created);
      if (created.contiguousSeq === null) this.enqueue(created, () => this.loadLatest(created));
    }
    if (this.connection.isOnline) this.sendJoin(created);
    return created;
  }

  private newRoom(name: string): RoomState {
    return {
      name,
      bySeq: new Map(),
      ids: new Set(),
      sorted: null,
      contiguousSeq: null,
      epoch: 0,
      hasMoreBefore: false,
      loadingOlder: false,
      loadingLatest: false,
      readSeq: null,
      presence: [],
      typing: new Map(),
      joined: false,
      draft: '',
      error: null,
      head: 0,
      generation: 0,
      queue: Promise.resolve(),
      lastTypingSentAt: 0,
      persistTimer: null,
      view: null,
    };
  }

  private schedulePersist(state: RoomState): void {
    if (state.persistTimer) return;
    state.persistTimer = setTimeout(() => {
      state.persistTimer = null;
      if (!this.rooms.has(state.name) || state.contiguousSeq === null) return;
      const top = state.contiguousSeq;
      const messages = this.sorted(state)
        .filter((m) => m.seq <= top)
        .slice(-this.opts.cacheSize);
      const cache: RoomCache = {
        room: state.name,
        epoch: state.epoch,
        contiguousSeq: top,
        readSeq: state.readSeq ?? top,
        messages,
      };
      this.caches.set(state.name, cache);
      void this.opts.store.saveRoom(cache).catch(() => {});
    }, 250);
  }

  private persistOutbox(entry: OutboxEntry): void {
    const record: OutboxRecord = {
      client_id: entry.client_id,
      room: entry.room,
      content: entry.content,
      created_at: entry.created_at,
      status: entry.state === 'failed' ? 'failed' : 'sending',
      ...(entry.error ? { error: entry.error } : {}),
    };
    void this.opts.store.saveOutbox(record).catch(() => {});
  }

  private showNotice(text: string): void {
    this.noticeSeq += 1;
    this.notice = { id: this.noticeSeq, text };
  }

  // ---- snapshots -----------------------------------------------------------------------

  private sorted(state: RoomState): Message[] {
    if (!state.sorted) state.sorted = [...state.bySeq.values()].sort((a, b) => a.seq - b.seq);
    return state.sorted;
  }

  private touch(state: RoomState): void {
    state.view = null;
  }

  private touchRoom(room: string): void {
    const state = this.rooms.get(room);
    if (state) this.touch(state);
  }

  private commit(): void {
    this.snapshot = this.buildSnapshot();
    this.emit('change', this.snapshot);
  }

  private buildSnapshot(): ChatSnapshot {
    if (this.viewOwner !== this.identity.userId) {
      // Whether a message is "own" depends on who this client is.
      this.viewOwner = this.identity.userId;
      this.viewCache = new WeakMap();
      for (const state of this.rooms.values()) state.view = null;
    }
    const rooms: Record<string, RoomView> = {};
    for (const state of this.rooms.values()) rooms[state.name] = this.roomView(state);
    return {
      ready: this.ready,
      status: this.connection.status,
      identity: this.identity,
      limits: this.limits,
      myRooms: this.myRooms,
      currentRoom: this.currentRoom,
      rooms,
      directory: this.directory,
      notice: this.notice,
    };
  }

  private roomView(state: RoomState): RoomView {
    const me = this.identity.userId;
    if (state.view) return state.view;
    const stored = this.sorted(state);
    const messages: ChatMessage[] = stored.map((m) => this.storedView(m, me));
    const myName = this.identity.name ?? 'You';
    for (const entry of this.outbox.values()) {
      if (entry.room !== state.name) continue;
      messages.push({
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
      });
    }
    let unread = 0;
    if (state.readSeq !== null && this.currentRoom !== state.name) {
      for (let i = stored.length - 1; i >= 0; i--) {
        const m = stored[i];
        if (!m || m.seq <= state.readSeq) break;
        if (m.user_id !== me) unread += 1;
      }
    }
    const view: RoomView = {
      name: state.name,
      messages,
      hasMoreBefore: state.hasMoreBefore,
      loadingOlder: state.loadingOlder,
      loading: state.loadingLatest && stored.length === 0,
      loaded: state.contiguousSeq !== null,
      presence: state.presence,
      typing: [...state.typing].map(([userId, t]) => ({ userId, name: t.name })),
      unread,
      joined: state.joined,
      draft: state.draft,
      error: state.error,
    };
    state.view = view;
    return view;
  }

  private storedView(m: Message, me: string | null): ChatMessage {
    const cached = this.viewCache.get(m);
    if (cached) return cached;
    const own = me !== null && m.user_id === me;
    const view: ChatMessage = {
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
    this.viewCache.set(m, view);
    return view;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}

/** A refusal as one sentence for people. */
export function describeRefusal(refusal: Refusal): string {
  const retry = RETRYABLE_CODES.has(refusal.code) ? ' You can send it again.' : '';
  const details = refusal.details?.length ? ` (${refusal.details.join('; ')})` : '';
  return `${capitalize(refusal.message)}${details}.${retry}`.replace(/\.\./g, '.');
}

function describeApiError(e: unknown): string {
  if (e instanceof ApiError) {
    return e.code === 'network' ? 'Could not reach the server.' : `Could not load history: ${e.message}`;
  }
  return 'Could not load history.';
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
