/**
 * Where a browser has no SharedWorker (Chrome on Android), one tab is the
 * leader: it holds a Web Lock, runs the hub (`hub.ts`) in its page and owns
 * the socket; the other tabs reach it over a BroadcastChannel. When the
 * leader goes away (closed, crashed: the browser lets go of its lock), the
 * next tab waiting for the lock gets it, runs a hub of its own and says so;
 * every tab attaches to it, and their clients start over from its `welcome`:
 * they join their rooms again and send what they have pending — every tab has
 * every pending entry (`share`), so what the old leader had in flight is sent
 * again, with the same `client_id`, and the new hub lets one copy through. The
 * server stores it once (docs/protocol.md §7).
 *
 * The lock is exclusive, so two hubs never run at once; a page holding a Web
 * Lock is not frozen by the browser, so a leader does not go silent while it
 * holds it. The browser APIs (`navigator.locks`, the channel) are given, so
 * that tests drive an election with fakes.
 */
import type { HubHost } from './hub';
import { localPair, type HubPort, type Port, type TabPort, type ToHub, type ToTab } from './protocol';

/** The part of `navigator.locks` the election uses. */
export interface LockManagerLike {
  request(
    name: string,
    options: { mode: 'exclusive'; signal?: AbortSignal },
    callback: (lock: unknown) => Promise<unknown>,
  ): Promise<unknown>;
}

/** What goes over the channel between the tabs. */
export type Wire =
  /** I lead now (and the answer to `who`). */
  | { k: 'leader'; id: string }
  /** Who leads? (a tab that just opened) */
  | { k: 'who'; from: string }
  /** The leader is going away: wait for the next one. */
  | { k: 'gone'; id: string }
  /** A tab's message for the leader's hub. */
  | { k: 'up'; from: string; to: string; m: ToHub }
  /** The leader's hub to one tab. */
  | { k: 'down'; from: string; to: string; m: ToTab };

/** A BroadcastChannel as the election uses it (`broadcastBus`). */
export type Bus = Port<Wire, Wire>;

/** A real BroadcastChannel as a `Bus`. */
export function broadcastBus(channel: BroadcastChannel): Bus {
  return {
    post: (message) => channel.postMessage(message),
    listen: (handler) => {
      channel.onmessage = (event: MessageEvent) => handler(event.data as Wire);
    },
    close: () => channel.close(),
  };
}

export const LOCK_NAME = 'whisperchat.hub';

export interface ElectionOptions {
  /** This tab's id, unique among the browser's tabs. */
  tabId: string;
  locks: LockManagerLike;
  bus: Bus;
  lockName?: string;
  /** The hub this tab runs once it leads. */
  createHub: () => HubHost;
  /** Where this tab's transport talks from now: its own hub (leading), the leader's, or none yet (`null`). */
  onPort: (port: TabPort | null) => void;
  /** Told when this tab becomes the leader (the socket is now in this page). */
  onLead?: () => void;
}

export class LeaderElection {
  private readonly options: ElectionOptions;
  private role: 'follower' | 'leader' = 'follower';
  private leaderId: string | null = null;
  private host: HubHost | null = null;
  /** The leader's links to its followers, by tab id. */
  private readonly followers = new Map<string, { handler: ((message: ToHub) => void) | null }>();
  /** A follower's: the listener of its link to the leader. */
  private down: ((message: ToTab) => void) | null = null;
  private release: (() => void) | null = null;
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(options: ElectionOptions) {
    this.options = options;
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  /** The tab that leads, as far as this one knows. */
  get leader(): string | null {
    return this.leaderId;
  }

  /** Waits for the lock (a follower meanwhile), and leads once it has it. */
  start(): void {
    const { bus, locks, tabId } = this.options;
    bus.listen((message) => this.onWire(message));
    locks
      .request(this.options.lockName ?? LOCK_NAME, { mode: 'exclusive', signal: this.abort.signal }, () => this.lead())
      .catch(() => {
        // Aborted: this page went away before its turn.
      });
    bus.post({ k: 'who', from: tabId });
  }

  /** The page is going away: a leader says so, closes its hub (and the socket) and lets go of the lock. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const { bus, tabId } = this.options;
    if (this.role === 'leader') {
      try {
        bus.post({ k: 'gone', id: tabId });
      } catch {
        // The channel went with the page.
      }
      this.host?.dispose();
      this.host = null;
    }
    this.abort.abort();
    this.release?.();
    this.release = null;
    this.followers.clear();
    bus.close();
  }

  private lead(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const { bus, tabId } = this.options;
    this.role = 'leader';
    this.leaderId = tabId;
    this.down = null;
    const host = this.options.createHub();
    this.host = host;
    // This tab's own link to its hub, in memory.
    const [hubEnd, tabEnd] = localPair<ToHub, ToTab>();
    host.connect(hubEnd);
    this.options.onPort(tabEnd);
    this.options.onLead?.();
    bus.post({ k: 'leader', id: tabId });
    return new Promise<void>((resolve) => {
      this.release = resolve;
    });
  }

  private onWire(message: Wire): void {
    if (this.stopped) return;
    const { tabId } = this.options;
    switch (message.k) {
      case 'who':
        if (this.role === 'leader') this.options.bus.post({ k: 'leader', id: tabId });
        return;
      case 'leader':
        if (this.role === 'leader' || message.id === tabId || message.id === this.leaderId) return;
        this.leaderId = message.id;
        this.options.onPort(this.linkTo(message.id));
        return;
      case 'gone':
        if (this.role === 'follower' && message.id === this.leaderId) {
          this.leaderId = null;
          this.options.onPort(null);
        }
        return;
      case 'up': {
        if (this.role !== 'leader' || message.to !== tabId || !this.host) return;
        let follower = this.followers.get(message.from);
        if (!follower) {
          follower = { handler: null };
          this.followers.set(message.from, follower);
          this.host.connect(this.linkFrom(message.from, follower));
        }
        follower.handler?.(message.m);
        return;
      }
      case 'down':
        if (this.role === 'follower' && message.to === tabId && message.from === this.leaderId) this.down?.(message.m);
        return;
    }
  }

  /** A follower's link to leader `leader`. */
  private linkTo(leader: string): TabPort {
    const { bus, tabId } = this.options;
    return {
      post: (m) => bus.post({ k: 'up', from: tabId, to: leader, m }),
      listen: (handler) => {
        this.down = handler;
      },
      close: () => {},
    };
  }

  /** The leader's link to follower `id`, for its hub. */
  private linkFrom(id: string, follower: { handler: ((message: ToHub) => void) | null }): HubPort {
    const { bus, tabId } = this.options;
    return {
      post: (m) => bus.post({ k: 'down', from: tabId, to: id, m }),
      listen: (handler) => {
        follower.handler = handler;
      },
      close: () => {
        if (this.followers.get(id) === follower) this.followers.delete(id);
      },
    };
  }
}
