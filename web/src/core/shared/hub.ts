/**
 * The hub: the one WebSocket of a browser, shared by its tabs. It runs in a
 * SharedWorker (`worker.ts`), or in the tab elected leader (`election.ts`);
 * each tab is a view of it over a port (`protocol.ts`), with its own
 * `ChatClient` that sends and reads frames as it would on a socket of its own
 * (`tab.ts`). The hub makes one socket look like one per tab:
 *
 * - **Rooms.** A room is joined on the server once, for every tab that wants
 *   it. The first tab's `join` goes to the server — with the hub's own
 *   position in the room after a reconnect (it has seen every frame of the
 *   room it forwarded), else the tab's `since_seq` — and its `joined` goes to
 *   every tab that waited for it; a tab whose position is not the one the
 *   server replays from is told `recovered: false`, and reads its gap over
 *   HTTP as after any unrecovered join. A tab joining a room joined already is
 *   answered by the hub (its head, epoch, read watermark and presence). The
 *   replay after `joined` goes only to the tabs it is for; live frames to
 *   every tab in the room, and never before its `joined`. The room is left on
 *   the server when the last tab leaves it.
 * - **The outbox** (docs/protocol.md §6–7). Every `messages` draft and every
 *   change (`edit`, `delete`, `react`) is kept by `client_id` until its answer
 *   (`message_ids`, `ack`), and sent once per socket whichever tabs send it:
 *   after a reconnect every tab sends again what it has pending, and the hub
 *   lets one copy through. What is not answered within `ackTimeoutMs` is sent
 *   again (the same `client_id`: stored once) and the socket is pinged; after
 *   a reconnect the hub resends what it holds itself, so a message whose tab
 *   closed mid-send still goes. An answer goes to every tab once (each matches
 *   it by `client_id`); a second answer to a resend is dropped. What a tab
 *   writes is told to the others (`share`), and to a tab that attaches, so
 *   every tab shows it as sending, and after a hand-over to a new leader every
 *   tab can send it again.
 * - **Tabs.** A tab attaches and detaches (`pagehide`); the hub beats every
 *   `beatMs` and takes a tab silent for `tabTimeoutMs` for gone (a crashed or
 *   frozen page). When the last tab goes, the socket closes.
 *
 * - **Away** (`status`, docs/protocol.md §3, §9): the socket is away only
 *   while every tab says it is; one tab back is enough to say back.
 *
 * Answers that name no room and no `client_id` (an `error` about a `profile`,
 * say) go to the tab that sent the last frame.
 */
import { Connection, type ConnectionOptions, type ConnectionStatus, type Credentials } from '../connection';
import { changeFrame, draftOf, entryFromRecord, isChange } from '../outbox';
import { applyPresenceChanges } from '../presence';
import {
  DEFAULT_LIMITS,
  type ClientFrame,
  type ClientFrameOf,
  type Draft,
  type PresenceUser,
  type ServerFrame,
  type ServerFrameOf,
  type WireLimits,
} from '../protocol';
import type { OutboxRecord } from '../store';
import type { ShareOp } from '../transport';
import { type Channel, type HubPort, type ToHub, type ToTab } from './protocol';

export interface HubOptions {
  /** The WebSocket endpoint (`ws://host/v1/chat/ws`). */
  url: string;
  /** `GET /healthz` answers: tells a refused token from a server that is down, and when it is back. */
  probe?: () => Promise<boolean>;
  /** The connection's own options: backoff, liveness, timeouts, a fake WebSocket in tests. */
  connection?: Omit<ConnectionOptions, 'url' | 'credentials' | 'probe'>;
  /** A frame unanswered this long is sent again, and the socket pinged. Default 10 s. */
  ackTimeoutMs?: number;
  /** How often the hub beats to its tabs. Default 5 s. */
  beatMs?: number;
  /** A tab silent this long (no beat answered) is taken for gone. Default 20 s. */
  tabTimeoutMs?: number;
  now?: () => number;
}

type Timer = ReturnType<typeof setTimeout>;

/** A tab's link, as the host knows it. */
interface Link {
  readonly id: number;
  readonly port: HubPort;
  hub: Hub | null;
  heardAt: number;
}

/**
 * Takes the ports of the tabs (a SharedWorker's `connect` events, the
 * leader's followers) and puts each on the hub of its channel; beats, and
 * drops the tabs that stopped answering.
 */
export class HubHost {
  private readonly options: HubOptions;
  private readonly links = new Set<Link>();
  private readonly hubs = new Map<Channel, Hub>();
  private beatTimer: ReturnType<typeof setInterval> | null = null;
  private ids = 0;
  private disposed = false;
  /** Who the server took each socket for (`welcome`), oldest first, the last 50: for debugging. */
  private readonly welcomes: { channel: Channel; userId: string; at: number }[] = [];

  constructor(options: HubOptions) {
    this.options = options;
  }

  /** A new tab's port. */
  connect(port: HubPort): void {
    if (this.disposed) return;
    this.ids += 1;
    const link: Link = { id: this.ids, port, hub: null, heardAt: this.now() };
    this.links.add(link);
    port.listen((message) => this.onMessage(link, message));
    this.ensureBeat();
  }

  /** Lets go of everything: every socket closes (the leader's page is going away). */
  dispose(): void {
    this.disposed = true;
    for (const link of [...this.links]) this.drop(link, false);
    this.stopBeat();
  }

  /** What the hub holds, for debugging (`whisperHub.debug()` in the worker's console). */
  debug(): Record<string, unknown> {
    return {
      tabs: this.links.size,
      channels: Object.fromEntries([...this.hubs].map(([channel, hub]) => [channel, hub.debug()])),
      welcomes: [...this.welcomes],
    };
  }

  /** The hub of `channel`, if a tab is attached to it (tests). */
  hub(channel: Channel): Hub | undefined {
    return this.hubs.get(channel);
  }

  private onMessage(link: Link, message: ToHub): void {
    if (this.disposed || !this.links.has(link)) return;
    link.heardAt = this.now();
    switch (message.t) {
      case 'attach': {
        // The map holds the live hubs; one with this tab attached is among them.
        let hub = this.hubs.get(message.channel);
        if (link.hub && link.hub !== hub) link.hub.remove(link.id);
        if (!hub) {
          const channel = message.channel;
          hub = new Hub(
            channel,
            this.options,
            () => {
              if (this.hubs.get(channel) === hub) this.hubs.delete(channel);
            },
            (userId) => {
              this.welcomes.push({ channel, userId, at: this.now() });
              if (this.welcomes.length > 50) this.welcomes.shift();
            },
          );
          this.hubs.set(channel, hub);
        }
        link.hub = hub;
        post(link.port, { t: 'attached', seq: message.seq });
        hub.add(link.id, (m) => post(link.port, m), message.credentials);
        return;
      }
      case 'detach':
        link.hub?.remove(link.id);
        link.hub = null;
        return;
      case 'beat':
        return;
      default:
        if (!link.hub) {
          post(link.port, { t: 'unknown' });
          return;
        }
        link.hub.handle(link.id, message);
    }
  }

  private drop(link: Link, close = true): void {
    this.links.delete(link);
    link.hub?.remove(link.id);
    link.hub = null;
    if (close) link.port.close();
    if (this.links.size === 0) this.stopBeat();
  }

  private ensureBeat(): void {
    if (this.beatTimer !== null) return;
    const beatMs = this.options.beatMs ?? 5000;
    const timeout = this.options.tabTimeoutMs ?? 20_000;
    this.beatTimer = setInterval(() => {
      const now = this.now();
      for (const link of [...this.links]) {
        if (now - link.heardAt > timeout) this.drop(link);
        else post(link.port, { t: 'beat' });
      }
    }, beatMs);
  }

  private stopBeat(): void {
    if (this.beatTimer !== null) clearInterval(this.beatTimer);
    this.beatTimer = null;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

function post(port: HubPort, message: ToTab): void {
  try {
    port.post(message);
  } catch {
    // A port closed under us (a BroadcastChannel of a page going away): the beat drops the tab.
  }
}

/** What the hub holds of a room a tab wants. */
interface TabRoom {
  /** Sent `joined` on this socket: the room's frames go to it. */
  answered: boolean;
  /** The `since_seq` and `epoch` of the tab's `join`. */
  since: number | null;
  epoch: number;
}

/** A `join` sent to the server, waiting for its `joined`. */
interface SentJoin {
  since: number | null;
  /** The tabs waiting for it. */
  audience: Set<number>;
}

interface RoomSub {
  name: string;
  tabs: Map<number, TabRoom>;
  joins: SentJoin[];
  /** Joins sent before a `leave`: their answers (and replays) are dropped. */
  stale: number;
  /** Joined on this socket (a `joined` arrived and no `leave` went since). */
  live: boolean;
  /** The last seq of the room forwarded to the tabs: where to recover from after a reconnect. */
  head: number | null;
  epoch: number;
  readSeq: number | undefined;
  presence: PresenceUser[] | null;
  /** The tabs the replay after the last `joined` is for. */
  replayTo: Set<number>;
}

type Wire = { kind: 'draft'; draft: Draft } | { kind: 'change'; frame: ClientFrameOf<'edit' | 'delete' | 'react'> };

/** A frame with a `client_id`, until the server answers it. */
interface Pending {
  clientId: string;
  room: string;
  wire: Wire;
  /** As the tab that wrote it keeps it, to show it in the other tabs. */
  record: OutboxRecord | null;
  /** The socket it was last sent on (`-1`: none), and when. */
  sentOn: number;
  sentAt: number;
}

interface Tab {
  id: number;
  post: (message: ToTab) => void;
}

/** The hub of one channel: one connection, its rooms, its outbox, its tabs. */
export class Hub {
  readonly channel: Channel;
  private readonly options: HubOptions;
  private readonly onEmpty: () => void;
  private readonly onWelcomed: (userId: string) => void;
  private readonly connection: Connection;
  private readonly tabs = new Map<number, Tab>();
  private readonly rooms = new Map<string, RoomSub>();
  private readonly pending = new Map<string, Pending>();
  /**
   * The latest success answers, by `client_id`: a tab's copy sent after the
   * answer (it was on its way, or sent again after a reconnect) is answered
   * from here, not sent again: it is stored.
   */
  private readonly answered = new Map<string, ServerFrame>();
  private credentials: Credentials = {};
  /** The token the server gave the guest in the last `welcome`. */
  private issuedToken: string | null = null;
  private welcome: ServerFrameOf<'welcome'> | null = null;
  private limits: WireLimits = DEFAULT_LIMITS;
  /** Bumped by each `welcome`: which socket a frame was sent on. */
  private socketGen = 0;
  private lastSender: number | null = null;
  private ackTimer: Timer | null = null;
  /** The tabs that said they are away (`status`), and what this socket was told last. */
  private readonly away = new Set<number>();
  private sentAway = false;

  constructor(
    channel: Channel,
    options: HubOptions,
    onEmpty: () => void,
    onWelcomed: (userId: string) => void = () => {},
  ) {
    this.channel = channel;
    this.options = options;
    this.onEmpty = onEmpty;
    this.onWelcomed = onWelcomed;
    this.connection = new Connection({
      ...options.connection,
      url: options.url,
      credentials: () => this.credentials,
      ...(options.probe ? { probe: options.probe } : {}),
    });
    this.connection.on('status', (status) => this.onStatus(status));
    this.connection.on('frame', (frame) => this.onFrame(frame));
    this.connection.on('tokenRejected', () => {
      // Dropped here at once: the connection tries again before any tab could say.
      this.issuedToken = null;
      this.credentials = { ...this.credentials, token: null };
      this.postAll({ t: 'tokenRejected' });
    });
    this.connection.on('revoked', ({ code, reason }) => this.postAll({ t: 'revoked', code, reason }));
  }

  get status(): ConnectionStatus {
    return this.connection.status;
  }

  /** The tabs attached. */
  get size(): number {
    return this.tabs.size;
  }

  /** A tab attaches (again: what the hub knew of it is forgotten): it is told how things stand. */
  add(id: number, postTo: (message: ToTab) => void, credentials: Credentials): void {
    this.remove(id, false);
    const tab: Tab = { id, post: postTo };
    this.tabs.set(id, tab);
    this.takeCredentials(credentials);
    this.connection.start();
    tab.post({ t: 'status', status: this.connection.status });
    const records = [...this.pending.values()].flatMap((p) => (p.record ? [p.record] : []));
    if (records.length) tab.post({ t: 'shared', ops: records.map((record) => ({ op: 'add', record })) });
    // Online already: the tab starts from this socket's `welcome`, as on a socket of its own.
    if (this.welcome && this.connection.isOnline) tab.post({ t: 'frame', frame: this.welcome });
    // A tab that opens is not away: neither is the socket any more.
    this.syncAway();
  }

  /** A tab detaches, or is gone; the last one closes the socket. */
  remove(id: number, closeWhenEmpty = true): void {
    if (!this.tabs.delete(id)) return;
    for (const sub of this.rooms.values()) this.leaveTab(sub, id);
    if (this.lastSender === id) this.lastSender = null;
    this.away.delete(id);
    if (this.tabs.size === 0 && closeWhenEmpty) this.shutdown();
    else this.syncAway();
  }

  handle(id: number, message: ToHub): void {
    switch (message.t) {
      case 'frame':
        this.takeCredentials(message.credentials);
        this.lastSender = id;
        this.onTabFrame(id, message.frame);
        return;
      case 'share':
        this.onShare(id, message.op);
        return;
      case 'reconnect':
        this.connection.reconnectNow();
        return;
      case 'check':
        this.connection.checkAlive();
        return;
    }
  }

  debug(): Record<string, unknown> {
    return {
      status: this.connection.status,
      tabs: [...this.tabs.keys()],
      rooms: Object.fromEntries(
        [...this.rooms.values()].map((r) => [
          r.name,
          { live: r.live, head: r.head, epoch: r.epoch, tabs: [...r.tabs.keys()], joining: r.joins.length },
        ]),
      ),
      pending: [...this.pending.values()].map((p) => ({ client_id: p.clientId, room: p.room, sentOn: p.sentOn })),
      socket: this.socketGen,
    };
  }

  // ---- from the tabs ----------------------------------------------------------------

  private takeCredentials(credentials: Credentials): void {
    // A tab that has not seen the `welcome` yet knows no token: the one the server gave stays.
    const token = credentials.token ?? (this.channel === 'guest' ? this.issuedToken : null);
    this.credentials = { ...credentials, token: token ?? null };
  }

  private onShare(from: number, op: ShareOp): void {
    if (op.op === 'add') this.track(op.record);
    for (const tab of this.tabs.values()) if (tab.id !== from) tab.post({ t: 'shared', ops: [op] });
  }

  /** An entry a tab wrote: kept until answered, so that it is shown to tabs that attach and sent if its tab goes. */
  private track(record: OutboxRecord): void {
    const existing = this.pending.get(record.client_id);
    if (existing) {
      existing.record = record;
      return;
    }
    const entry = entryFromRecord(record);
    const wire: Wire = isChange(entry)
      ? { kind: 'change', frame: changeFrame(entry) }
      : { kind: 'draft', draft: draftOf(entry) };
    this.pending.set(record.client_id, {
      clientId: record.client_id,
      room: record.room,
      wire,
      record,
      sentOn: -1,
      sentAt: 0,
    });
  }

  private onTabFrame(id: number, frame: ClientFrame): void {
    const online = this.connection.isOnline;
    switch (frame.type) {
      case 'join':
        if (online) this.tabJoin(id, frame);
        return;
      case 'leave': {
        const sub = this.rooms.get(frame.room);
        if (sub) this.leaveTab(sub, id);
        return;
      }
      case 'messages':
        this.tabMessages(id, frame.data);
        return;
      case 'edit':
      case 'delete':
      case 'react':
        this.tabChange(id, frame);
        return;
      case 'read': {
        const sub = this.rooms.get(frame.room);
        if (!sub?.live) return;
        sub.readSeq = Math.max(sub.readSeq ?? 0, frame.seq);
        this.connection.send(frame);
        return;
      }
      case 'typing':
        if (this.rooms.get(frame.room)?.live) this.connection.send(frame);
        return;
      case 'profile':
        this.credentials = { ...this.credentials, name: frame.name };
        this.connection.send(frame);
        return;
      case 'ping':
        // The hub's connection pings by itself.
        return;
      case 'status':
        if (frame.away) this.away.add(id);
        else this.away.delete(id);
        this.syncAway();
        return;
      default:
        this.connection.send(frame);
    }
  }

  /** Drafts sent by a tab: those on this socket already are not sent again. */
  private tabMessages(id: number, drafts: readonly Draft[]): void {
    const online = this.connection.isOnline;
    const out: Draft[] = [];
    const answers = new Set<ServerFrame>();
    for (const draft of drafts) {
      const clientId = draft.client_id;
      if (!clientId) {
        out.push(draft);
        continue;
      }
      const answer = online ? this.answered.get(clientId) : undefined;
      if (answer) {
        answers.add(answer);
        continue;
      }
      const known = this.pending.get(clientId);
      if (known && known.sentOn === this.socketGen && online) continue;
      const entry: Pending = known ?? {
        clientId,
        room: draft.room ?? '',
        wire: { kind: 'draft', draft },
        record: null,
        sentOn: -1,
        sentAt: 0,
      };
      entry.wire = { kind: 'draft', draft };
      this.pending.set(clientId, entry);
      out.push(draft);
    }
    if (online && out.length) this.sendDrafts(out);
    for (const answer of answers) this.tabs.get(id)?.post({ t: 'frame', frame: answer });
  }

  private tabChange(id: number, frame: ClientFrameOf<'edit' | 'delete' | 'react'>): void {
    const online = this.connection.isOnline;
    const answer = online ? this.answered.get(frame.client_id) : undefined;
    if (answer) {
      this.tabs.get(id)?.post({ t: 'frame', frame: answer });
      return;
    }
    const known = this.pending.get(frame.client_id);
    if (known && known.sentOn === this.socketGen && online) return;
    const entry: Pending = known ?? {
      clientId: frame.client_id,
      room: frame.room,
      wire: { kind: 'change', frame },
      record: null,
      sentOn: -1,
      sentAt: 0,
    };
    entry.wire = { kind: 'change', frame };
    this.pending.set(frame.client_id, entry);
    // A change goes to a joined room only: else it waits for the room's `joined`.
    if (online && this.rooms.get(frame.room)?.live) this.sendChange(entry);
  }

  private tabJoin(id: number, frame: ClientFrameOf<'join'>): void {
    const sub = this.room(frame.room);
    this.forgetTabIn(sub, id);
    const wanted: TabRoom = { answered: false, since: frame.since_seq ?? null, epoch: frame.epoch ?? 0 };
    sub.tabs.set(id, wanted);
    if (sub.live) {
      this.answerLate(sub, id, wanted);
      return;
    }
    const last = sub.joins.at(-1);
    if (last) {
      last.audience.add(id);
      return;
    }
    // After a reconnect the hub knows where its tabs stand; else the tab does.
    const since = sub.head ?? wanted.since;
    const epoch = sub.head !== null ? sub.epoch : wanted.epoch || sub.epoch;
    const join: ClientFrameOf<'join'> = { type: 'join', room: sub.name };
    if (since !== null) {
      join.since_seq = since;
      if (epoch) join.epoch = epoch;
    }
    if (this.connection.send(join)) sub.joins.push({ since, audience: new Set([id]) });
  }

  /** A tab joins a room joined already: the hub answers for the server, from what it has seen. */
  private answerLate(sub: RoomSub, id: number, wanted: TabRoom): void {
    const tab = this.tabs.get(id);
    if (!tab) return;
    const head = sub.head ?? 0;
    const sameEpoch = epochsMatch(wanted.epoch, sub.epoch);
    let seq = head;
    let recovered = wanted.since !== null && wanted.since === head && sameEpoch;
    // A tab that read further over HTTP than the socket brought: as the server does, its seq stands.
    if (wanted.since !== null && wanted.since > head && wanted.epoch !== 0 && wanted.epoch === sub.epoch) {
      seq = wanted.since;
      recovered = true;
    }
    const joined: ServerFrameOf<'joined'> = {
      type: 'joined',
      room: sub.name,
      seq,
      epoch: sub.epoch,
      recovered,
      ...(sub.readSeq !== undefined ? { read_seq: sub.readSeq } : {}),
    };
    wanted.answered = true;
    tab.post({ t: 'frame', frame: joined });
    if (sub.presence) tab.post({ t: 'frame', frame: { type: 'presence', room: sub.name, users: sub.presence } });
  }

  /** A tab no longer wants `sub` (left it, re-joins it, or is gone): the last one leaves it on the server. */
  private leaveTab(sub: RoomSub, id: number): void {
    if (!sub.tabs.delete(id)) return;
    this.forgetTabIn(sub, id);
    if (sub.tabs.size > 0) return;
    if ((sub.live || sub.joins.length > 0) && this.connection.send({ type: 'leave', room: sub.name })) {
      sub.stale += sub.joins.length;
    }
    sub.joins = [];
    sub.live = false;
    sub.presence = null;
    sub.replayTo.clear();
    // Not followed any more: its position goes stale. A tab that wants it again says where it is.
    sub.head = null;
    sub.readSeq = undefined;
    for (const entry of [...this.pending.values()]) {
      if (entry.wire.kind === 'change' && entry.room === sub.name) this.pending.delete(entry.clientId);
    }
  }

  private forgetTabIn(sub: RoomSub, id: number): void {
    sub.replayTo.delete(id);
    for (const join of sub.joins) join.audience.delete(id);
  }

  private room(name: string): RoomSub {
    let sub = this.rooms.get(name);
    if (!sub) {
      sub = {
        name,
        tabs: new Map(),
        joins: [],
        stale: 0,
        live: false,
        head: null,
        epoch: 0,
        readSeq: undefined,
        presence: null,
        replayTo: new Set(),
      };
      this.rooms.set(name, sub);
    }
    return sub;
  }

  // ---- from the server ------------------------------------------------------------------

  private onStatus(status: ConnectionStatus): void {
    this.postAll({ t: 'status', status });
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame);
        return;
      case 'joined':
        this.onJoined(frame);
        return;
      case 'messages':
      case 'events':
        this.onLog(frame);
        return;
      case 'presence': {
        const sub = this.rooms.get(frame.room);
        if (!sub?.live) return;
        sub.presence = frame.users;
        this.postRoom(sub, frame);
        return;
      }
      case 'presence_changes': {
        const sub = this.rooms.get(frame.room);
        if (!sub?.live) return;
        if (sub.presence) sub.presence = applyPresenceChanges(sub.presence, frame.joined, frame.left);
        this.postRoom(sub, frame);
        return;
      }
      case 'receipt': {
        const sub = this.rooms.get(frame.room);
        if (!sub?.live) return;
        if (frame.user_id === this.welcome?.user_id) sub.readSeq = Math.max(sub.readSeq ?? 0, frame.seq);
        this.postRoom(sub, frame);
        return;
      }
      case 'typing': {
        const sub = this.rooms.get(frame.room);
        if (sub?.live) this.postRoom(sub, frame);
        return;
      }
      case 'left':
        this.onLeft(frame);
        return;
      case 'message_ids':
        this.onAnswer(frame.client_ids, frame, frame.status === 'success');
        return;
      case 'ack':
        this.onAnswer([frame.client_id], frame, frame.status === 'success');
        return;
      case 'error':
        this.onError(frame);
        return;
      case 'pong':
        return;
      default:
        // `room`, and whatever else is about the whole connection.
        this.postAll({ t: 'frame', frame });
    }
  }

  private onWelcome(frame: ServerFrameOf<'welcome'>): void {
    this.socketGen += 1;
    this.welcome = frame;
    this.onWelcomed(frame.user_id);
    this.limits = { ...DEFAULT_LIMITS, ...frame.limits };
    if (this.channel === 'guest' && frame.token) {
      this.issuedToken = frame.token;
      this.credentials = { ...this.credentials, token: frame.token };
    }
    // A new socket has joined nothing: every tab joins again (after this `welcome`).
    for (const sub of this.rooms.values()) {
      sub.tabs.clear();
      sub.joins = [];
      sub.stale = 0;
      sub.live = false;
      sub.presence = null;
      sub.replayTo.clear();
    }
    // A new connection is not away: it says so before any join, so that it arrives away.
    this.sentAway = false;
    this.syncAway();
    // What is unanswered goes again at once, whoever wrote it; the tabs' copies are let through once.
    const drafts = [...this.pending.values()].filter((p) => p.wire.kind === 'draft');
    if (drafts.length) this.sendDrafts(drafts.map((p) => (p.wire as { draft: Draft }).draft));
    this.postAll({ t: 'frame', frame });
  }

  private onJoined(frame: ServerFrameOf<'joined'>): void {
    const sub = this.rooms.get(frame.room);
    if (!sub) return;
    if (sub.stale > 0) {
      // The answer to a join sent before a leave: nothing of it is for anyone.
      sub.stale -= 1;
      sub.replayTo = new Set();
      return;
    }
    const join = sub.joins.shift();
    if (sub.tabs.size === 0) return;
    sub.live = true;
    sub.head = frame.seq;
    if (frame.epoch) sub.epoch = frame.epoch;
    if (frame.read_seq !== undefined) sub.readSeq = frame.read_seq;
    sub.presence = null;
    sub.replayTo = new Set();
    const audience = join?.audience ?? new Set([...sub.tabs].filter(([, t]) => !t.answered).map(([id]) => id));
    for (const id of audience) {
      const wanted = sub.tabs.get(id);
      const tab = this.tabs.get(id);
      if (!wanted || !tab) continue;
      // The replay is from the join's `since_seq`: a tab behind it reads its gap over HTTP.
      const replayed =
        frame.recovered &&
        join !== undefined &&
        join.since !== null &&
        wanted.since !== null &&
        wanted.since >= join.since &&
        wanted.since <= frame.seq &&
        epochsMatch(wanted.epoch, frame.epoch);
      wanted.answered = true;
      if (replayed) sub.replayTo.add(id);
      tab.post({ t: 'frame', frame: replayed || !frame.recovered ? frame : { ...frame, recovered: false } });
    }
    // Changes go to a joined room only: those that waited go now.
    for (const entry of this.pending.values()) {
      if (entry.room === sub.name && entry.wire.kind === 'change' && entry.sentOn !== this.socketGen) {
        this.sendChange(entry);
      }
    }
  }

  /** Messages and events: the replay to the tabs it is for, live ones to every tab in the room. */
  private onLog(frame: ServerFrameOf<'messages' | 'events'>): void {
    const sub = this.rooms.get(frame.room);
    if (!sub) return;
    if (frame.recovered) {
      for (const id of sub.replayTo) {
        if (sub.tabs.get(id)?.answered) this.tabs.get(id)?.post({ t: 'frame', frame });
      }
    } else {
      if (!sub.live) return;
      this.postRoom(sub, frame);
    }
    const last = frame.data.at(-1)?.seq;
    if (last !== undefined && sub.live) sub.head = Math.max(sub.head ?? 0, last);
  }

  private onLeft(frame: ServerFrameOf<'left'>): void {
    const sub = this.rooms.get(frame.room);
    if (!sub) return;
    for (const id of sub.tabs.keys()) this.tabs.get(id)?.post({ t: 'frame', frame });
    // The server took every connection out: no `leave` to send.
    this.rooms.delete(frame.room);
  }

  /** An answer to frames with `client_id`s: to every tab once; a second answer (to a resend) is dropped. */
  private onAnswer(clientIds: readonly (string | null)[], frame: ServerFrame, success: boolean): void {
    let answered = false;
    for (const clientId of clientIds) {
      if (!clientId) continue;
      if (this.pending.delete(clientId)) answered = true;
      // A refusal is not kept: sending it again is a retry, for the server to answer.
      if (success) this.remember(clientId, frame);
    }
    if (answered || clientIds.every((c) => !c)) this.postAll({ t: 'frame', frame });
    this.scheduleAckCheck();
  }

  private onError(frame: ServerFrameOf<'error'>): void {
    const room = frame.room;
    const sub = room ? this.rooms.get(room) : undefined;
    if (sub && frame.code !== 'not_found' && (sub.stale > 0 || sub.joins.length > 0)) {
      // A refused `join` (rate limited, forbidden, the store down): to the tabs that waited; they are not in.
      if (sub.stale > 0) {
        sub.stale -= 1;
        return;
      }
      const join = sub.joins.shift();
      for (const id of join?.audience ?? []) {
        sub.tabs.delete(id);
        this.tabs.get(id)?.post({ t: 'frame', frame });
      }
      return;
    }
    const to = this.lastSender !== null ? this.tabs.get(this.lastSender) : undefined;
    if (to) to.post({ t: 'frame', frame });
    else if (sub) this.postRoom(sub, frame);
    else this.postAll({ t: 'frame', frame });
  }

  private remember(clientId: string, frame: ServerFrame): void {
    this.answered.delete(clientId);
    this.answered.set(clientId, frame);
    // A few hundred are plenty: a copy on its way arrives within moments of the answer.
    if (this.answered.size > 500) {
      const oldest = this.answered.keys().next().value;
      if (oldest !== undefined) this.answered.delete(oldest);
    }
  }

  /** Tells the socket it is away once every tab is, and back as soon as one is not. */
  private syncAway(): void {
    const away = this.tabs.size > 0 && [...this.tabs.keys()].every((id) => this.away.has(id));
    if (away === this.sentAway || !this.connection.isOnline) return;
    if (this.connection.send({ type: 'status', away })) this.sentAway = away;
  }

  // ---- sending ----------------------------------------------------------------------

  private sendDrafts(drafts: readonly Draft[]): void {
    const size = Math.max(1, Math.min(this.limits.max_batch, this.limits.message_burst));
    const now = this.now();
    for (let i = 0; i < drafts.length; i += size) {
      const batch = drafts.slice(i, i + size);
      if (!this.connection.send({ type: 'messages', data: batch })) return;
      for (const draft of batch) {
        const entry = draft.client_id ? this.pending.get(draft.client_id) : undefined;
        if (entry) {
          entry.sentOn = this.socketGen;
          entry.sentAt = now;
        }
      }
    }
    this.scheduleAckCheck();
  }

  private sendChange(entry: Pending): void {
    if (entry.wire.kind !== 'change' || !this.connection.send(entry.wire.frame)) return;
    entry.sentOn = this.socketGen;
    entry.sentAt = this.now();
    this.scheduleAckCheck();
  }

  /** The next time a frame sent on this socket goes unanswered too long. */
  private scheduleAckCheck(): void {
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    const timeout = this.options.ackTimeoutMs ?? 10_000;
    let due = Infinity;
    for (const entry of this.pending.values()) {
      if (entry.sentOn === this.socketGen) due = Math.min(due, entry.sentAt + timeout);
    }
    if (due === Infinity) return;
    this.ackTimer = setTimeout(() => this.onAckTimeout(), Math.max(0, due - this.now()));
  }

  /**
   * Frames unanswered for `ackTimeoutMs`: sent again (the same `client_id`,
   * stored once), and the socket asked whether it is alive: if it is not, the
   * next socket sends them.
   */
  private onAckTimeout(): void {
    this.ackTimer = null;
    const timeout = this.options.ackTimeoutMs ?? 10_000;
    const now = this.now();
    const late = [...this.pending.values()].filter((p) => p.sentOn === this.socketGen && now - p.sentAt >= timeout);
    if (late.length && this.connection.isOnline) {
      this.connection.checkAlive();
      const drafts = late.flatMap((p) => (p.wire.kind === 'draft' ? [p.wire.draft] : []));
      if (drafts.length) this.sendDrafts(drafts);
      for (const entry of late) if (entry.wire.kind === 'change') this.sendChange(entry);
    }
    this.scheduleAckCheck();
  }

  // ---- tabs -------------------------------------------------------------------------

  private postRoom(sub: RoomSub, frame: ServerFrame): void {
    for (const [id, wanted] of sub.tabs) if (wanted.answered) this.tabs.get(id)?.post({ t: 'frame', frame });
  }

  private postAll(message: ToTab): void {
    for (const tab of this.tabs.values()) tab.post(message);
  }

  /** The last tab went: the socket closes, and nothing is kept (the tabs' outboxes are in IndexedDB). */
  private shutdown(): void {
    this.connection.stop();
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.rooms.clear();
    this.pending.clear();
    this.answered.clear();
    this.away.clear();
    this.sentAway = false;
    this.welcome = null;
    this.lastSender = null;
    this.onEmpty();
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/** Whether a tab's epoch and the room's agree (`0` is "unknown", and agrees with anything). */
function epochsMatch(a: number, b: number): boolean {
  return a === 0 || b === 0 || a === b;
}
