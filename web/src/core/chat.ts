/**
 * `ChatClient`: the façade of the client-side model of WhisperChat, free of any
 * UI framework. It owns the connection and the rooms and wires the parts that
 * each hold one idea — `timeline.ts` (a room's messages by seq, with the
 * events that changed them), `outbox.ts` (your messages and changes until
 * stored), `changes.ts` (those changes shown at once), `recovery.ts` (what to do
 * after `joined`), `retries.ts` (resending what was refused for a reason that
 * may pass), `receipts.ts` (who read how far), `typing.ts`, `cache.ts` (a
 * room's snapshot in the local store) and `views.ts` (what the UI renders) — and
 * publishes an immutable `ChatSnapshot` that React (or anything else) renders.
 *
 * The guarantees it builds on are the server's (docs/protocol.md §6–8): a room's
 * messages have gap-free `seq`s, an ack means durable, a resend with the same
 * `client_id` is stored once, and `join` with `since_seq` replays what was
 * missed. It connects with `room=` (empty) and sends `join` with `since_seq`
 * (and the `epoch`) for each room.
 *
 * Who it is (`principal.ts`) is a guest (a token in prefs) or an account (the
 * session cookie). It asks `GET /v1/me` before it reads anything: signed in,
 * it connects without a token and reads the account's own local store and
 * room list (`stores.ts`); a guest goes on as before accounts. Signing in or
 * out lets go of everything of the one before — rooms, outbox, timers, the
 * store — and starts over as the next, so no one sees another's messages.
 *
 * The server may take the client out of a room (`left`: the application's
 * doing, docs/protocol.md §14): the room goes as if left, is not joined again
 * on a reconnect, and a notice (`removals`) says why.
 *
 * Rooms have members (`rooms.ts`, `rooms-api.ts`): a signed-in user creates
 * private rooms and opens direct ones, and is told (`room` frame, `added`)
 * when someone adds them to one; the rooms they are a member of come with
 * `GET /v1/rooms` and are joined like any other. What each room is, its title
 * and your role in it are `roomMeta`; its members, when asked for,
 * `roomMembers`. Member and room events show in the timeline as notices. A
 * private room you are not in cannot be joined: it goes, with why.
 *
 * Search (`search.ts`) finds messages in every room you may read; opening a
 * result (`openMessage`) shows its room at that message. One the live
 * timeline does not hold is shown with the messages around it, read into a
 * window apart from the timeline (`window.ts`) until the window meets the
 * latest messages or the reader goes back to them (`jumpToLatest`).
 *
 * Messages carry files (`files.ts`, docs/protocol.md §17): the composer's are
 * each room's `draftFiles` (`draft-files.ts`), uploaded as soon as attached and
 * kept with the draft once uploaded; `send` takes them, and the outbox keeps
 * them whole for a resend, sending their ids.
 */
import { AccountsApi, accountOf, type Account, type DeviceSession, type MeResponse } from './accounts';
import type { BackoffOptions } from './backoff';
import { restoreRoomCache, roomCacheOf } from './cache';
import { withChanges } from './changes';
import { Connection, type ConnectionOptions, type ConnectionStatus } from './connection';
import {
  describeAccountError,
  describeApiError,
  describeRefusal,
  describeRemoval,
  describeRoomError,
  describeRoomRefusal,
  describeSignedOut,
  type AccountProblem,
} from './describe';
import { DraftFiles, type ObjectUrls, type Settled } from './draft-files';
import { Emitter } from './emitter';
import { isNoticeEvent, type NoticeEvent } from './events';
import { FilesApi, type FileLinks } from './files';
import { HistoryApi } from './history';
import { ApiError } from './http';
import { newClientId } from './ids';
import { kindOf } from './names';
import { namesOf } from './people';
import { applyPresenceChanges } from './presence';
import {
  Outbox,
  batchesToSend,
  changeFrame,
  draftOf,
  entryFromRecord,
  isChange,
  newChange,
  newEntry,
  recordOf,
  type ChangeRequest,
  type OutboxEntry,
} from './outbox';
import {
  type Identity,
  type KeyValue,
  clearIdentity,
  loadAccount,
  loadIdentity,
  loadRoomList,
  saveAccount,
  saveIdentity,
  saveRoomList,
} from './prefs';
import {
  GUEST,
  credentialsOf,
  identityOf,
  ownerOf,
  principalAfterMe,
  samePrincipal,
  type Principal,
} from './principal';
import {
  DEFAULT_LIMITS,
  LOBBY,
  RETRYABLE_CODES,
  checkDisplayName,
  contentLength,
  isValidEmoji,
  isValidRoomName,
  type ClientFrameOf,
  type Message,
  type Person,
  type PresenceUser,
  type Refusal,
  type Role,
  type RoomEvent,
  type RoomSummary,
  type ServerFrame,
  type ServerFrameOf,
  type WireLimits,
} from './protocol';
import { RoomReceipts } from './receipts';
import { MAX_INITIAL_MEMBERS, MAX_TITLE_CHARS, MAX_TOPIC_CHARS, RoomsApi, type RoomChangeRequest } from './rooms-api';
import {
  canManage,
  guessMeta,
  metaOf,
  roomReference,
  sameMeta,
  visibilityOfName,
  type RoomMeta,
  type RoomProfileSeen,
} from './rooms';
import { FILL_PAGE, afterJoined, catchUpStep } from './recovery';
import { RetrySchedule } from './retries';
import { SearchApi, SearchSession, type SearchSessionOptions } from './search';
import { MemoryStore, type LocalStore, type RoomCache } from './store';
import { SingleStore, copyLocal, type LocalStores } from './stores';
import { Timeline } from './timeline';
import type { ShareOp, Transport } from './transport';
import { RoomTyping, typingDue } from './typing';
import { MessageWindow, aroundQueries, type JumpTarget } from './window';
import {
  StoredMessageViews,
  firstUnread,
  messageExtras,
  messageKey,
  noticeViews,
  pendingMessageView,
  replyPreview,
  unreadCount,
  type ChatMessage,
  type MessageContext,
  type ChatSnapshot,
  type Notice,
  type Removal,
  type RoomMembersView,
  type RoomView,
} from './views';

/** Rooms the directory fetches: the first page of `GET /v1/rooms` (protocol.md §11). */
const DIRECTORY_PAGE = 100;
/** At most one `read` per room per this long: the server tells others no faster. */
const READ_INTERVAL_MS = 1000;
/** How long the first `GET /v1/me` may take before the client goes on as who it was last time. */
const ME_TIMEOUT_MS = 5000;
/**
 * A public room renamed is told to every client: each reads the directory
 * again within this long, at a random moment, so that they do not all ask at once.
 */
const RENAMED_SPREAD_MS = 3000;
/** A room of yours this small (in seqs), new to this client, is read from its start (`ensureRoom`). */
const FROM_START_MAX = 200;
/** Member events in a room whose members are shown: its members are read again this long after the last. */
const MEMBERS_REFRESH_MS = 150;

export { describeAccountError, describeRefusal, type AccountField, type AccountProblem } from './describe';
export type { Account, DeviceSession } from './accounts';
export type { RoomMeta, SidebarRoom, RoomSections } from './rooms';
export type { Member, Person, Role } from './protocol';
export type { ChangeKind, SendStatus } from './outbox';
export type { TypingUser } from './typing';
export type { JumpTarget } from './window';
export type { DraftFile, DraftFileState, Settled } from './draft-files';
export type { AttachmentView } from './files';
export type { SearchHit, SearchSession, SearchState, TextPart } from './search';
export type {
  ChangeStatus,
  ChatMessage,
  ChatSnapshot,
  JumpView,
  Notice,
  ReactionView,
  Removal,
  ReplyPreview,
  RoomMembersView,
  RoomNotice,
  RoomView,
} from './views';

/** What a room operation answers: done (with its result), or why not, for people. */
export type RoomResult<T> = ({ ok: true } & T) | { ok: false; error: string };

/** Whether a refusal may pass if the same frame is sent again unchanged. */
function isRetryable(refusal: Refusal | undefined): boolean {
  return refusal !== undefined && RETRYABLE_CODES.has(refusal.code);
}

/** How long the server asked to wait before the refused frame is sent again, when it did. */
function retryAfter(refusal: Refusal | undefined): number | undefined {
  return refusal?.retry_after_ms === undefined ? undefined : Number(refusal.retry_after_ms);
}

/** Why a room's title cannot be that, or `null`. */
function checkTitle(title: string): string | null {
  if (!title) return 'Give the room a title.';
  if ([...title].length > MAX_TITLE_CHARS) return `A title has at most ${MAX_TITLE_CHARS} characters.`;
  return null;
}

/** Why a room's topic cannot be that, or `null`. */
function checkTopic(topic: string): string | null {
  if ([...topic].length > MAX_TOPIC_CHARS) return `A topic has at most ${MAX_TOPIC_CHARS} characters.`;
  return null;
}

const ALREADY_SIGNED_IN: AccountProblem = {
  code: 'signed_in',
  field: null,
  message: 'You are signed in already. Sign out first.',
};
const NOT_SIGNED_IN: AccountProblem = { code: 'unauthorized', field: null, message: 'You are not signed in.' };

/** What a change is, in the words of a failure ("Couldn't edit the message"). */
const CHANGE_VERBS = { edit: 'edit', delete: 'delete', react: 'react to' } as const;

export interface ChatClientOptions {
  /** The WebSocket endpoint (`ws://host/v1/chat/ws`). */
  wsUrl: string;
  /** Each person's local store (the guest's, each account's): the browser has `BrowserStores`. */
  stores?: LocalStores;
  /** One store shared by everyone instead (tests); memory when neither is given. */
  store?: LocalStore;
  prefs: KeyValue;
  /** The HTTP API; defaults to the page's own origin. */
  api?: HistoryApi;
  /** The account API; defaults to the page's own origin. */
  accounts?: AccountsApi;
  /** The rooms API (private rooms, direct messages, members); defaults to the page's own origin. */
  rooms?: RoomsApi;
  /** The search API (`GET /v1/search`); defaults to the page's own origin. */
  search?: SearchApi;
  /** The files API (`POST /v1/files`, the files' URLs); defaults to the page's own origin. */
  files?: FilesApi;
  /** Object URLs for the composer's previews of images being uploaded; the page's `URL` by default. */
  objectUrls?: ObjectUrls;
  WebSocket?: typeof WebSocket;
  backoff?: BackoffOptions;
  /**
   * How the client reaches the server: a `Connection` of its own when left out
   * (tests); in a browser, its view of the connection the tabs share
   * (`shared/browser.ts`). Given the options a `Connection` would take.
   */
  transport?: (options: ConnectionOptions) => Transport;
  /** Liveness, a connect timeout and `/healthz` probes for a `Connection` of its own (`BROWSER_CONNECTION`). */
  connection?: Pick<ConnectionOptions, 'liveness' | 'connectTimeoutMs' | 'probeIntervalMs' | 'probeTimeoutMs'>;
  /**
   * The waits between automatic resends of what the server refused for a reason
   * that may pass, when it does not say how long. Default 1 s, doubling to 30 s.
   */
  retryBackoff?: BackoffOptions;
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
  timeline: Timeline;
  epoch: number;
  hasMoreBefore: boolean;
  loadingOlder: boolean;
  loadingLatest: boolean;
  readSeq: number | null;
  presence: PresenceUser[];
  typing: RoomTyping;
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
  /** `readSeq` is a first visit's guess (everything loaded counts as read), not a read. */
  readSeqGuessed: boolean;
  /** The watermark the server has (from `joined`, `receipt` or our `read`). */
  serverReadSeq: number;
  lastReadSentAt: number;
  /** A `read` held back to keep to one per second (protocol.md §12). */
  readTimer: ReturnType<typeof setTimeout> | null;
  persistTimer: ReturnType<typeof setTimeout> | null;
  /** Others' read watermarks (receipts this session). */
  receipts: RoomReceipts;
  /**
   * The watermark this visit of the open room started from: messages by others
   * after it get the "New messages" line. `null` while unknown.
   */
  divider: number | null;
  /** The visit started before the room was joined: the first `joined`'s `read_seq` sets `divider`. */
  dividerPending: boolean;
  /** Per room event (by id), the title and topic before it, as known when it arrived: its notice tells a rename from a new topic. */
  roomBefore: Map<string, RoomProfileSeen>;
  /** The message the room was opened at (`openMessage`), while it is open. */
  jump: Jump | null;
  view: RoomView | null;
}

/** A message jumped to, and the stretch around it when the live timeline does not hold it. */
interface Jump {
  target: JumpTarget;
  /** Which jump it is (`JumpView.token`). */
  token: number;
  /** `null`: the live timeline holds the message (or the window met it). */
  window: MessageWindow | null;
}

export interface ChatEvents extends Record<string, unknown> {
  change: ChatSnapshot;
  /**
   * The server took you out of `room` (after the `change` that shows it):
   * `next` is the room to show instead, as `leaveRoom` returns it, or `null`
   * when none is left. A page showing `room` goes there.
   */
  removed: { room: string; next: string | null };
}

export class ChatClient extends Emitter<ChatEvents> {
  private readonly opts: Required<
    Pick<ChatClientOptions, 'typingIntervalMs' | 'typingShowMs' | 'cacheSize' | 'pageSize'>
  > &
    ChatClientOptions;
  private readonly api: HistoryApi;
  private readonly accounts: AccountsApi;
  private readonly roomsApi: RoomsApi;
  private readonly searchApi: SearchApi;
  private readonly filesApi: FilesApi;
  private readonly stores: LocalStores;
  private readonly connection: Transport;
  // Everything from here to `myRooms` is the principal's: made anew when it changes (`adopt`).
  private principal: Principal;
  /** Bumped when the principal changes: work begun for the one before is dropped. */
  private principalGen = 0;
  private store: LocalStore;
  private rooms = new Map<string, RoomState>();
  private outbox: Outbox;
  /** The files of the messages being written, per room (uploading, uploaded, refused). */
  private draftFiles: DraftFiles;
  /** Resends of outbox entries refused for a reason that may pass. */
  private retries: RetrySchedule;
  private caches = new Map<string, RoomCache>();
  private messageViews = new StoredMessageViews();
  private identity: Identity;
  private limits: WireLimits = DEFAULT_LIMITS;
  private myRooms: string[];
  private currentRoom: string | null = null;
  private directory: RoomSummary[] = [];
  private directoryHasMore = false;
  /** What each room known is, its title and your role (`roomMeta`). */
  private metas = new Map<string, RoomMeta>();
  private metaSnapshot: Record<string, RoomMeta> | null = null;
  /** The members of the rooms they were asked for (`roomMembers`). */
  private members = new Map<string, RoomMembersView>();
  private membersSnapshot: Record<string, RoomMembersView> | null = null;
  /** Rooms whose members are being read, and whether to read them again after. */
  private readonly membersLoading = new Map<string, { again: boolean }>();
  private readonly membersTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Rooms you are leaving as a member (`leaveMembership`): their `left` is no removal to tell of. */
  private leaving = new Set<string>();
  /**
   * Rooms the server took you out of, or would not let you in, this visit: a
   * directory read before it may still list them, and they are not joined again
   * for it. Opening one again, or being added to it, takes it off.
   */
  private gone = new Set<string>();
  private directoryTimer: ReturnType<typeof setTimeout> | null = null;
  private notice: Notice | null = null;
  private noticeSeq = 0;
  private ready = false;
  private readyPromise: Promise<void>;
  /** `GET /v1/me` has answered (or could not): `principal` is not last visit's guess any more. */
  private accountChecked = false;
  /** Why the client is a guest again, when the server signed it out; until dismissed. */
  private signedOut: string | null = null;
  /** Rooms the server took the principal out of (`left`); until dismissed, or opened again. */
  private removals: readonly Removal[] = [];
  /** Set while the principal is being let go of: the snapshot waits for the next one. */
  private quiet = false;
  private connectionGen = 0;
  private started = false;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  /** Jumps to a message so far (`JumpView.token`). */
  private jumps = 0;
  /** Joins waiting to be sent again after a `rate_limited` refusal. */
  private readonly joinRetries = new Set<ReturnType<typeof setTimeout>>();
  private snapshot: ChatSnapshot;
  private readonly onBrowserOnline = () => this.connection.reconnectNow();

  constructor(options: ChatClientOptions) {
    super();
    this.opts = { typingIntervalMs: 2000, typingShowMs: 4000, cacheSize: 200, pageSize: 50, ...options };
    this.api = options.api ?? new HistoryApi();
    this.accounts = options.accounts ?? new AccountsApi();
    this.roomsApi = options.rooms ?? new RoomsApi();
    this.searchApi = options.search ?? new SearchApi();
    this.filesApi = options.files ?? new FilesApi();
    this.stores = options.stores ?? new SingleStore(options.store ?? new MemoryStore());
    // Last visit's principal until `GET /v1/me` says: nothing is read before it does.
    const remembered = loadAccount(options.prefs);
    this.principal = remembered ? { kind: 'account', account: remembered } : GUEST;
    this.store = this.stores.open(ownerOf(this.principal));
    this.outbox = new Outbox(this.store);
    this.draftFiles = this.newDraftFiles();
    this.retries = this.newRetries();
    this.identity = identityOf(this.principal, loadIdentity(options.prefs));
    this.myRooms = this.loadRooms();
    for (const room of this.myRooms) this.rooms.set(room, this.newRoom(room));
    const connection: ConnectionOptions = {
      url: options.wsUrl,
      credentials: () => credentialsOf(this.principal, this.identity),
      probe: () => this.api.reachable(),
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...options.connection,
    };
    this.connection = options.transport ? options.transport(connection) : new Connection(connection);
    this.connection.on('status', (status) => this.onStatus(status));
    this.connection.on('shared', (ops) => this.onShared(ops));
    this.connection.on('frame', (frame) => this.onFrame(frame));
    this.connection.on('tokenRejected', () => this.onCredentialsRefused());
    this.connection.on('revoked', ({ reason }) => this.onRevoked(reason));
    this.snapshot = this.buildSnapshot();
    this.readyPromise = this.init();
  }

  // ---- reading -------------------------------------------------------------

  /** The current state; a new object after every change, the same one otherwise. */
  getSnapshot = (): ChatSnapshot => this.snapshot;

  /** Calls `listener` after every change; returns a function that stops it. */
  subscribe = (listener: () => void): (() => void) => this.on('change', listener);

  /** Resolves once it is known who the client is, and their local cache has been read. */
  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  // ---- lifecycle -------------------------------------------------------------

  /** Connects (after the local cache is read) and stays connected until `stop`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (typeof window !== 'undefined') window.addEventListener('online', this.onBrowserOnline);
    this.connectWhenReady();
  }

  stop(): void {
    this.started = false;
    if (typeof window !== 'undefined') window.removeEventListener('online', this.onBrowserOnline);
    this.halt();
  }

  /** Stops the connection and every timer and resend; what is kept stays as it is. */
  private halt(): void {
    this.connection.stop();
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    for (const timer of this.joinRetries) clearTimeout(timer);
    this.joinRetries.clear();
    if (this.directoryTimer) clearTimeout(this.directoryTimer);
    this.directoryTimer = null;
    for (const timer of this.membersTimers.values()) clearTimeout(timer);
    this.membersTimers.clear();
    this.retries.pause();
    for (const state of this.rooms.values()) {
      if (state.readTimer) clearTimeout(state.readTimer);
      state.readTimer = null;
    }
  }

  /** Skips the backoff wait. */
  reconnectNow(): void {
    this.connection.reconnectNow();
  }

  // ---- identity --------------------------------------------------------------

  /**
   * Sets a guest's display name, for this connection now and for every later
   * one. An account's name is its profile's: `renameAccount`.
   */
  setName(input: string): { ok: true } | { ok: false; reason: string } {
    // The server refuses `profile` from an account (`forbidden`): it renames accounts itself.
    if (this.principal.kind === 'account') return { ok: false, reason: 'Change your name on your account page.' };
    const checked = checkDisplayName(input);
    if (!checked.ok) return checked;
    this.identity = { ...this.identity, name: checked.name };
    saveIdentity(this.opts.prefs, this.identity);
    this.connection.send({ type: 'profile', name: checked.name });
    this.commit();
    return { ok: true };
  }

  // ---- accounts --------------------------------------------------------------

  /**
   * Creates an account and signs in to it. A guest's token goes with it: the
   * account keeps the guest's user id, so what the guest posted stays its own,
   * and so do its cache, drafts and unsent messages here. Returns what went
   * wrong, for the form, or `null` once signed in.
   */
  async register(input: { email: string; password: string; name: string }): Promise<AccountProblem | null> {
    if (this.principal.kind === 'account') return ALREADY_SIGNED_IN;
    const guest = this.identity;
    const checked = checkDisplayName(input.name);
    if (!checked.ok) return { code: 'invalid_request', field: 'name', message: checked.reason };
    let account: Account;
    try {
      const res = await this.accounts.register({
        email: input.email.trim(),
        password: input.password,
        name: checked.name,
        ...(guest.token ? { guest_token: guest.token } : {}),
      });
      account = accountOf(res);
    } catch (e) {
      return describeAccountError(e);
    }
    await this.signedIn(account, Boolean(guest.token) && guest.userId === account.userId);
    return null;
  }

  /** Signs in to an account. The guest stays as it was, for after signing out. */
  async signIn(input: { email: string; password: string }): Promise<AccountProblem | null> {
    if (this.principal.kind === 'account') return ALREADY_SIGNED_IN;
    let account: Account;
    try {
      account = accountOf(await this.accounts.login({ email: input.email.trim(), password: input.password }));
    } catch (e) {
      return describeAccountError(e);
    }
    await this.signedIn(account, false);
    return null;
  }

  /**
   * Signs out (the server revokes this session) and goes on as the guest. With
   * `forget`, this browser's copy of the account — cached messages, drafts,
   * unsent messages, its room list — is deleted too.
   */
  async signOut(options: { forget: boolean }): Promise<AccountProblem | null> {
    const principal = this.principal;
    if (principal.kind !== 'account') return null;
    const gen = this.principalGen;
    // Closed first: the server closes this session's sockets (4001), which is not "signed out elsewhere".
    this.connection.stop();
    try {
      await this.accounts.logout();
    } catch (e) {
      // A 401: the session was over already, which is what was asked.
      if (!(e instanceof ApiError && e.status === 401)) {
        if (gen === this.principalGen) this.connectWhenReady();
        return describeAccountError(e);
      }
    }
    if (gen !== this.principalGen) return null;
    await this.leaveAccount(principal.account, options.forget, null);
    return null;
  }

  /** Renames the account (`PATCH /v1/me`); the server tells everyone, live connections included. */
  async renameAccount(input: string): Promise<AccountProblem | null> {
    if (this.principal.kind !== 'account') return NOT_SIGNED_IN;
    const checked = checkDisplayName(input);
    if (!checked.ok) return { code: 'invalid_request', field: 'name', message: checked.reason };
    const gen = this.principalGen;
    try {
      const me = await this.accounts.updateMe({ name: checked.name });
      if (gen === this.principalGen) this.refreshAccount(me);
      return null;
    } catch (e) {
      this.checkSessionAfter(e);
      return describeAccountError(e);
    }
  }

  /** The devices signed in to the account (`GET /v1/me/sessions`). Throws `ApiError`. */
  async devices(): Promise<DeviceSession[]> {
    try {
      return await this.accounts.sessions();
    } catch (e) {
      this.checkSessionAfter(e);
      throw e;
    }
  }

  /**
   * Signs device session `id` out; its sockets close with 4001. One that is
   * gone already (404) is what was asked. Revoking this device's own session
   * is signing out: its socket closes, and the client goes on as the guest.
   */
  async revokeDevice(id: string): Promise<AccountProblem | null> {
    if (this.principal.kind !== 'account') return NOT_SIGNED_IN;
    try {
      await this.accounts.revokeSession(id);
      return null;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      this.checkSessionAfter(e);
      return describeAccountError(e);
    }
  }

  /** Hides the "You were signed out" notice. */
  dismissSignedOut(): void {
    if (this.signedOut === null) return;
    this.signedOut = null;
    this.commit();
  }

  /** Hides the "You were removed from #room" notice of `room`. */
  dismissRemoval(room: string): void {
    if (!this.removals.some((r) => r.room === room)) return;
    this.removals = this.removals.filter((r) => r.room !== room);
    this.commit();
  }

  // ---- rooms ----------------------------------------------------------------

  /** Shows `room`: adds it to the sidebar and joins it if needed, and marks it read. */
  openRoom(room: string): boolean {
    if (!isValidRoomName(room)) return false;
    const state = this.ensureRoom(room);
    if (this.currentRoom !== room) {
      // The room shown before opens at its latest messages next time.
      const before = this.currentRoom === null ? undefined : this.rooms.get(this.currentRoom);
      if (before?.jump) {
        before.jump = null;
        this.touch(before);
      }
      // A new visit: what was unread before it is marked, where the reading starts.
      state.divider = state.readSeqGuessed ? null : state.readSeq;
      state.dividerPending = !state.joined;
      this.touch(state);
    }
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
    this.dropRoom(state);
    this.commit();
    return this.nextRoom();
  }

  /** Reads the next older page of `room`. */
  async loadOlder(room: string): Promise<void> {
    const state = this.rooms.get(room);
    const window = state?.jump?.window;
    if (state && window) return this.loadWindowOlder(state, window);
    if (!state || !state.hasMoreBefore || state.loadingOlder || state.timeline.size === 0) return;
    const lowest = state.timeline.lowestSeq();
    if (lowest === undefined) return;
    const gen = state.generation;
    state.loadingOlder = true;
    this.touch(state);
    this.commit();
    try {
      const page = await this.api.messages({ room, beforeSeq: lowest, limit: this.opts.pageSize });
      if (gen !== state.generation || !this.isLive(state)) return;
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
    const jump = state.jump;
    const window = jump?.window;
    if (jump && window?.error) {
      window.error = null;
      if (window.messages().length === 0) {
        // The first pages failed: read them again.
        window.loading = true;
        this.enqueue(state, () => this.readAround(state, jump.token));
      }
      this.touch(state);
      this.commit();
      return;
    }
    state.error = null;
    this.touch(state);
    this.enqueue(state, () => this.catchUp(state, state.head));
    this.commit();
  }

  // ---- search, and opening a room at a message ---------------------------------------

  /** A search box's searches (`GET /v1/search`, asked as you type): `dispose` it when the box closes. */
  createSearch(options?: SearchSessionOptions): SearchSession {
    return new SearchSession(this.searchApi, options);
  }

  /**
   * Opens `room` at message `target` (a search result): the room is shown —
   * added to your rooms and joined if need be — with the message in view and
   * marked (`RoomView.jump`). A message the live timeline holds is scrolled
   * to; an older one is shown with the messages around it, read into a window
   * apart from the timeline (window.ts): `loadOlder` and `loadNewer` read it
   * further, and once it meets the latest messages it joins them. Resolves
   * when the message is shown, or could not be read (`RoomView.error`).
   */
  async openMessage(room: string, target: JumpTarget): Promise<void> {
    if (!this.openRoom(room)) return;
    const state = this.rooms.get(room);
    if (!state) return;
    this.jumps += 1;
    const token = this.jumps;
    const held = state.timeline.hasId(target.id);
    state.jump = { target, token, window: held ? null : new MessageWindow(target) };
    this.touch(state);
    this.commit();
    if (held) return;
    // After the history reads of the room before it (a room new to you reads its latest page first).
    this.enqueue(state, () => this.readAround(state, token));
    await state.queue;
  }

  /** Reads the next newer page of the window around a message jumped to, in `room`. */
  async loadNewer(room: string): Promise<void> {
    const state = this.rooms.get(room);
    const window = state?.jump?.window;
    if (!state || !window || window.loading || window.loadingNewer) return;
    const query = window.newerQuery(room, this.opts.pageSize);
    if (!query) {
      if (this.settleWindow(state)) {
        this.touch(state);
        this.commit();
      }
      return;
    }
    const gen = state.generation;
    window.loadingNewer = true;
    this.touch(state);
    this.commit();
    try {
      const page = await this.api.messages(query);
      if (!this.windowIsCurrent(state, window, gen)) return;
      window.takeNewer(page);
      this.settleWindow(state);
    } catch (e) {
      if (this.windowIsCurrent(state, window, gen)) window.error = describeApiError(e);
    } finally {
      window.loadingNewer = false;
      this.touch(state);
      this.commit();
    }
  }

  /** Shows `room`'s latest messages again, after a jump to an older one. */
  jumpToLatest(room: string): void {
    const state = this.rooms.get(room);
    if (!state?.jump) return;
    state.jump = null;
    this.touch(state);
    this.commit();
  }

  /** The first pages of the window around the message of jump `token`: the message, and those either side. */
  private async readAround(state: RoomState, token: number): Promise<void> {
    const jump = state.jump;
    const window = jump?.window;
    if (!jump || !window || jump.token !== token || !this.isLive(state)) return;
    if (state.timeline.hasId(jump.target.id)) {
      // The latest page, read meanwhile, holds it after all.
      jump.window = null;
      this.touch(state);
      this.commit();
      return;
    }
    const gen = state.generation;
    const { before, after } = aroundQueries(state.name, jump.target.seq, this.opts.pageSize);
    try {
      const [older, newer] = await Promise.all([this.api.messages(before), this.api.messages(after)]);
      if (!this.windowIsCurrent(state, window, gen)) return;
      window.takeAround(older, newer);
      this.settleWindow(state);
    } catch (e) {
      if (!this.windowIsCurrent(state, window, gen)) return;
      window.loading = false;
      window.error = describeApiError(e);
    }
    this.touch(state);
    this.commit();
  }

  /** The window whose pages `readAround` or `loadOlder`/`loadNewer` read is still the one shown. */
  private windowIsCurrent(state: RoomState, window: MessageWindow, gen: number): boolean {
    return this.isLive(state) && state.generation === gen && state.jump?.window === window;
  }

  /**
   * Nothing lies between the window and the live timeline any more: the
   * window's older messages join the timeline (as an older page would), and
   * the room is one list again, still at the message. Returns whether it did.
   */
  private settleWindow(state: RoomState): boolean {
    const jump = state.jump;
    const window = jump?.window;
    if (!jump || !window || state.timeline.contiguousSeq === null) return false;
    const lowest = state.timeline.lowestSeq();
    if (lowest === undefined || !window.meets(lowest)) return false;
    const older = window.below(lowest);
    jump.window = null;
    if (older.length > 0) {
      this.addMessages(state, older);
      state.hasMoreBefore = window.hasMoreBefore;
    }
    return true;
  }

  private async loadWindowOlder(state: RoomState, window: MessageWindow): Promise<void> {
    if (window.loading || window.loadingOlder) return;
    const query = window.olderQuery(state.name, this.opts.pageSize);
    if (!query) return;
    const gen = state.generation;
    window.loadingOlder = true;
    this.touch(state);
    this.commit();
    try {
      const page = await this.api.messages(query);
      if (!this.windowIsCurrent(state, window, gen)) return;
      window.takeOlder(page);
    } catch (e) {
      if (this.windowIsCurrent(state, window, gen)) window.error = describeApiError(e);
    } finally {
      window.loadingOlder = false;
      this.touch(state);
      this.commit();
    }
  }

  /**
   * A room appeared or changed (`room`, protocol.md §4).
   *
   * `created`: a public room got its first message. It goes into the
   * directory at once, as the newest room, without asking the server: every
   * client hears the same frame, and a page of `/v1/rooms` from each would be
   * a stampede. The next refresh brings the server's own figures for it.
   *
   * `added`: you were added to a room (you created it, were invited, or
   * someone opened a direct conversation with you). Only you are told: it
   * goes into your rooms at once, and the directory is read for what it is.
   *
   * `renamed`: a public room's title or topic changed. Everyone is told, so
   * each client reads the directory again at a random moment of a few seconds.
   */
  private onRoom(frame: ServerFrameOf<'room'>): void {
    const room = frame.room;
    if (frame.change === 'added') {
      if (!isValidRoomName(room)) return;
      this.gone.delete(room);
      this.leaving.delete(room);
      // Most likely new, and small: read from its start, so its first notices show.
      if (!this.rooms.has(room) && this.myRooms.length < this.limits.max_rooms) this.ensureRoom(room, true);
      void this.refreshDirectory();
      return;
    }
    if (frame.change === 'renamed') {
      this.scheduleDirectoryRefresh(Math.floor((this.opts.random ?? Math.random)() * RENAMED_SPREAD_MS));
      return;
    }
    if (this.directory.some((r) => r.name === room)) return;
    const created: RoomSummary = {
      name: room,
      online: 0,
      last_seq: 1,
      epoch: 0,
      last_message_at: new Date(this.now()).toISOString(),
      visibility: 'public',
      topic: '',
    };
    this.directory = [created, ...this.directory];
  }

  private scheduleDirectoryRefresh(delayMs: number): void {
    if (this.directoryTimer) return;
    this.directoryTimer = setTimeout(() => {
      this.directoryTimer = null;
      void this.refreshDirectory();
    }, delayMs);
  }

  /**
   * Refreshes the directory of rooms (`GET /v1/rooms`): its first page only,
   * which is all the sidebar and the home page show; `directoryHasMore` says
   * the server has more. It lists your private and direct rooms too: those
   * not in your list yet (made on another device, or while you were away) are
   * added and joined.
   */
  async refreshDirectory(): Promise<void> {
    const gen = this.principalGen;
    try {
      const list = await this.api.rooms({ limit: DIRECTORY_PAGE });
      if (gen !== this.principalGen) return;
      this.directory = list.rooms.filter((r) => !this.gone.has(r.name) && !this.leaving.has(r.name));
      this.directoryHasMore = list.has_more;
      for (const summary of this.directory) this.setMeta(metaOf(summary));
      for (const summary of this.directory) {
        if (metaOf(summary).visibility === 'public' || this.rooms.has(summary.name)) continue;
        if (this.myRooms.length >= this.limits.max_rooms) break;
        this.ensureRoom(summary.name, summary.last_seq <= FROM_START_MAX);
      }
      this.commit();
    } catch {
      // The directory is a convenience; the sidebar works without it.
    }
  }

  // ---- rooms with members ------------------------------------------------------

  /** Your role in `room`, when you are a member of it. */
  roleIn(room: string): Role | null {
    return this.metas.get(room)?.role ?? null;
  }

  /**
   * The accounts this client has seen — online in your rooms, writing in them,
   * their members, the other person of a direct room — but you: who a new
   * private room can be made with. By name.
   */
  knownPeople(): Person[] {
    const seen = new Map<string, string>();
    for (const state of this.rooms.values()) {
      for (const m of state.timeline.messages()) if (kindOf(m) === 'account') seen.set(m.user_id, m.name);
      for (const u of state.presence) if (kindOf(u) === 'account') seen.set(u.user_id, u.name);
    }
    for (const view of this.members.values()) for (const m of view.members) seen.set(m.user_id, m.name);
    for (const meta of this.metas.values()) if (meta.peer) seen.set(meta.peer.user_id, meta.peer.name);
    if (this.identity.userId) seen.delete(this.identity.userId);
    return [...seen]
      .map(([user_id, name]) => ({ user_id, name }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.user_id.localeCompare(b.user_id));
  }

  /**
   * Creates a private room (you its owner) with `members` (user ids of
   * accounts) in it, and adds it to your rooms. Only for an account.
   */
  async createPrivateRoom(input: {
    title: string;
    topic?: string;
    members?: readonly string[];
  }): Promise<RoomResult<{ room: string }>> {
    if (this.principal.kind !== 'account') return { ok: false, error: 'Sign in to create a private room.' };
    const title = input.title.trim();
    const topic = (input.topic ?? '').trim();
    const problem = checkTitle(title) ?? checkTopic(topic);
    if (problem) return { ok: false, error: problem };
    const me = this.identity.userId;
    const members = [...new Set(input.members ?? [])].filter((id) => id !== me);
    if (members.length > MAX_INITIAL_MEMBERS) {
      return { ok: false, error: `A room can be created with at most ${MAX_INITIAL_MEMBERS} members.` };
    }
    return this.roomCall(
      () => this.roomsApi.createPrivateRoom({ title, ...(topic ? { topic } : {}), members }),
      (summary) => ({ room: this.adoptRoom(summary) }),
    );
  }

  /** Opens your direct conversation with `userId` (the one you have, or a new one) and adds it to your rooms. */
  async openDirect(userId: string): Promise<RoomResult<{ room: string }>> {
    if (this.principal.kind !== 'account') return { ok: false, error: 'Sign in to send direct messages.' };
    if (userId === this.identity.userId) return { ok: false, error: 'That is you.' };
    const known = [...this.metas.values()].find((m) => m.visibility === 'direct' && m.peer?.user_id === userId);
    if (known && this.rooms.has(known.name)) return { ok: true, room: known.name };
    const result = await this.roomCall(
      () => this.roomsApi.openDirect(userId),
      (summary) => ({ room: this.adoptRoom(summary) }),
    );
    if (!result.ok) {
      this.showNotice(`Couldn't open the conversation. ${result.error}`);
      this.commit();
    }
    return result;
  }

  /** The account called `name` (exactly, case aside), to add to a room. */
  async lookupUser(name: string): Promise<RoomResult<{ user: Person }>> {
    const wanted = name.trim();
    if (!wanted) return { ok: false, error: 'Enter a name.' };
    if (this.principal.kind !== 'account') return { ok: false, error: 'Sign in to look people up.' };
    return this.roomCall(
      () => this.roomsApi.lookupUser(wanted),
      (user): RoomResult<{ user: Person }> =>
        user ? { ok: true, user } : { ok: false, error: `Nobody has an account called “${wanted}”.` },
    );
  }

  /** Reads the members of `room` (and who is banned, for its moderators) into `roomMembers`. */
  async loadRoomDetails(room: string): Promise<void> {
    const running = this.membersLoading.get(room);
    if (running) {
      running.again = true;
      return;
    }
    const gen = this.principalGen;
    const mark = { again: false };
    this.membersLoading.set(room, mark);
    const before = this.members.get(room);
    this.setMembers(room, {
      members: before?.members ?? [],
      banned: before?.banned ?? null,
      loading: true,
      error: null,
    });
    this.commit();
    try {
      const details = await this.roomsApi.room(room);
      if (gen !== this.principalGen) return;
      this.setMeta(metaOf(details.room));
      this.setMembers(room, {
        members: details.members,
        banned: details.banned ?? null,
        loading: false,
        error: null,
      });
    } catch (e) {
      if (gen !== this.principalGen) return;
      const kept = this.members.get(room);
      this.setMembers(room, {
        members: kept?.members ?? [],
        banned: kept?.banned ?? null,
        loading: false,
        error: describeRoomError(e, this.nameOf()),
      });
    } finally {
      if (this.membersLoading.get(room) === mark) this.membersLoading.delete(room);
    }
    this.commit();
    if (mark.again) await this.loadRoomDetails(room);
  }

  /** Adds `userId` to `room` (owners and moderators). Returns why not, or `null`. */
  inviteMember(room: string, userId: string): Promise<string | null> {
    return this.memberCall(room, () => this.roomsApi.invite(room, userId));
  }

  /** Takes `userId` out of `room` (owners and moderators), saying why if `reason`. */
  removeMember(room: string, userId: string, reason?: string): Promise<string | null> {
    const why = reason?.trim();
    return this.memberCall(room, () => this.roomsApi.removeMember(room, userId, why || undefined));
  }

  /** Bans `userId` from `room` (which takes them out too). */
  banMember(room: string, userId: string, reason?: string): Promise<string | null> {
    const why = reason?.trim();
    return this.memberCall(room, () => this.roomsApi.ban(room, userId, why || undefined));
  }

  /** Lets `userId` back into `room`'s reach (they are not added: invite them after). */
  unbanMember(room: string, userId: string): Promise<string | null> {
    return this.memberCall(room, () => this.roomsApi.unban(room, userId));
  }

  /** Gives `userId` `role` in `room` (owners only). */
  setMemberRole(room: string, userId: string, role: Role): Promise<string | null> {
    return this.memberCall(room, () => this.roomsApi.setRole(room, userId, role));
  }

  /** Sets `room`'s title and/or topic (owners and moderators). Returns why not, or `null`. */
  async updateRoom(room: string, change: RoomChangeRequest): Promise<string | null> {
    const request: RoomChangeRequest = {};
    if (change.title !== undefined) request.title = change.title.trim();
    if (change.topic !== undefined) request.topic = change.topic.trim();
    const problem =
      (request.title !== undefined ? checkTitle(request.title) : null) ??
      (request.topic !== undefined ? checkTopic(request.topic) : null);
    if (problem) return problem;
    const gen = this.principalGen;
    const result = await this.roomCall(
      () => this.roomsApi.updateRoom(room, request),
      () => ({}),
    );
    if (!result.ok) return result.error;
    if (gen === this.principalGen) {
      const meta = this.metas.get(room) ?? guessMeta(room);
      this.setMeta({
        ...meta,
        ...(request.title !== undefined ? { title: request.title || null } : {}),
        ...(request.topic !== undefined ? { topic: request.topic } : {}),
      });
      this.commit();
    }
    return null;
  }

  /**
   * Leaves `room` as a member (`DELETE …/members/<you>`): you are out of it for
   * good, until someone adds you again; it goes from your rooms. Returns the
   * room to show next. The last owner cannot leave while others remain, and a
   * direct room cannot be left: the server says so.
   */
  async leaveMembership(room: string): Promise<RoomResult<{ next: string | null }>> {
    const me = this.identity.userId;
    if (this.principal.kind !== 'account' || !me) return { ok: false, error: 'Sign in to leave a room.' };
    const gen = this.principalGen;
    this.leaving.add(room);
    try {
      await this.roomsApi.removeMember(room, me);
    } catch (e) {
      this.leaving.delete(room);
      this.checkSessionAfter(e);
      return { ok: false, error: describeRoomError(e, this.nameOf()) };
    }
    if (gen !== this.principalGen) return { ok: true, next: null };
    const state = this.rooms.get(room);
    // The server took every connection of yours out already: a `leave` now would only be refused.
    if (state) this.dropRoom(state);
    this.forgetMembership(room);
    this.leaving.delete(room);
    this.commit();
    return { ok: true, next: this.nextRoom() };
  }

  /** Runs a request of the rooms API: its answer made into a result, or why it failed, for people. */
  private async roomCall<A, T extends object>(
    request: () => Promise<A>,
    then: (answer: A) => T | RoomResult<T>,
  ): Promise<RoomResult<T>> {
    const gen = this.principalGen;
    let answer: A;
    try {
      answer = await request();
    } catch (e) {
      this.checkSessionAfter(e);
      return { ok: false, error: describeRoomError(e, this.nameOf()) };
    }
    if (gen !== this.principalGen) return { ok: false, error: 'You signed in or out meanwhile.' };
    const result = then(answer);
    return 'ok' in result ? (result as RoomResult<T>) : { ok: true, ...result };
  }

  /** A change to a room's members; its members are read again after it (the event also says so). */
  private async memberCall(room: string, request: () => Promise<unknown>): Promise<string | null> {
    const result = await this.roomCall(request, () => ({}));
    if (!result.ok) return result.error;
    void this.loadRoomDetails(room);
    return null;
  }

  /** Names of user ids as far as known, for the details of a refusal. */
  private nameOf(): (userId: string) => string | undefined {
    const names = new Map(this.knownPeople().map((p) => [p.user_id, p.name]));
    return (userId) => names.get(userId);
  }

  /** A room you created or opened: in the directory, its meta known, in your rooms. Returns its name. */
  private adoptRoom(summary: RoomSummary): string {
    const room = summary.name;
    this.gone.delete(room);
    this.directory = [summary, ...this.directory.filter((r) => r.name !== room)];
    this.setMeta(metaOf(summary));
    this.ensureRoom(room, summary.last_seq <= FROM_START_MAX);
    this.commit();
    return room;
  }

  /** You are no member of `room` any more: what was known of it as one goes (a public room stays in the directory). */
  private forgetMembership(room: string): void {
    this.gone.add(room);
    const meta = this.metas.get(room);
    if (meta && meta.visibility !== 'public') {
      this.metas.delete(room);
      this.metaSnapshot = null;
      this.directory = this.directory.filter((r) => r.name !== room);
    } else if (meta?.role) {
      this.setMeta({ ...meta, role: null });
    }
    if (this.members.delete(room)) this.membersSnapshot = null;
  }

  private setMeta(meta: RoomMeta): void {
    const before = this.metas.get(meta.name);
    if (before && sameMeta(before, meta)) return;
    this.metas.set(meta.name, meta);
    this.metaSnapshot = null;
  }

  private setMembers(room: string, view: RoomMembersView): void {
    this.members.set(room, view);
    this.membersSnapshot = null;
  }

  /**
   * Member and room events of `room` (live or replayed, in seq order): the
   * room's title and topic, and your role, as they leave them; its members, if
   * shown, are read again.
   */
  private onNoticeEvents(room: string, events: readonly RoomEvent[]): void {
    const me = this.identity.userId;
    let membersChanged = false;
    const state = this.rooms.get(room);
    for (const event of events) {
      if (event.kind === 'room') {
        const known = this.metas.get(room);
        if (known && state && !state.roomBefore.has(event.id) && state.roomBefore.size < 200) {
          state.roomBefore.set(event.id, { title: known.title, topic: known.topic });
        }
        const meta = known ?? guessMeta(room);
        this.setMeta({ ...meta, title: event.title?.trim() ? event.title : null, topic: event.topic });
      } else if (event.kind === 'member') {
        membersChanged = true;
        if (me !== null && event.member === me && event.role !== undefined) {
          const meta = this.metas.get(room) ?? guessMeta(room);
          this.setMeta({ ...meta, role: event.role });
        }
      }
    }
    if (membersChanged && this.members.has(room)) this.scheduleMembersRefresh(room);
  }

  private scheduleMembersRefresh(room: string): void {
    const timer = this.membersTimers.get(room);
    if (timer) clearTimeout(timer);
    this.membersTimers.set(
      room,
      setTimeout(() => {
        this.membersTimers.delete(room);
        if (this.members.has(room)) void this.loadRoomDetails(room);
      }, MEMBERS_REFRESH_MS),
    );
  }

  /**
   * The server will not let you into `room` (a private room you are not a
   * member of, or banned from): it goes from your rooms as if taken away, and
   * a notice over the page says why, in the server's words.
   */
  private refuseRoom(state: RoomState, message: string): void {
    const room = state.name;
    const meta = this.metas.get(room) ?? guessMeta(room);
    const label = meta.title
      ? meta.title
      : meta.visibility === 'private'
        ? 'this private room'
        : meta.visibility === 'direct'
          ? 'this conversation'
          : `#${room}`;
    this.dropRoom(state);
    this.forgetMembership(room);
    const removal: Removal = { room, text: describeRoomRefusal(label, message) };
    this.removals = [...this.removals.filter((r) => r.room !== room), removal];
    this.commit();
    this.emit('removed', { room, next: this.nextRoom() });
  }

  // ---- composing ---------------------------------------------------------------

  setDraft(room: string, text: string): void {
    const state = this.rooms.get(room);
    if (!state || state.draft === text) return;
    state.draft = text;
    this.saveDraft(state);
    this.touch(state);
    this.commit();
  }

  /**
   * Attaches `files` to the message being written in `room` (picked, pasted or
   * dropped): each uploads at once, with its progress in `RoomView.draftFiles`,
   * and is kept with the draft once uploaded. At most 10 per message. Returns
   * why some or all could not be attached, for people, or `null`.
   */
  attachFiles(room: string, files: readonly Blob[]): string | null {
    const state = this.rooms.get(room);
    if (!state) return 'Open the room first.';
    if (files.length === 0) return null;
    // A guest uploads with its token: a first visit has none until the server gives it one.
    if (this.principal.kind === 'guest' && !this.identity.token) {
      return 'Files can be attached once you are connected.';
    }
    return this.draftFiles.add(room, files);
  }

  /** Takes file `key` out of the message being written in `room`; an upload under way is cancelled. */
  removeFile(room: string, key: string): void {
    this.draftFiles.remove(room, key);
  }

  /** Uploads file `key` of `room`'s message again, after a refusal that may pass (no answer, the rate limit). */
  retryFile(room: string, key: string): void {
    this.draftFiles.retry(room, key);
  }

  /**
   * Resolves once none of the files of `room`'s message is uploading (at
   * once when none is), with why they cannot be sent, if so (one refused): a
   * message sent while its files upload goes when this resolves.
   */
  filesSettled(room: string): Promise<Settled> {
    return this.draftFiles.settled(room);
  }

  /** Tells the room you are typing, at most once per `typingIntervalMs`. */
  notifyTyping(room: string): void {
    const state = this.rooms.get(room);
    if (!state || !state.joined) return;
    const now = this.now();
    if (!typingDue(state.lastTypingSentAt, now, this.opts.typingIntervalMs)) return;
    if (this.connection.send({ type: 'typing', room })) state.lastTypingSentAt = now;
  }

  /**
   * Sends `text` to `room` (as a reply to message `replyTo` of the room, if
   * given), with the files attached to the room's message (`attachFiles`),
   * which it takes: shown at once as `sending`, kept in the outbox until
   * acknowledged. With files, the text may be empty. Returns why it cannot be
   * sent (files still uploading or refused among them), or `null` when it is
   * on its way.
   */
  send(room: string, text: string, options: { replyTo?: string | null } = {}): string | null {
    const content = text.trim();
    const filesProblem = this.draftFiles.check(room);
    if (filesProblem) return filesProblem;
    const attachments = this.draftFiles.uploaded(room);
    const problem = this.checkContent(content, attachments.length > 0);
    if (problem) return problem;
    if (!isValidRoomName(room)) return 'Not a room.';
    const state = this.ensureRoom(room);
    const clientId = (this.opts.newClientId ?? newClientId)();
    const entry = newEntry(
      clientId,
      room,
      content,
      new Date(this.now()).toISOString(),
      options.replyTo ?? undefined,
      attachments,
    );
    this.outbox.add(entry);
    // Every tab shows it as sending (and can send it again if this one goes mid-send).
    this.connection.share?.({ op: 'add', record: recordOf(entry) });
    this.transmit([entry]);
    // The message took the composer's files.
    this.draftFiles.clear(room);
    // Answering the room is having read it: the "New messages" line has done its job.
    if (state.divider !== null) state.divider = null;
    // What you send goes at the end: the room shows its latest messages again, yours among them.
    state.jump = null;
    this.touch(state);
    this.commit();
    return null;
  }

  /** Replaces the text of your message `id` in `room`. Returns why not, or `null` when it is on its way. */
  edit(room: string, id: string, text: string): string | null {
    const content = text.trim();
    const problem = this.checkContent(content);
    if (problem) return problem;
    const shown = this.ownShown(room, id);
    if (typeof shown === 'string') return shown;
    if (shown.content === content) return null; // nothing to change
    return this.change(room, { kind: 'edit', target: id, content });
  }

  /**
   * Deletes message `id` in `room` (the server keeps a tombstone): your own,
   * or anyone's where you are an owner or a moderator. Returns why not, or `null`.
   */
  deleteMessage(room: string, id: string): string | null {
    const state = this.rooms.get(room);
    const stored = state && this.held(state, id);
    if (!state || !stored) return 'That message is not loaded.';
    const me = this.identity.userId;
    const own = me !== null && stored.user_id === me;
    if (!own && !canManage(this.roleIn(room))) return 'Only its author or a moderator can delete a message.';
    if (this.shown(state, stored).deleted) return 'That message was deleted.';
    return this.change(room, { kind: 'delete', target: id });
  }

  /** Adds (`on`) or takes back your reaction `emoji` to message `id` in `room`. Returns why not, or `null`. */
  react(room: string, id: string, emoji: string, on: boolean): string | null {
    if (!isValidEmoji(emoji)) return 'Not a reaction.';
    const state = this.rooms.get(room);
    const stored = state && this.held(state, id);
    if (!state || !stored) return 'That message is not loaded.';
    const shown = this.shown(state, stored);
    if (shown.deleted) return 'That message was deleted.';
    const me = this.identity.userId;
    const mine = me !== null && Boolean(shown.reactions?.find((r) => r.emoji === emoji)?.users.includes(me));
    if (mine === on) return null; // already so
    return this.change(room, { kind: 'react', target: id, emoji, on });
  }

  /**
   * Sends a failed message (or change) again at once, with the same
   * `client_id`; a resend it was waiting for is off, and its backoff starts over.
   */
  retry(clientId: string): void {
    if (this.outbox.get(clientId)?.state !== 'failed') return;
    this.retries.forget(clientId);
    this.connection.share?.({ op: 'retry', clientId });
    this.resend([clientId]);
  }

  /** Drops a failed message from the outbox; a failed change is rolled back. */
  discard(clientId: string): void {
    const entry = this.outbox.discard(clientId);
    if (!entry) return;
    this.retries.forget(clientId);
    this.connection.share?.({ op: 'discard', clientId });
    this.touchRoom(entry.room);
    this.commit();
  }

  dismissNotice(): void {
    if (!this.notice) return;
    this.notice = null;
    this.commit();
  }

  private checkContent(content: string, withFiles = false): string | null {
    if (!content) return withFiles ? null : 'The message is empty.';
    const max = this.limits.max_content_chars;
    if (contentLength(content) > max) return `A message has at most ${max} characters.`;
    return null;
  }

  /** Your message `id` as shown (pending changes applied), or why it cannot be changed. */
  private ownShown(room: string, id: string): Message | string {
    const state = this.rooms.get(room);
    const stored = state && this.held(state, id);
    if (!state || !stored) return 'That message is not loaded.';
    const me = this.identity.userId;
    if (!me || stored.user_id !== me) return 'Only its author can change a message.';
    const shown = this.shown(state, stored);
    if (shown.deleted) return 'That message was deleted.';
    return shown;
  }

  /** Stored message `id` of the room, from its live timeline or the window around a message jumped to. */
  private held(state: RoomState, id: string): Message | undefined {
    return state.timeline.byId(id) ?? state.jump?.window?.byId(id);
  }

  /** A stored message with your pending changes laid over it. */
  private shown(state: RoomState, stored: Message): Message {
    const changes = this.outbox.changesIn(state.name).get(stored.id);
    return changes ? withChanges(stored, changes, this.identity.userId) : stored;
  }

  /** Puts a change in the outbox (shown at once) and sends it if the room is joined. */
  private change(room: string, request: ChangeRequest): null {
    const clientId = (this.opts.newClientId ?? newClientId)();
    const entry = newChange(clientId, room, request, new Date(this.now()).toISOString());
    this.outbox.add(entry);
    this.connection.share?.({ op: 'add', record: recordOf(entry) });
    this.transmit([entry]);
    this.touchRoom(room);
    this.commit();
    return null;
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

  /**
   * What another tab did to the outbox (a shared connection, `transport.ts`):
   * a message or change written there shows here as sending, and is settled
   * here by its ack and its arrival like one of this tab's; that tab sends it
   * (and after a reconnect, every tab does, which the hub lets through once).
   */
  private onShared(ops: readonly ShareOp[]): void {
    const me = this.identity.userId;
    for (const op of ops) {
      if (op.op === 'add') {
        const record = op.record;
        if (this.outbox.has(record.client_id)) continue;
        const state = this.rooms.get(record.room);
        // Stored already (its message is here): nothing is pending any more.
        if (
          !record.kind &&
          state?.timeline.messages().some((m) => m.client_id === record.client_id && m.user_id === me)
        ) {
          continue;
        }
        const entry = entryFromRecord(record);
        // Sent by the tab that wrote it, on this connection.
        entry.sentOn = this.connectionGen;
        this.outbox.add(entry, false);
        this.touchRoom(record.room);
      } else if (op.op === 'retry') {
        if (this.outbox.get(op.clientId)?.state !== 'failed') continue;
        this.retries.forget(op.clientId);
        const entry = this.outbox.retry(op.clientId);
        if (!entry) continue;
        entry.sentOn = this.connectionGen;
        this.touchRoom(entry.room);
      } else {
        const entry = this.outbox.discard(op.clientId);
        if (!entry) continue;
        this.retries.forget(op.clientId);
        this.touchRoom(entry.room);
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
      case 'ack':
        this.onChangeAck(frame);
        break;
      case 'messages':
        this.onMessages(frame);
        break;
      case 'events':
        this.onEvents(frame);
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
      case 'presence_changes': {
        const state = this.rooms.get(frame.room);
        if (state) {
          state.presence = applyPresenceChanges(state.presence, frame.joined, frame.left);
          this.touch(state);
        }
        break;
      }
      case 'typing':
        this.onTyping(frame);
        break;
      case 'receipt':
        this.onReceipt(frame);
        break;
      case 'left':
        this.onLeft(frame);
        break;
      case 'room':
        this.onRoom(frame);
        break;
      case 'error': {
        const refusal = frame as Refusal;
        if (this.retryRefusedJoin(refusal) || this.refusedJoin(refusal)) break;
        this.showNotice(describeRefusal(refusal));
        break;
      }
    }
    this.commit();
  }

  private onWelcome(frame: ServerFrameOf<'welcome'>): void {
    this.connectionGen += 1;
    if (this.identity.userId !== frame.user_id) {
      // A new identity (first visit, or the old token was refused): "own" changes.
      for (const state of this.rooms.values()) this.touch(state);
    }
    if (this.principal.kind === 'guest') {
      this.identity = { ...this.identity, userId: frame.user_id, token: frame.token };
      saveIdentity(this.opts.prefs, this.identity);
    } else {
      // Signed in, `token` is empty: the cookie is the credential, and nothing is kept.
      this.identity = { ...this.identity, userId: frame.user_id, token: null };
    }
    this.limits = { ...DEFAULT_LIMITS, ...frame.limits };
    for (const room of this.myRooms) {
      const state = this.rooms.get(room);
      if (state) this.sendJoin(state);
    }
    // What was refused for a reason that may pass and fell due offline goes too.
    this.retries.resume();
    this.transmit([...this.outbox.values()].filter((e) => e.state === 'sending'));
    void this.refreshDirectory();
  }

  /**
   * A `join` refused by the rate of join/leave/profile frames (a reconnect with
   * more rooms than its burst, docs/protocol.md §10) is sent again when the
   * server says it may pass. Returns whether the refusal was such a join.
   */
  private retryRefusedJoin(refusal: Refusal): boolean {
    if (refusal.code !== 'rate_limited' || !refusal.room) return false;
    const room = refusal.room;
    const state = this.rooms.get(room);
    if (!state || state.joined || !this.myRooms.includes(room)) return false;
    const gen = this.connectionGen;
    const timer = setTimeout(
      () => {
        this.joinRetries.delete(timer);
        const now = this.rooms.get(room);
        // Only on the same connection: a new one joins every room anyway.
        if (now && !now.joined && this.connectionGen === gen && this.started) this.sendJoin(now);
      },
      Math.max(1, Number(refusal.retry_after_ms ?? 1000)),
    );
    this.joinRetries.add(timer);
    return true;
  }

  /**
   * A `join` refused for good (`forbidden`: a private room you are not a
   * member of, or one that does not exist): the room goes, with why. Returns
   * whether the refusal was such a join.
   */
  private refusedJoin(refusal: Refusal): boolean {
    if (refusal.code !== 'forbidden' || !refusal.room) return false;
    const state = this.rooms.get(refusal.room);
    if (!state || state.joined) return false;
    this.refuseRoom(state, refusal.message);
    return true;
  }

  private sendJoin(state: RoomState): void {
    const frame: ClientFrameOf<'join'> = { type: 'join', room: state.name };
    if (state.timeline.contiguousSeq !== null) {
      frame.since_seq = state.timeline.contiguousSeq;
      if (state.epoch) frame.epoch = state.epoch;
    }
    this.connection.send(frame);
  }

  private onJoined(frame: ServerFrameOf<'joined'>): void {
    const state = this.rooms.get(frame.room);
    if (!state) return;
    state.joined = true;
    state.head = frame.seq;
    if (state.dividerPending) {
      // The server's watermark from before this visit: the line goes after it.
      state.dividerPending = false;
      if (this.currentRoom === state.name && frame.read_seq !== undefined) {
        state.divider = Math.max(state.divider ?? 0, frame.read_seq);
      }
    }
    // Read state is the server's, the same on every device: a watermark
    // another device moved past ours is ours too.
    this.adoptServerRead(state, frame.read_seq ?? 0);
    this.touch(state);
    this.sendRead(state);
    const next = afterJoined(
      { contiguousSeq: state.timeline.contiguousSeq, epoch: state.epoch },
      { recovered: frame.recovered, seq: frame.seq, epoch: frame.epoch },
    );
    if (next.action === 'catch-up' && next.reset) this.resetRoom(state);
    // Without a replay the events missed are missed: those held for messages not loaded may be stale.
    if (next.action === 'catch-up') state.timeline.forgetOrphans();
    state.epoch = next.epoch;
    if (next.action === 'catch-up') {
      const head = next.head;
      this.enqueue(state, () => this.catchUp(state, head));
    }
    // A change may only be sent to a joined room: what waited goes now.
    this.transmit([...this.outbox.values()].filter((e) => e.room === state.name && e.kind && e.state === 'sending'));
  }

  /** Another device of ours read further: so did we. Someone else did: your messages show it. */
  private onReceipt(frame: ServerFrameOf<'receipt'>): void {
    const state = this.rooms.get(frame.room);
    if (!state) return;
    if (frame.user_id === this.identity.userId) this.adoptServerRead(state, frame.seq);
    else if (state.receipts.update(frame.user_id, frame.seq)) this.touch(state);
  }

  /**
   * The server took this user out of a room (the application evicted them):
   * nothing more of it follows, so it is dropped as if left — out of the list,
   * and so not joined again on a reconnect (a `join` now would only ask to be
   * let back in) — and a notice says why until dismissed. A `left` for a room
   * the client has no more (left meanwhile) changes nothing.
   */
  private onLeft(frame: ServerFrameOf<'left'>): void {
    const state = this.rooms.get(frame.room);
    if (!state) return;
    const label = roomReference(frame.room, this.metas.get(frame.room));
    const own = this.leaving.has(frame.room);
    this.dropRoom(state);
    this.forgetMembership(frame.room);
    // You left it yourself (`leaveMembership`): nothing to tell; the page moves on by itself.
    if (own) return;
    const removal: Removal = { room: frame.room, text: describeRemoval(frame.room, frame.reason, label) };
    this.removals = [...this.removals.filter((r) => r.room !== frame.room), removal];
    this.commit();
    this.emit('removed', { room: frame.room, next: this.nextRoom() });
  }

  private adoptServerRead(state: RoomState, seq: number): void {
    state.serverReadSeq = Math.max(state.serverReadSeq, seq);
    if (seq > 0 && (state.readSeq === null || state.readSeqGuessed || seq > state.readSeq)) {
      state.readSeq = seq;
      state.readSeqGuessed = false;
      this.touch(state);
      this.schedulePersist(state);
    }
  }

  /** Tells the server how far the user has read: at once, or at most once a second. */
  private sendRead(state: RoomState): void {
    // A guess is not a read: only what the user was shown is sent.
    if (state.readTimer || state.readSeqGuessed || state.readSeq === null || state.readSeq <= state.serverReadSeq) {
      return;
    }
    const wait = state.lastReadSentAt + READ_INTERVAL_MS - this.now();
    if (wait > 0) {
      state.readTimer = setTimeout(() => {
        state.readTimer = null;
        this.sendRead(state);
      }, wait);
      return;
    }
    if (!state.joined) return; // sent after the next `joined`, which carries the server's
    const seq = state.readSeq;
    if (this.connection.send({ type: 'read', room: state.name, seq })) {
      state.serverReadSeq = seq;
      state.lastReadSentAt = this.now();
    }
  }

  private onMessages(frame: ServerFrameOf<'messages'>): void {
    const state = this.rooms.get(frame.room);
    if (!state) return;
    this.addMessages(state, frame.data);
  }

  private onAck(frame: ServerFrameOf<'message_ids'>): void {
    const retryable = isRetryable(frame.error);
    const refused: string[] = [];
    frame.client_ids.forEach((clientId, i) => {
      if (!clientId) return;
      const entry = this.outbox.get(clientId);
      if (!entry) return;
      const state = this.rooms.get(entry.room);
      if (frame.status === 'success') {
        const id = frame.message_ids[i] ?? null;
        this.retries.forget(clientId);
        this.outbox.acknowledge(entry, id, Boolean(id && state?.timeline.hasId(id)));
      } else {
        const why = frame.error ? describeRefusal(frame.error) : 'The server refused the message.';
        this.outbox.refuse(entry, why, retryable);
        if (retryable) refused.push(clientId);
        else this.retries.forget(clientId);
      }
      this.touchRoom(entry.room);
    });
    // The batch was refused as one: it goes again as one.
    this.retries.refused(refused, retryAfter(frame.error));
  }

  /**
   * Edits, deletes and reactions, live or replayed: applied to the messages
   * they change. Member and room events become notices, and say what the room
   * is now.
   */
  private onEvents(frame: ServerFrameOf<'events'>): void {
    const state = this.rooms.get(frame.room);
    if (!state || frame.data.length === 0) return;
    const notices = frame.data.filter(isNoticeEvent);
    if (notices.length) this.onNoticeEvents(state.name, notices);
    const changed = state.timeline.applyEvents(frame.data);
    // The messages of a window around a message jumped to change too.
    const inWindow = state.jump?.window?.applyEvents(frame.data, (id) => state.timeline.hasId(id)) ?? false;
    this.settleEvents(state, frame.data);
    if (inWindow) this.touch(state);
    if (!changed) return;
    if (this.currentRoom === state.name) this.markRead(state);
    this.touch(state);
    this.schedulePersist(state);
  }

  /** Your own changes came back stored: their optimistic copies are done. */
  private settleEvents(state: RoomState, events: readonly RoomEvent[]): void {
    const me = this.identity.userId;
    for (const event of events) {
      if (me && event.user_id === me && event.client_id) this.outbox.settleChange(event.client_id);
    }
    if (state.timeline.contiguousSeq !== null) this.outbox.settleCovered(state.name, state.timeline.contiguousSeq);
  }

  /** The answer to an `edit`, `delete` or `react`. */
  private onChangeAck(frame: ServerFrameOf<'ack'>): void {
    const entry = this.outbox.get(frame.client_id);
    if (!entry || !isChange(entry)) return;
    const state = this.rooms.get(entry.room);
    if (frame.status === 'success') {
      const seq = frame.seq ?? null;
      // Shown already, or never to be: its message is not held, so no event will settle it.
      const shown = seq !== null && (!state || state.timeline.hasSeen(seq) || !this.held(state, entry.target));
      this.retries.forget(entry.client_id);
      this.outbox.acknowledgeChange(entry, seq, shown);
    } else if (frame.error && isRetryable(frame.error)) {
      // Kept, still shown, with a retry (by hand or by itself): the same change may pass later.
      this.outbox.refuse(entry, describeRefusal(frame.error), true);
      this.retries.refused([entry.client_id], retryAfter(frame.error));
    } else {
      // Refused for good (not yours, gone, malformed): roll it back and say why.
      this.retries.forget(entry.client_id);
      this.outbox.remove(entry);
      const why = frame.error ? ` ${describeRefusal(frame.error)}` : '';
      this.showNotice(`Couldn't ${CHANGE_VERBS[entry.kind]} the message.${why}`);
    }
    this.touchRoom(entry.room);
  }

  private onTyping(frame: ServerFrameOf<'typing'>): void {
    if (frame.user_id === this.identity.userId) return;
    const state = this.rooms.get(frame.room);
    if (!state) return;
    const user = { userId: frame.user_id, name: frame.name, principal: kindOf(frame) };
    state.typing.show(user, this.now() + this.opts.typingShowMs);
    this.touch(state);
    this.scheduleTypingSweep();
  }

  private scheduleTypingSweep(): void {
    let next = Infinity;
    for (const state of this.rooms.values()) next = Math.min(next, state.typing.nextExpiry());
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    if (next === Infinity) return;
    this.typingTimer = setTimeout(
      () => {
        this.typingTimer = null;
        const now = this.now();
        for (const state of this.rooms.values()) if (state.typing.expire(now)) this.touch(state);
        this.commit();
        this.scheduleTypingSweep();
      },
      Math.max(0, next - this.now()),
    );
  }

  private forgetToken(): void {
    if (this.principal.kind !== 'guest' || !this.identity.token) return;
    this.identity = { ...this.identity, token: null };
    saveIdentity(this.opts.prefs, this.identity);
    this.commit();
  }

  /**
   * Sends failed entries again, with their `client_id`s: by hand (`retry`) or
   * when their wait is over (`retries`). Those no longer failed are skipped: sent
   * again already, settled or undone — so none is ever in flight twice.
   */
  private resend(clientIds: readonly string[]): void {
    const entries: OutboxEntry[] = [];
    for (const clientId of clientIds) {
      const entry = this.outbox.retry(clientId);
      if (entry) entries.push(entry);
      else if (!this.outbox.has(clientId)) this.retries.forget(clientId);
    }
    if (entries.length === 0) return;
    this.transmit(entries);
    for (const entry of entries) this.touchRoom(entry.room);
    this.commit();
  }

  /**
   * Sends entries not yet sent on this connection: messages in batches of at
   * most `max_batch`, changes one frame each once their room is joined (the
   * server refuses a change to a room the connection has not joined).
   */
  private transmit(entries: OutboxEntry[]): void {
    if (!this.connection.isOnline) return;
    for (const batch of batchesToSend(entries, this.connectionGen, this.limits)) {
      const sent = this.connection.send({
        type: 'messages',
        data: batch.map(draftOf),
      });
      if (!sent) return;
      for (const e of batch) e.sentOn = this.connectionGen;
    }
    for (const entry of entries) {
      if (!isChange(entry) || entry.sentOn === this.connectionGen || entry.state !== 'sending') continue;
      if (!this.rooms.get(entry.room)?.joined) continue; // sent on `joined`
      if (!this.connection.send(changeFrame(entry))) return;
      entry.sentOn = this.connectionGen;
    }
  }

  // ---- history ---------------------------------------------------------------------

  private enqueue(state: RoomState, op: () => Promise<void>): void {
    state.queue = state.queue.then(op).catch(() => {});
  }

  /** After `joined` without recovery: read what is missing up to `head`. */
  private async catchUp(state: RoomState, head: number): Promise<void> {
    if (!this.isLive(state)) return;
    const step = catchUpStep(state.timeline.contiguousSeq, head);
    if (step === 'load-latest') await this.loadLatest(state);
    else if (step === 'fill-forward') await this.fillForward(state, head);
  }

  private async loadLatest(state: RoomState): Promise<void> {
    if (state.timeline.contiguousSeq !== null) return;
    const gen = state.generation;
    state.loadingLatest = true;
    this.touch(state);
    this.commit();
    try {
      const page = await this.api.messages({ room: state.name, limit: this.opts.pageSize });
      if (gen !== state.generation || !this.isLive(state)) return;
      state.error = null;
      const last = page.data.at(-1)?.seq ?? 0;
      state.timeline.holdUpTo(last);
      state.hasMoreBefore = page.has_more;
      this.addMessages(state, page.data);
      if (state.readSeq === null) {
        state.readSeq = state.timeline.contiguousSeq;
        state.readSeqGuessed = true;
      }
    } catch (e) {
      // A private room you are not in: its history is not yours to read, nor is the room.
      if (e instanceof ApiError && e.status === 403 && this.isLive(state)) {
        this.refuseRoom(state, e.message);
        return;
      }
      if (gen === state.generation) state.error = describeApiError(e);
    } finally {
      state.loadingLatest = false;
      this.touch(state);
      this.commit();
    }
  }

  private async fillForward(state: RoomState, head: number): Promise<void> {
    const gen = state.generation;
    const held = state.timeline.contiguousSeq;
    try {
      while (state.timeline.contiguousSeq !== null && state.timeline.contiguousSeq < head) {
        const from = state.timeline.contiguousSeq;
        const page = await this.api.messages({ room: state.name, afterSeq: from, limit: FILL_PAGE });
        if (gen !== state.generation || !this.isLive(state)) return;
        this.addMessages(state, page.data);
        // A page holds every message after `from` up to its last; the seqs
        // between were events. The last page reaches past `head`.
        const last = page.data.at(-1)?.seq ?? from;
        state.timeline.holdUpTo(page.has_more ? last : Math.max(last, head));
        this.outbox.settleCovered(state.name, state.timeline.contiguousSeq ?? 0);
        state.error = null;
        this.touch(state);
        this.commit();
        if (!page.has_more || (state.timeline.contiguousSeq ?? 0) <= from) break;
      }
      if (held !== null) await this.refreshHeld(state, held, head);
    } catch (e) {
      if (gen === state.generation) {
        state.error = describeApiError(e);
        this.touch(state);
        this.commit();
      }
    }
  }

  /**
   * After a gap read over HTTP: the messages held before it (up to `held`) may
   * have been edited, deleted or reacted to meanwhile, and no replay said so.
   * The page of them nearest the gap is read again, in its current state.
   */
  private async refreshHeld(state: RoomState, held: number, head: number): Promise<void> {
    if (state.timeline.size === 0 || held <= 0) return;
    const gen = state.generation;
    const page = await this.api.messages({ room: state.name, beforeSeq: held + 1, limit: this.opts.pageSize });
    if (gen !== state.generation || !this.isLive(state)) return;
    if (state.timeline.refresh(page.data, head)) {
      this.touch(state);
      this.schedulePersist(state);
      this.commit();
    }
  }

  private resetRoom(state: RoomState): void {
    state.generation += 1;
    // A window read from the history before is not this history's.
    state.jump = null;
    state.receipts.clear();
    state.timeline.clear();
    state.hasMoreBefore = false;
    state.readSeq = null;
    state.readSeqGuessed = false;
    this.touch(state);
  }

  /** Adds stored messages (live, replayed or read over HTTP), dropping duplicates by seq. */
  private addMessages(state: RoomState, messages: readonly Message[]): void {
    if (messages.length === 0) return;
    const added = state.timeline.add(messages);
    if (added.length === 0) return;
    const me = this.identity.userId;
    for (const msg of added) {
      state.typing.stop(msg.user_id);
      // Your own message came back stored: its optimistic copy is done.
      if (me && msg.user_id === me) this.outbox.settle(msg.client_id, msg.id);
    }
    if (state.timeline.contiguousSeq !== null) this.outbox.settleCovered(state.name, state.timeline.contiguousSeq);
    if (this.currentRoom === state.name) this.markRead(state);
    this.touch(state);
    this.schedulePersist(state);
  }

  private markRead(state: RoomState): void {
    // Events count: an edit or reaction shown is read as much as a message.
    const top = state.timeline.latestSeq();
    if (top === undefined) return;
    if (state.readSeq === null || top > state.readSeq) {
      state.readSeq = top;
      this.touch(state);
      this.schedulePersist(state);
    }
    // The room is open: what it shows has been read, guessed or not.
    state.readSeqGuessed = false;
    this.sendRead(state);
  }

  // ---- local state -------------------------------------------------------------------

  /** Reads the principal's local cache (rooms, drafts, outbox); the network fills in the rest. */
  private async load(gen: number): Promise<void> {
    try {
      const local = await this.store.load();
      if (gen !== this.principalGen) return;
      for (const cache of local.rooms) this.caches.set(cache.room, cache);
      for (const state of this.rooms.values()) {
        this.applyCache(state);
        const draft = local.drafts[state.name];
        if (draft && !state.draft) state.draft = draft;
        const files = local.draftFiles?.[state.name];
        if (files?.length) this.draftFiles.restore(state.name, files);
      }
      for (const record of local.outbox) {
        if (this.outbox.has(record.client_id)) continue;
        if (record.kind) {
          // A change: resent on `joined`; if it was stored, the server answers the original.
          this.outbox.add(entryFromRecord(record), false);
        } else {
          const state = this.rooms.get(record.room);
          const me = this.identity.userId;
          const stored = state?.timeline.messages().some((m) => m.client_id === record.client_id && m.user_id === me);
          if (stored) {
            this.outbox.forgetRecord(record.client_id);
            continue;
          }
          this.outbox.add(entryFromRecord(record), false);
        }
        // Refused last visit for a reason that may have passed: tried again once connected.
        // (A failed change always was: one refused for good is rolled back, not kept.)
        if (record.status === 'failed' && (record.retryable || record.kind)) {
          this.retries.resendOnConnect(record.client_id);
        }
      }
    } catch {
      // Nothing cached: the network fills the page.
    }
    if (gen !== this.principalGen) return;
    this.ready = true;
    for (const state of this.rooms.values()) {
      this.touch(state);
      if (state.timeline.contiguousSeq === null) this.enqueue(state, () => this.loadLatest(state));
    }
    this.commit();
  }

  private applyCache(state: RoomState): void {
    const cache = this.caches.get(state.name);
    if (!cache || state.timeline.contiguousSeq !== null || state.timeline.size > 0) return;
    const restored = restoreRoomCache(cache);
    state.epoch = restored.epoch;
    state.readSeq = restored.readSeq;
    state.hasMoreBefore = restored.hasMoreBefore;
    state.timeline.restore(restored.messages, restored.contiguousSeq, restored.notices);
  }

  /**
   * The room's state, made (added to your rooms, its history read, joined) if
   * there is none. `fromStart`: a room new to you and small, read from its
   * first seq by the join's replay (`since_seq: 0`) rather than its latest page
   * over HTTP, which has no events: so its member and room notices ("Ada
   * created the room", "Ada added Bob") show. A large one is read as usual
   * after all (the server says it cannot replay that much).
   */
  private ensureRoom(room: string, fromStart = false): RoomState {
    let state = this.rooms.get(room);
    if (state) return state;
    state = this.newRoom(room);
    if (fromStart && !this.caches.has(room)) {
      state.timeline.holdUpTo(0);
      // Everything in it is news, until the server says how far you read.
      state.readSeq = 0;
      state.readSeqGuessed = true;
    }
    this.rooms.set(room, state);
    this.myRooms = [...this.myRooms, room];
    saveRoomList(this.opts.prefs, this.myRooms, ownerOf(this.principal));
    // Opened again, it is asking to be let back in: the notice of its removal has done its job.
    if (this.removals.some((r) => r.room === room)) this.removals = this.removals.filter((r) => r.room !== room);
    this.gone.delete(room);
    const created = state;
    if (this.ready) {
      this.applyCache(created);
      if (created.timeline.contiguousSeq === null) this.enqueue(created, () => this.loadLatest(created));
    }
    if (this.connection.isOnline) this.sendJoin(created);
    return created;
  }

  /**
   * Lets go of a room here, left or taken away: it is no room of the
   * client's any more — not in the list, not joined again on a reconnect — and
   * its cache and draft go. Tells the server nothing.
   */
  private dropRoom(state: RoomState): void {
    const room = state.name;
    if (state.persistTimer) clearTimeout(state.persistTimer);
    // A `read` held back would be refused now (`not_found`): the room is not joined any more.
    if (state.readTimer) clearTimeout(state.readTimer);
    state.persistTimer = null;
    state.readTimer = null;
    state.joined = false;
    // Changes are sent only in a joined room: those of a room left would wait forever.
    for (const entries of this.outbox.changesIn(room).values()) {
      for (const e of entries) {
        this.retries.forget(e.client_id);
        this.outbox.remove(e);
      }
    }
    this.rooms.delete(room);
    this.caches.delete(room);
    this.myRooms = this.myRooms.filter((r) => r !== room);
    saveRoomList(this.opts.prefs, this.myRooms, ownerOf(this.principal));
    void this.store.deleteRoom(room).catch(() => {});
    this.draftFiles.drop(room);
    void this.store.saveDraft(room, '').catch(() => {});
    if (this.currentRoom === room) this.currentRoom = null;
  }

  /** The room to show after one is let go of: the open one if it stays, else the first of the list. */
  private nextRoom(): string | null {
    return this.currentRoom ?? this.myRooms[0] ?? null;
  }

  private loadRooms(): string[] {
    const saved = loadRoomList(this.opts.prefs, ownerOf(this.principal));
    // The lobby is a first visit's: a list the server emptied (every room taken away) stays empty.
    if (saved?.length === 0) return [];
    const rooms = (saved ?? [LOBBY]).filter(isValidRoomName);
    return rooms.length > 0 ? rooms : [LOBBY];
  }

  /** Keeps `state`'s draft: its text and the files uploaded for it. */
  private saveDraft(state: RoomState): void {
    void this.store.saveDraft(state.name, state.draft, this.draftFiles.uploaded(state.name)).catch(() => {});
  }

  /** Where files are read: a guest's URLs carry its token, an account's cookie goes by itself. */
  private fileLinks(): FileLinks {
    return this.filesApi.links(this.principal.kind === 'guest' ? this.identity.token : null);
  }

  private newDraftFiles(): DraftFiles {
    return new DraftFiles({
      api: this.filesApi,
      links: () => this.fileLinks(),
      onChange: (room, persist) => {
        const state = this.rooms.get(room);
        if (!state) return;
        if (persist) this.saveDraft(state);
        this.touch(state);
        this.commit();
      },
      onUnauthorized: () => {
        if (this.principal.kind === 'account') void this.checkSession();
      },
      ...(this.opts.objectUrls ? { objectUrls: this.opts.objectUrls } : {}),
    });
  }

  private newRetries(): RetrySchedule {
    return new RetrySchedule({
      resend: (clientIds) => this.resend(clientIds),
      canSend: () => this.started && this.connection.isOnline,
      ...(this.opts.retryBackoff ? { backoff: this.opts.retryBackoff } : {}),
      ...(this.opts.random ? { random: this.opts.random } : {}),
    });
  }

  private newRoom(name: string): RoomState {
    return {
      name,
      timeline: new Timeline(),
      epoch: 0,
      hasMoreBefore: false,
      loadingOlder: false,
      loadingLatest: false,
      readSeq: null,
      presence: [],
      typing: new RoomTyping(),
      joined: false,
      draft: '',
      error: null,
      head: 0,
      generation: 0,
      queue: Promise.resolve(),
      lastTypingSentAt: 0,
      readSeqGuessed: false,
      serverReadSeq: 0,
      lastReadSentAt: 0,
      readTimer: null,
      persistTimer: null,
      receipts: new RoomReceipts(),
      divider: null,
      dividerPending: false,
      roomBefore: new Map(),
      jump: null,
      view: null,
    };
  }

  private schedulePersist(state: RoomState): void {
    if (state.persistTimer) return;
    state.persistTimer = setTimeout(() => {
      state.persistTimer = null;
      if (this.isLive(state)) this.persist(state);
    }, 250);
  }

  private persist(state: RoomState): void {
    const top = state.timeline.contiguousSeq;
    if (top === null) return;
    const cache = roomCacheOf(
      state.name,
      state.epoch,
      state.timeline.messages(),
      top,
      state.readSeq,
      this.opts.cacheSize,
      state.timeline.notices(),
    );
    this.caches.set(state.name, cache);
    void this.store.saveRoom(cache).catch(() => {});
  }

  /** Whether `state` is still a room of the client's (not left, nor someone else's since). */
  private isLive(state: RoomState): boolean {
    return this.rooms.get(state.name) === state;
  }

  private showNotice(text: string): void {
    this.noticeSeq += 1;
    this.notice = { id: this.noticeSeq, text };
  }

  // ---- who the client is ------------------------------------------------------------------

  /** The page's start: who the client is (`GET /v1/me`), then their local cache. */
  private async init(): Promise<void> {
    const gen = this.principalGen;
    const me = await this.askMe();
    // Signed in or out meanwhile: that switch reads its own cache.
    if (gen !== this.principalGen) return this.readyPromise;
    const next = this.nextAfterMe(me);
    if (next) this.adopt(next);
    this.accountChecked = true;
    this.commit();
    await this.load(this.principalGen);
  }

  /** `GET /v1/me`: the account, `null` for a guest, `undefined` when the server did not say (offline, too slow). */
  private async askMe(): Promise<MeResponse | null | undefined> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), ME_TIMEOUT_MS);
    try {
      return await this.accounts.me(controller.signal);
    } catch (e) {
      // A server without accounts has no /v1/me: everyone is a guest there.
      return e instanceof ApiError && e.status === 404 ? null : undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * What an answer of `GET /v1/me` makes of the principal: `null` when it
   * stays (an account refreshed: renamed elsewhere), else the next one, which
   * the caller adopts. An account that is answered with a 401 has been signed
   * out (the session expired, or was revoked while this page was away): it says so.
   */
  private nextAfterMe(me: MeResponse | null | undefined): Principal | null {
    const next = principalAfterMe(this.principal, me);
    if (samePrincipal(next, this.principal)) {
      if (me) this.refreshAccount(me);
      return null;
    }
    if (this.principal.kind === 'account') this.signedOut = describeSignedOut(null);
    saveAccount(this.opts.prefs, next.kind === 'account' ? next.account : null);
    return next;
  }

  /** The account as the server has it now (renamed here, or on another device). */
  private refreshAccount(me: MeResponse): void {
    if (this.principal.kind !== 'account' || this.principal.account.userId !== me.user_id) return;
    const account = accountOf(me);
    this.principal = { kind: 'account', account };
    this.identity = { ...this.identity, name: account.name };
    saveAccount(this.opts.prefs, account);
    this.commit();
  }

  /**
   * Signed in (or up) as `account`: it becomes the principal. `keepsGuest`: the
   * guest became the account (same user id), so its rooms and its copy here go
   * with it, and there is no guest left to come back to.
   */
  private signedIn(account: Account, keepsGuest: boolean): Promise<void> {
    const prefs = this.opts.prefs;
    saveAccount(prefs, account);
    this.signedOut = null;
    this.accountChecked = true;
    const next: Principal = { kind: 'account', account };
    if (!keepsGuest) return this.switchTo(next);
    if (!loadRoomList(prefs, account.userId)) saveRoomList(prefs, this.myRooms, account.userId);
    saveRoomList(prefs, null);
    clearIdentity(prefs);
    return this.switchTo(next, async (from, to) => {
      await copyLocal(from, to);
      if (from !== to) await this.stores.remove(null);
    });
  }

  /**
   * Signed out — by the user, or by the server (`notice` says so) — the guest
   * is the principal again. `forget` deletes the account's copy here.
   */
  private leaveAccount(account: Account, forget: boolean, notice: string | null): Promise<void> {
    saveAccount(this.opts.prefs, null);
    if (forget) saveRoomList(this.opts.prefs, null, account.userId);
    this.signedOut = notice;
    return this.switchTo(GUEST, forget ? () => this.stores.remove(account.userId) : undefined);
  }

  /**
   * Becomes `next` while running: adopts it, runs `prepare` with the store
   * before and the one after (a copy, a delete), reads `next`'s local cache and
   * connects as `next` if started.
   */
  private switchTo(next: Principal, prepare?: (from: LocalStore, to: LocalStore) => Promise<void>): Promise<void> {
    const from = this.store;
    this.adopt(next);
    // A guest without a name (a new one) connects once it has one: the UI asks, then calls `start`.
    if (!this.identity.name) this.stop();
    const gen = this.principalGen;
    const to = this.store;
    this.readyPromise = (async () => {
      if (prepare) await prepare(from, to).catch(() => {});
      await this.load(gen);
    })();
    this.commit();
    this.connectWhenReady();
    return this.readyPromise;
  }

  /**
   * Lets go of everything of the principal before — its connection, timers,
   * rooms, outbox and store — and sets up `next`'s, not read yet (`load`).
   * No room is open until the UI opens one for `next`.
   */
  private adopt(next: Principal): void {
    // Nothing half-switched is published (stopping the connection commits): the caller commits after.
    this.quiet = true;
    try {
      this.teardown();
    } finally {
      this.quiet = false;
    }
    this.principalGen += 1;
    this.principal = next;
    this.store = this.stores.open(ownerOf(next));
    this.outbox = new Outbox(this.store);
    this.draftFiles = this.newDraftFiles();
    this.retries = this.newRetries();
    this.caches = new Map();
    this.messageViews = new StoredMessageViews();
    this.identity = identityOf(next, loadIdentity(this.opts.prefs));
    this.myRooms = this.loadRooms();
    this.rooms = new Map();
    for (const room of this.myRooms) this.rooms.set(room, this.newRoom(room));
    this.currentRoom = null;
    this.ready = false;
    this.notice = null;
    // The rooms they are about were the one before's.
    this.removals = [];
    // So was what they knew of rooms: a private room's title is its members' to see.
    this.metas = new Map();
    this.metaSnapshot = null;
    this.members = new Map();
    this.membersSnapshot = null;
    this.membersLoading.clear();
    this.leaving = new Set();
    this.gone = new Set();
    this.directory = [];
    this.directoryHasMore = false;
  }

  /** Stops what runs for the principal: the connection, timers and resends; caches due are written now. */
  private teardown(): void {
    this.halt();
    // Uploads for the one before are theirs: cancelled (what was uploaded stays in their draft).
    this.draftFiles.dispose();
    for (const state of this.rooms.values()) {
      if (state.persistTimer) {
        clearTimeout(state.persistTimer);
        state.persistTimer = null;
        this.persist(state);
      }
      // History read for it is dropped when it arrives.
      state.generation += 1;
    }
  }

  /** Connects once the local cache is read, if started and no other principal came meanwhile. */
  private connectWhenReady(): void {
    const ready = this.readyPromise;
    void ready.then(() => {
      if (this.started && ready === this.readyPromise) this.connection.start();
    });
  }

  /**
   * The WebSocket was refused before it opened (most likely a 401): a guest's
   * token is forgotten, and the next `welcome` brings a new identity; signed
   * in, the session may be over, which `GET /v1/me` tells.
   */
  private onCredentialsRefused(): void {
    if (this.principal.kind === 'guest') this.forgetToken();
    else void this.checkSession();
  }

  /** After a 401 from the account API: the session may be over. */
  private checkSessionAfter(e: unknown): void {
    if (e instanceof ApiError && e.status === 401) void this.checkSession();
  }

  /** Asks `GET /v1/me` who the client is, and becomes that: a 401 makes an account a guest again. */
  private async checkSession(): Promise<void> {
    const gen = this.principalGen;
    const me = await this.askMe();
    if (gen !== this.principalGen) return;
    const next = this.nextAfterMe(me);
    if (next) await this.switchTo(next);
  }

  /**
   * The server closed the socket with 4001: the session was revoked (signed
   * out on another device, or in another tab). The account's copy here stays:
   * it shows again only to whoever signs in to it.
   */
  private onRevoked(reason: string): void {
    const principal = this.principal;
    if (principal.kind === 'account') {
      void this.leaveAccount(principal.account, false, describeSignedOut(reason || null));
    } else {
      // Only sessions are revoked: a guest told so connects again as itself.
      this.connectWhenReady();
    }
  }

  // ---- snapshots -----------------------------------------------------------------------

  private touch(state: RoomState): void {
    state.view = null;
  }

  private touchRoom(room: string): void {
    const state = this.rooms.get(room);
    if (state) this.touch(state);
  }

  private commit(): void {
    if (this.quiet) return;
    this.snapshot = this.buildSnapshot();
    this.emit('change', this.snapshot);
  }

  private buildSnapshot(): ChatSnapshot {
    if (this.messageViews.setOwner(this.identity.userId, this.fileLinks())) {
      for (const state of this.rooms.values()) state.view = null;
    }
    const rooms: Record<string, RoomView> = {};
    for (const state of this.rooms.values()) rooms[state.name] = this.roomView(state);
    return {
      ready: this.ready,
      status: this.connection.status,
      identity: this.identity,
      account: this.principal.kind === 'account' ? this.principal.account : null,
      accountChecked: this.accountChecked,
      signedOut: this.signedOut,
      removals: this.removals,
      limits: this.limits,
      myRooms: this.myRooms,
      currentRoom: this.currentRoom,
      rooms,
      directory: this.directory,
      directoryHasMore: this.directoryHasMore,
      roomMeta: (this.metaSnapshot ??= Object.fromEntries(this.metas)),
      roomMembers: (this.membersSnapshot ??= Object.fromEntries(this.members)),
      notice: this.notice,
    };
  }

  private roomView(state: RoomState): RoomView {
    const me = this.identity.userId;
    if (state.view) return state.view;
    const live = state.timeline.messages();
    // A message jumped to that the live timeline does not hold: the room shows the window around it.
    const window = state.jump?.window ?? null;
    const stored = window ? window.messages() : live;
    const changes = this.outbox.changesIn(state.name);
    const names = namesOf(state.presence, stored);
    const ctx: MessageContext = {
      nameOf: (userId) => (userId === me ? 'You' : names(userId)),
      original: (id) => {
        const original = this.held(state, id);
        const pending = changes.get(id);
        return original && pending ? withChanges(original, pending, me) : original;
      },
      readersOf: (seq) => (state.receipts.size ? state.receipts.readersOf(seq, me) : []),
    };
    const messages: ChatMessage[] = stored.map((m) => {
      const pending = changes.get(m.id);
      const shown = pending ? withChanges(m, pending, me) : m;
      return this.messageViews.get(shown, messageExtras(shown, me, ctx, pending));
    });
    const myName = this.identity.name ?? 'You';
    const links = this.fileLinks();
    // Yours on their way go at the end, after the latest messages: not after a stretch of older ones.
    if (!window) {
      for (const entry of this.outbox.values()) {
        if (entry.room !== state.name || entry.kind) continue;
        const reply = entry.reply_to ? replyPreview(entry.reply_to, ctx) : null;
        messages.push(pendingMessageView(entry, me, myName, this.principal.kind, reply, links));
      }
    }
    const current = this.currentRoom === state.name;
    const unread = !current ? unreadCount(live, state.readSeq, me) : 0;
    const firstNew = current && !window ? firstUnread(live, state.divider, me) : null;
    const newMessagesKey = firstNew ? messageKey(firstNew, me) : null;
    let notices = this.shownNotices(state);
    if (window) {
      // Those held that happened within the window's stretch.
      const from = window.lowestSeq() ?? Infinity;
      const to = window.highestSeq() ?? -Infinity;
      notices = notices.filter((n) => n.seq >= from && n.seq <= to);
    }
    const jump = state.jump;
    const view: RoomView = {
      name: state.name,
      messages,
      notices: noticeViews(notices, me, (id) => state.roomBefore.get(id)),
      hasMoreBefore: window ? window.hasMoreBefore : state.hasMoreBefore,
      loadingOlder: window ? window.loadingOlder : state.loadingOlder,
      loading: window ? window.loading : state.loadingLatest && stored.length === 0,
      loaded: state.timeline.contiguousSeq !== null,
      presence: state.presence,
      typing: state.typing.users(),
      unread,
      newMessagesKey,
      newMessagesKnown: current && !state.dividerPending,
      joined: state.joined,
      draft: state.draft,
      draftFiles: this.draftFiles.of(state.name),
      error: window?.error ?? state.error,
      jump: jump
        ? {
            id: jump.target.id,
            seq: jump.target.seq,
            token: jump.token,
            detached: window !== null,
            hasMoreAfter: window?.hasMoreAfter ?? false,
            loadingNewer: window?.loadingNewer ?? false,
          }
        : null,
    };
    state.view = view;
    return view;
  }

  /** The notices a room shows: a direct room's beginning (made, the two of you added) says nothing worth a line. */
  private shownNotices(state: RoomState): readonly NoticeEvent[] {
    const all = state.timeline.notices();
    if (visibilityOfName(state.name) !== 'direct') return all;
    return all.filter((n) => !(n.kind === 'room' && n.created) && !(n.kind === 'member' && n.action === 'added'));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
