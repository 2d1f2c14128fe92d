/**
 * The messages between a tab and the hub that owns the browser's one
 * connection (`hub.ts`), over a `MessagePort` of a SharedWorker, or over a
 * BroadcastChannel to the tab elected leader (`election.ts`). Plain data
 * (structured-cloneable), and a port is anything that posts and listens, so
 * tests drive both ends with fakes.
 *
 * A tab `attach`es to a channel (the guest's or the account's: two principals
 * never share a socket), sends frames as it would on its own socket, tells the
 * outbox changes it makes (`share`), answers the hub's heartbeat (`beat`), and
 * says goodbye (`detach`) on `pagehide`. The hub sends it the connection's
 * status, the frames meant for it, the other tabs' outbox changes, and its own
 * heartbeat; `unknown` asks a tab it does not know (dropped as dead) to attach
 * again.
 */
import type { ConnectionStatus, Credentials } from '../connection';
import type { ClientFrame, ServerFrame } from '../protocol';
import type { ShareOp } from '../transport';

/** Which socket a tab shares: the guest's or the signed-in account's. */
export type Channel = 'guest' | 'account';

export function channelOf(credentials: Credentials): Channel {
  return credentials.cookie ? 'account' : 'guest';
}

/** Tab → hub. */
export type ToHub =
  /**
   * This tab wants the channel's connection (again: the hub forgets what it
   * knew of the tab). `seq` numbers the tab's attaches: the hub's `attached`
   * echoes it, and the tab ignores what comes before (from the hub it left).
   */
  | { t: 'attach'; seq: number; channel: Channel; credentials: Credentials }
  /** This tab is done with the connection (stopped, or the page is going away). */
  | { t: 'detach' }
  /** A frame for the server; `credentials` as the tab has them now, for the next reconnect. */
  | { t: 'frame'; frame: ClientFrame; credentials: Credentials }
  /** An outbox change, for the other tabs. */
  | { t: 'share'; op: ShareOp }
  /** "Retry now": skip the wait before the next attempt. */
  | { t: 'reconnect' }
  /** Ask the server now whether the socket is alive (the page became visible: a laptop woke up). */
  | { t: 'check' }
  /** The answer to the hub's heartbeat. */
  | { t: 'beat' };

/** Hub → tab. */
export type ToTab =
  | { t: 'attached'; seq: number }
  | { t: 'status'; status: ConnectionStatus }
  | { t: 'frame'; frame: ServerFrame }
  | { t: 'tokenRejected' }
  | { t: 'revoked'; code: number; reason: string }
  | { t: 'shared'; ops: ShareOp[] }
  | { t: 'beat' }
  | { t: 'unknown' };

/** One end of a link: posts to the other end, and hears it. */
export interface Port<In, Out> {
  post(message: Out): void;
  /** Sets the one listener (a later call replaces it). */
  listen(handler: (message: In) => void): void;
  close(): void;
}

/** The hub's end of a link to a tab. */
export type HubPort = Port<ToHub, ToTab>;
/** A tab's end of its link to the hub. */
export type TabPort = Port<ToTab, ToHub>;

/** A `MessagePort` (a SharedWorker's, or a `MessageChannel`'s) as a `Port`. */
export function messagePort<In, Out>(port: MessagePort): Port<In, Out> {
  return {
    post: (message) => port.postMessage(message),
    listen: (handler) => {
      // Setting `onmessage` starts the port.
      port.onmessage = (event: MessageEvent) => handler(event.data as In);
    },
    close: () => port.close(),
  };
}

/**
 * Two ends linked in memory, delivering asynchronously (a microtask) and by
 * copy, as a `MessageChannel` would: the leader tab's own link to its hub, and
 * tests. Closing either end stops delivery both ways.
 */
export function localPair<A, B>(): [Port<A, B>, Port<B, A>] {
  let open = true;
  let toA: ((message: A) => void) | null = null;
  let toB: ((message: B) => void) | null = null;
  const deliver = <M>(message: M, to: () => ((message: M) => void) | null) => {
    const copy = structuredClone(message);
    queueMicrotask(() => {
      const handler = to();
      if (open && handler) handler(copy);
    });
  };
  const a: Port<A, B> = {
    post: (message) => {
      if (open) deliver(message, () => toB);
    },
    listen: (handler) => {
      toA = handler;
    },
    close: () => {
      open = false;
    },
  };
  const b: Port<B, A> = {
    post: (message) => {
      if (open) deliver(message, () => toA);
    },
    listen: (handler) => {
      toB = handler;
    },
    close: () => {
      open = false;
    },
  };
  return [a, b];
}
