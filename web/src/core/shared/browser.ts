/**
 * One connection per browser: which hub a page talks to, and its wiring to
 * the page's life (`pagehide`, `pageshow`).
 *
 * - `worker`: a SharedWorker (`worker.ts`) owns the socket; every tab of the
 *   origin connects a port to it.
 * - `leader`: no SharedWorker (Chrome on Android): the tab holding the Web
 *   Lock runs the hub, the others reach it over a BroadcastChannel
 *   (`election.ts`); another takes over when it goes.
 * - `tab`: neither: a hub in this page for this tab alone (the same code, one
 *   socket per tab).
 *
 * `localStorage['whisperchat.sharing']` set to one of them forces it (to
 * debug the fallback on a desktop browser); the README says more.
 */
import type { Credentials } from '../connection';
import { newClientId } from '../ids';
import { LeaderElection, broadcastBus, type LockManagerLike } from './election';
import { HubHost } from './hub';
import { hubOptionsFor } from './options';
import { localPair, messagePort, type TabPort, type ToHub, type ToTab } from './protocol';
import { SharedTransport } from './tab';

export type SharingMode = 'worker' | 'leader' | 'tab';

/** The key of `localStorage` that forces a mode. */
export const SHARING_KEY = 'whisperchat.sharing';
const CHANNEL_NAME = 'whisperchat.hub';

/** The mode this browser supports best, or the one forced in `localStorage`. */
export function sharingMode(): SharingMode {
  const canWorker = typeof SharedWorker !== 'undefined';
  const canLead = typeof BroadcastChannel !== 'undefined' && typeof navigator !== 'undefined' && 'locks' in navigator;
  let forced: string | null = null;
  try {
    forced = globalThis.localStorage?.getItem(SHARING_KEY) ?? null;
  } catch {
    // Storage refused (a private mode): nothing forced.
  }
  if (forced === 'tab') return 'tab';
  if (forced === 'leader' && canLead) return 'leader';
  if (forced === 'worker' && canWorker) return 'worker';
  if (canWorker) return 'worker';
  if (canLead) return 'leader';
  return 'tab';
}

/** The page's transport to the browser's shared connection, for `ChatClient`. */
export function createSharedTransport(
  credentials: () => Credentials,
  origin: string = window.location.origin,
  mode: SharingMode = sharingMode(),
): SharedTransport {
  const transport =
    mode === 'worker'
      ? workerTransport(credentials, origin)
      : mode === 'leader'
        ? leaderTransport(credentials, origin)
        : tabTransport(credentials, origin);
  // Back in view (a laptop woke up, a tab came to the front): is the socket still alive? Asked now,
  // not after the next silence.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') transport.checkAlive();
  });
  // A page the browser freezes (Page Lifecycle) cannot answer the hub's beat: it says goodbye, and
  // attaches again when it resumes.
  document.addEventListener('freeze', () => transport.leave());
  document.addEventListener('resume', () => transport.back());
  return transport;
}

/** The hub in a SharedWorker; a worker that fails to start leaves the tab to the election (or a hub of its own). */
function workerTransport(credentials: () => Credentials, origin: string): SharedTransport {
  let fellBack = false;
  let heard = false;
  let transport: SharedTransport | null = null;
  const open = (): TabPort => {
    const worker = new SharedWorker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'whisperchat' });
    worker.onerror = () => {
      if (heard || fellBack || !transport) return;
      fellBack = true;
      const canLead = typeof BroadcastChannel !== 'undefined' && 'locks' in navigator;
      if (canLead) wireLeader(transport, origin);
      else wireTab(transport, origin);
    };
    const port = messagePort<ToTab, ToHub>(worker.port);
    return {
      post: (message) => port.post(message),
      listen: (handler) =>
        port.listen((message) => {
          heard = true;
          handler(message);
        }),
      close: () => port.close(),
    };
  };
  transport = new SharedTransport({ credentials, reconnectPort: () => (fellBack ? null : open()) }, open());
  const shared = transport;
  window.addEventListener('pagehide', () => {
    if (!fellBack) shared.leave();
  });
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && !fellBack) shared.back();
  });
  return shared;
}

function leaderTransport(credentials: () => Credentials, origin: string): SharedTransport {
  const transport = new SharedTransport({ credentials });
  wireLeader(transport, origin);
  return transport;
}

/** Elects a leader among the tabs, and points `transport` at its hub (again after each hand-over). */
function wireLeader(transport: SharedTransport, origin: string): void {
  const tabId = newClientId();
  const locks = navigator.locks as unknown as LockManagerLike;
  const elect = () => {
    const election = new LeaderElection({
      tabId,
      locks,
      bus: broadcastBus(new BroadcastChannel(CHANNEL_NAME)),
      createHub: () => {
        const host = new HubHost(hubOptionsFor(origin));
        // The socket is in this page now: `whisperHub.debug()` in its console.
        (globalThis as { whisperHub?: HubHost }).whisperHub = host;
        return host;
      },
      onPort: (port) => transport.usePort(port),
    });
    election.start();
    return election;
  };
  let election = elect();
  window.addEventListener('pagehide', () => {
    transport.leave();
    election.stop();
    transport.usePort(null);
  });
  window.addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    election = elect();
    transport.back();
  });
}

function tabTransport(credentials: () => Credentials, origin: string): SharedTransport {
  const transport = new SharedTransport({ credentials });
  wireTab(transport, origin);
  return transport;
}

/** A hub in this page, for this tab alone. */
function wireTab(transport: SharedTransport, origin: string): void {
  const host = new HubHost(hubOptionsFor(origin));
  (globalThis as { whisperHub?: HubHost }).whisperHub = host;
  const link = (): TabPort => {
    const [hubEnd, tabEnd] = localPair<ToHub, ToTab>();
    host.connect(hubEnd);
    return tabEnd;
  };
  transport.usePort(link());
  window.addEventListener('pagehide', () => transport.leave());
  window.addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    transport.usePort(link());
    transport.back();
  });
}
