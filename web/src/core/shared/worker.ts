/**
 * The SharedWorker that owns the browser's one connection to whisper-server
 * (`shared/browser.ts` starts it): every tab of the origin connects a port,
 * and the hub (`hub.ts`) serves them all from one socket per principal. It
 * lives as long as a tab is connected; the socket closes when the last tab
 * detaches (or stops answering the hub's beat).
 *
 * Debugging: chrome://inspect/#workers → "whisperchat" → inspect; in its
 * console, `whisperHub.debug()` shows the tabs, the rooms, the pending frames
 * and the connection's status; its Network tab shows the WebSocket's frames.
 */
import { HubHost } from './hub';
import { hubOptionsFor } from './options';
import { messagePort, type ToHub, type ToTab } from './protocol';

interface SharedWorkerScope {
  onconnect: ((event: MessageEvent) => void) | null;
  location: { origin: string };
  whisperHub?: HubHost;
}

const scope = globalThis as unknown as SharedWorkerScope;
const host = new HubHost(hubOptionsFor(scope.location.origin));
scope.whisperHub = host;
scope.onconnect = (event: MessageEvent) => {
  for (const port of event.ports) host.connect(messagePort<ToHub, ToTab>(port));
};
