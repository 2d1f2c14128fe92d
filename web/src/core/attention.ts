/**
 * What asks for your attention while you look elsewhere: a notification (and,
 * if you want it, a short sound) for a mention of you or a direct message
 * that arrives while the tab is hidden, the tab title's count of what you have
 * not seen (`(3) #lobby · WhisperChat`, the open room's messages that arrived
 * while the tab was hidden counted in), and rooms muted so they ask for none
 * of it.
 *
 * The decisions are pure functions (`notifyReason`, `attentionCount`,
 * `documentTitle`); `Attention` applies them to the chat snapshots as they
 * come, through an `AttentionEnv` — the browser's is in `src/lib/attention-env.ts`
 * (the Notification API, WebAudio, `document.visibilityState`). Nothing here
 * asks for the notification permission by itself: `requestPermission` is for a
 * user's click.
 */
import { Emitter } from './emitter';
import type { KeyValue } from './prefs';
import type { Visibility } from './protocol';
import { roomReference, visibilityOfName, type RoomMeta } from './rooms';
import { mentions } from './text';
import type { ChatMessage, ChatSnapshot, RoomView } from './views';

/** The notification permission, or `unsupported` where the browser has no Notification API. */
export type Permission = 'default' | 'granted' | 'denied' | 'unsupported';

/** The settings kept for this browser. */
export interface AttentionPrefs {
  /** A short tone with each notification (off until turned on). */
  sound: boolean;
  /** Rooms that raise no notification or sound and count in no title. */
  muted: readonly string[];
  /** "Not now" was said to the offer to turn notifications on. */
  offerDismissed: boolean;
}

export const DEFAULT_PREFS: AttentionPrefs = { sound: false, muted: [], offerDismissed: false };

const PREFS_KEY = 'whisperchat.attention';

export function loadAttentionPrefs(kv: KeyValue): AttentionPrefs {
  try {
    const raw = JSON.parse(kv.get(PREFS_KEY) ?? 'null') as Partial<AttentionPrefs> | null;
    if (!raw || typeof raw !== 'object') return DEFAULT_PREFS;
    return {
      sound: raw.sound === true,
      muted: Array.isArray(raw.muted) ? raw.muted.filter((r): r is string => typeof r === 'string') : [],
      offerDismissed: raw.offerDismissed === true,
    };
  } catch {
    return DEFAULT_PREFS;
  }
}

export function saveAttentionPrefs(kv: KeyValue, prefs: AttentionPrefs): void {
  kv.set(PREFS_KEY, JSON.stringify(prefs));
}

/** Why a message asks for a notification. */
export type NotifyReason = 'mention' | 'direct';

/**
 * Whether message `m`, just arrived, asks for a notification, and why: only
 * while the tab is hidden, never for your own or a deleted message, nor in a
 * muted room; a direct room's every message, elsewhere a mention of you.
 */
export function notifyReason(
  m: Pick<ChatMessage, 'own' | 'deleted' | 'content' | 'seq'>,
  ctx: { visibility: Visibility; myName: string | null; muted: boolean; hidden: boolean },
): NotifyReason | null {
  if (!ctx.hidden || ctx.muted || m.own || m.deleted || m.seq === null) return null;
  if (ctx.visibility === 'direct') return 'direct';
  return mentions(m.content, ctx.myName) ? 'mention' : null;
}

/** The unread messages of a room (its last `view.unread` by others) that mention `myName`. */
export function unreadMentions(view: Pick<RoomView, 'messages' | 'unread'>, myName: string | null): number {
  if (!myName || view.unread <= 0) return 0;
  let others = 0;
  let found = 0;
  for (let i = view.messages.length - 1; i >= 0 && others < view.unread; i--) {
    const m = view.messages[i];
    if (!m || m.own || m.deleted || m.seq === null) continue;
    others += 1;
    if (mentions(m.content, myName)) found += 1;
  }
  return found;
}

/**
 * The count in the tab's title: the unread messages of the rooms not open,
 * and those that arrived in the open room while the tab was hidden (`hiddenNew`),
 * muted rooms left out.
 */
export function attentionCount(
  rooms: Readonly<Record<string, Pick<RoomView, 'unread'>>>,
  muted: ReadonlySet<string>,
  hiddenNew: number,
): number {
  let n = hiddenNew;
  for (const [name, view] of Object.entries(rooms)) if (!muted.has(name)) n += view.unread;
  return n;
}

/** The tab's title: `(3) #lobby · WhisperChat`, `WhisperChat` with nothing to count and no room. */
export function documentTitle(count: number, place: string | null): string {
  const base = place ? `${place} · WhisperChat` : 'WhisperChat';
  return count > 0 ? `(${count > 99 ? '99+' : count}) ${base}` : base;
}

/** A notification to show: who wrote what where, and the room a click opens. */
export interface AttentionNotice {
  title: string;
  body: string;
  /** One per message: a second tab's copy replaces the first instead of showing twice. */
  tag: string;
  room: string;
  reason: NotifyReason;
}

/** What `Attention` needs of the page it runs in. */
export interface AttentionEnv {
  hidden(): boolean;
  /** Calls `listener` when the tab is shown or hidden; returns a function that stops it. */
  onVisibilityChange(listener: () => void): () => void;
  permission(): Permission;
  /** Asks for the permission (from a user's click, or browsers refuse). */
  requestPermission(): Promise<Permission>;
  /** Shows `notice`; a click on it calls `onClick`. */
  notify(notice: AttentionNotice, onClick: () => void): void;
  /** Plays the short tone; with `tag`, once for all the tabs that play it for the same message. */
  playSound(tag?: string): void;
  now(): number;
}

export interface AttentionState {
  prefs: AttentionPrefs;
  muted: ReadonlySet<string>;
  permission: Permission;
  /** Messages by others that arrived in the open room while the tab was hidden. */
  hiddenNew: number;
  hidden: boolean;
}

/** A message older than this when it arrives (a catch-up after a long time away) raises nothing. */
const FRESH_MS = 10 * 60 * 1000;
/** At most this many notifications for one batch of arrivals: past it, one that says how many more. */
const MAX_AT_ONCE = 3;

/** The first line of a text, shortened: a notification's body. */
function excerpt(m: ChatMessage): string {
  const line = m.content.trim().split('\n', 1)[0] ?? '';
  const chars = [...line];
  if (chars.length > 160) return `${chars.slice(0, 159).join('')}…`;
  if (line) return line;
  const files = m.attachments.length;
  return files === 1 ? 'Sent a file' : files > 1 ? `Sent ${files} files` : '';
}

/** Where the snapshots come from: `ChatClient` is one. */
export interface SnapshotSource {
  getSnapshot(): ChatSnapshot;
  subscribe(listener: () => void): () => void;
}

/**
 * Watches the chat's snapshots for messages that arrive (a stored seq above
 * the highest the room had: not older pages read, not the history a room
 * first loads) and acts on them as the rules say.
 */
export class Attention extends Emitter<{ change: AttentionState }> {
  private readonly source: SnapshotSource;
  private readonly env: AttentionEnv;
  private readonly kv: KeyValue;
  private state: AttentionState;
  /** The highest seq seen per room; a room not here yet is taken as it is, with nothing new. */
  private readonly highest = new Map<string, number>();
  private open: ((room: string) => void) | null = null;
  private stops: (() => void)[] = [];

  constructor(source: SnapshotSource, env: AttentionEnv, kv: KeyValue) {
    super();
    this.source = source;
    this.env = env;
    this.kv = kv;
    const prefs = loadAttentionPrefs(kv);
    this.state = {
      prefs,
      muted: new Set(prefs.muted),
      permission: env.permission(),
      hiddenNew: 0,
      hidden: env.hidden(),
    };
  }

  getState = (): AttentionState => this.state;

  subscribe = (listener: () => void): (() => void) => this.on('change', listener);

  /** Starts watching; `open` shows a room (a notification was clicked). Returns `stop`. */
  start(open: (room: string) => void): () => void {
    this.open = open;
    if (this.stops.length === 0) {
      this.look(this.source.getSnapshot());
      this.stops.push(this.source.subscribe(() => this.look(this.source.getSnapshot())));
      this.stops.push(this.env.onVisibilityChange(() => this.onVisibility()));
    }
    return () => this.stop();
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  isMuted(room: string): boolean {
    return this.state.muted.has(room);
  }

  /** Mutes `room` or not; muting the open room also stops counting what arrived in it while hidden. */
  setMuted(room: string, muted: boolean): void {
    const list = this.state.prefs.muted.filter((r) => r !== room);
    if (muted) list.push(room);
    this.setPrefs({ ...this.state.prefs, muted: list });
    if (muted && this.state.hiddenNew > 0 && this.source.getSnapshot().currentRoom === room) this.set({ hiddenNew: 0 });
  }

  setSound(on: boolean): void {
    this.setPrefs({ ...this.state.prefs, sound: on });
    // Turned on by a click: a tone says what it will sound like (and unlocks audio for later).
    if (on) this.env.playSound();
  }

  /** "Not now" to the offer of notifications: it is not shown again (settings still have the switch). */
  dismissOffer(): void {
    this.setPrefs({ ...this.state.prefs, offerDismissed: true });
  }

  /** Asks the browser for the permission: call it from a click. */
  async requestPermission(): Promise<Permission> {
    const permission = await this.env.requestPermission();
    this.set({ permission });
    return permission;
  }

  /** The permission may have changed in the browser's settings: read it again. */
  refreshPermission(): void {
    const permission = this.env.permission();
    if (permission !== this.state.permission) this.set({ permission });
  }

  private setPrefs(prefs: AttentionPrefs): void {
    saveAttentionPrefs(this.kv, prefs);
    this.set({ prefs, muted: new Set(prefs.muted) });
  }

  private set(patch: Partial<AttentionState>): void {
    this.state = { ...this.state, ...patch };
    this.emit('change', this.state);
  }

  private onVisibility(): void {
    const hidden = this.env.hidden();
    if (hidden === this.state.hidden) return;
    // Back to the tab: what arrived meanwhile is in view now.
    this.set({ hidden, ...(hidden ? {} : { hiddenNew: 0 }), permission: this.env.permission() });
  }

  private look(snapshot: ChatSnapshot): void {
    const hidden = this.env.hidden();
    const myName = snapshot.identity.name;
    const now = this.env.now();
    const notices: AttentionNotice[] = [];
    let hiddenNew = 0;
    for (const view of Object.values(snapshot.rooms)) {
      const fresh = this.arrivals(view);
      if (fresh.length === 0) continue;
      const muted = this.state.muted.has(view.name);
      const meta: RoomMeta | undefined = snapshot.roomMeta[view.name];
      const visibility = meta?.visibility ?? visibilityOfName(view.name);
      for (const m of fresh) {
        if (m.own || m.deleted) continue;
        if (hidden && !muted && view.name === snapshot.currentRoom) hiddenNew += 1;
        if (now - Date.parse(m.createdAt) > FRESH_MS) continue;
        const reason = notifyReason(m, { visibility, myName, muted, hidden });
        if (!reason) continue;
        const where = roomReference(view.name, meta);
        notices.push({
          title: reason === 'direct' ? m.name : `${m.name} mentioned you in ${where}`,
          body: excerpt(m),
          tag: `whisperchat:${m.id ?? m.key}`,
          room: view.name,
          reason,
        });
      }
    }
    if (hiddenNew > 0) this.set({ hiddenNew: this.state.hiddenNew + hiddenNew });
    if (notices.length === 0) return;
    const shown = notices.slice(0, MAX_AT_ONCE);
    const more = notices.length - shown.length;
    const last = shown.at(-1);
    if (more > 0 && last) {
      shown[shown.length - 1] = { ...last, body: `${last.body} (and ${more} more)` };
    }
    if (this.state.permission === 'granted') {
      for (const notice of shown) this.env.notify(notice, () => this.open?.(notice.room));
    }
    if (this.state.prefs.sound) this.env.playSound(`sound:${shown[0]?.tag ?? ''}`);
  }

  /** The stored messages of `view` above the highest seq it had (none the first time it is seen loaded). */
  private arrivals(view: RoomView): ChatMessage[] {
    // A stretch of older messages (a search result) holds nothing new; a room not read yet has no baseline.
    if (view.jump?.detached || !view.loaded) return [];
    let max = 0;
    for (const m of view.messages) if (m.seq !== null && m.seq > max) max = m.seq;
    const before = this.highest.get(view.name);
    if (before === undefined) {
      this.highest.set(view.name, max);
      return [];
    }
    if (max <= before) return [];
    this.highest.set(view.name, max);
    return view.messages.filter((m) => m.seq !== null && m.seq > before);
  }
}
