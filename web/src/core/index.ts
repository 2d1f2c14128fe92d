/**
 * The framework-free core of the WhisperChat client.
 *
 * # Layout
 * - `protocol/` — the wire types (generated from Rust) and frame decoding.
 * - `connection.ts` — the WebSocket with reconnect and backoff (`backoff.ts`).
 * - `history.ts` — the HTTP API: history pages and the room directory.
 * - `store.ts` — IndexedDB: cached messages, drafts, the outbox.
 * - `prefs.ts` — localStorage: identity, room list.
 * - `chat.ts` — `ChatClient`, which ties them together into one snapshot for the UI.
 */
import { ChatClient } from './chat';
import { websocketUrl } from './connection';
import { HistoryApi } from './history';
import { browserKeyValue } from './prefs';
import { DeferredStore, openLocalStore } from './store';

export * from './chat';
export { Connection, websocketUrl, type ConnectionStatus } from './connection';
export { ApiError, HistoryApi } from './history';
export type { Identity } from './prefs';

/** The client for a page served by whisper-server (same origin for HTTP and WebSocket). */
export function createBrowserChatClient(origin: string = window.location.origin): ChatClient {
  return new ChatClient({
    wsUrl: websocketUrl(origin),
    api: new HistoryApi(origin),
    store: new DeferredStore(openLocalStore()),
    prefs: browserKeyValue(),
  });
}
