/**
 * The framework-free core of the WhisperChat client.
 *
 * # Layout
 * - `protocol/` — the wire types (generated from Rust) and frame decoding.
 * - `connection.ts` — the WebSocket with reconnect and backoff (`backoff.ts`), pings to tell a dead socket, `/healthz` probes.
 * - `transport.ts` — what the client talks through: its own `Connection`, or its view of the browser's shared one.
 * - `shared/` — one connection per browser: the hub (socket, rooms, outbox) in a SharedWorker or the leader tab,
 *   the tabs' view of it, the leader election (Web Locks, BroadcastChannel), the message protocol between them.
 * - `http.ts` — JSON over HTTP, and the server's errors as `ApiError`.
 * - `history.ts` — the HTTP API: history pages and the room directory.
 * - `accounts.ts` — the account API: sign up, sign in, sign out, profile, devices; the password rule.
 * - `rooms-api.ts` — the rooms API: private rooms, direct messages, members, roles, bans; finding an account by name.
 * - `rooms.ts` — what a room is and is called, the sidebar's sections, what a role allows, member and room notices.
 * - `files.ts` — files: an upload (`POST /v1/files`) with its progress, the files' URLs, sizes and kinds for people.
 * - `draft-files.ts` — the files of the message being written, per room: uploading, uploaded (kept with the draft), refused.
 * - `search.ts` — search: the request, the words found marked in a text, `SearchSession` (as you type, latest answer only).
 * - `principal.ts` — who the client is: a guest (token in prefs) or an account (session cookie).
 * - `store.ts` — IndexedDB: cached messages, drafts, the outbox.
 * - `stores.ts` — whose store: one per person on the browser (the guest's, each account's).
 * - `prefs.ts` — localStorage: the guest identity, the account signed in to, room lists.
 * - `timeline.ts` — one room's messages in seq order, duplicates dropped by seq, events applied.
 * - `window.ts` — the stretch of a room's history around a message jumped to, apart from the live timeline until they meet.
 * - `events.ts` — what an edit, delete or reaction does to a message, convergent under replay; member and room events.
 * - `outbox.ts` — your messages and changes until stored: pending sends, resend with the same `client_id`.
 * - `changes.ts` — your pending changes laid over the stored message (optimistic UI).
 * - `receipts.ts` — others' read watermarks in a room ("seen by").
 * - `people.ts` — user ids to names, for reactions and receipts.
 * - `names.ts` — telling people apart: look-alike names tagged by user id, guests', bots' and apps' names by kind.
 * - `recovery.ts` — the pure decision after `joined`: replay, read the gap, or start over.
 * - `typing.ts` — who is typing in a room, and how often you may say you are.
 * - `cache.ts` — a room's snapshot in the local store (what a reload shows first).
 * - `views.ts` — the immutable `ChatSnapshot`, `RoomView` and `ChatMessage` the UI renders.
 * - `describe.ts` — refusals and failed requests as sentences for people.
 * - `chat.ts` — `ChatClient`, the façade that wires them into one snapshot for the UI.
 */
import { AccountsApi } from './accounts';
import { ChatClient } from './chat';
import { websocketUrl } from './connection';
import { createSharedTransport } from './shared/browser';
import { FilesApi } from './files';
import { HistoryApi } from './history';
import { browserKeyValue } from './prefs';
import { RoomsApi } from './rooms-api';
import { SearchApi } from './search';
import { BrowserStores } from './stores';

export * from './chat';
export { AccountsApi, PASSWORD_RULE, checkPassword } from './accounts';
export { Connection, websocketUrl, type ConnectionStatus } from './connection';
export { HistoryApi } from './history';
export { ApiError } from './http';
export { FilesApi, UploadError } from './files';
export { RoomsApi } from './rooms-api';
export { SearchApi, SearchSession, markText } from './search';
export type { Identity } from './prefs';
export { BrowserStores, MemoryStores, type LocalStores } from './stores';

/**
 * The client for a page served by whisper-server (same origin for HTTP and
 * WebSocket, so the session cookie goes with both). Its tabs share one
 * WebSocket (`shared/`): the page talks to it through a SharedWorker, or the
 * tab elected leader.
 */
export function createBrowserChatClient(origin: string = window.location.origin): ChatClient {
  return new ChatClient({
    wsUrl: websocketUrl(origin),
    transport: (options) => createSharedTransport(options.credentials, origin),
    api: new HistoryApi(origin),
    accounts: new AccountsApi(origin),
    rooms: new RoomsApi(origin),
    search: new SearchApi(origin),
    files: new FilesApi(origin),
    stores: new BrowserStores(),
    prefs: browserKeyValue(),
  });
}
