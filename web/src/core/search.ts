/**
 * Search (`GET /v1/search`, docs/protocol.md §16): the request, the words it
 * found marked in a message's text, and `SearchSession`, what the search box
 * shows — a query typed, asked after a pause (`debounceMs`), each new one
 * cancelling the one before (an older answer never replaces a newer one),
 * more results page by page. Framework-free: the UI renders `SearchState`.
 *
 * Marks are `[start, end)` in UTF-16 code units, which is what a JavaScript
 * string is indexed by: the text is cut with `slice`, never turned into markup.
 */
import { Emitter } from './emitter';
import { ApiError, requestJson, type Fetch } from './http';
import type { SearchHit, SearchResults, TextMark } from './protocol';
import { guessMeta, roomLabel, type RoomMeta } from './rooms';

export type { SearchHit, SearchResults, TextMark };

/** What to ask for. */
export interface SearchQuery {
  /** What to find: words, `"quoted phrases"`, `-excluded` (the server parses it). */
  q: string;
  /** One room only. */
  room?: string | null;
  /** 1..=100; the server's default is 20. */
  limit?: number;
  /** The `next` of the page before: older results. */
  before?: string | null;
}

/** The path and query of a search: `/v1/search?q=…&room=…&limit=…&before=…`. */
export function searchPath(query: SearchQuery): string {
  const params = new URLSearchParams({ q: query.q });
  if (query.room) params.set('room', query.room);
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.before) params.set('before', query.before);
  return `/v1/search?${params.toString()}`;
}

export class SearchApi {
  private readonly baseUrl: string;
  private readonly fetchImpl: Fetch;

  /** `baseUrl` is the server's origin (`http://127.0.0.1:8080`), or `''` for the page's own. */
  constructor(baseUrl = '', fetchImpl?: Fetch) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    // Looked up per call, so tests can stub the global after construction.
    this.fetchImpl = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * One page of the messages that match, newest first. Sends the sign-in (the
   * session cookie) like the rooms API: a member's private rooms are searched
   * too. Throws `ApiError` (a 400 says what is wrong with `q`).
   */
  async search(query: SearchQuery, signal?: AbortSignal): Promise<SearchResults> {
    const answer = await requestJson<SearchResults>(this.fetchImpl, `${this.baseUrl}${searchPath(query)}`, {
      credentials: 'same-origin',
      cache: 'no-store',
      ...(signal ? { signal } : {}),
    });
    if (!Array.isArray(answer?.results)) throw new ApiError(0, 'bad_response', 'the search answer has no results');
    return { results: answer.results, next: typeof answer.next === 'string' ? answer.next : null };
  }
}

/** A piece of a message's text: marked (a word searched for) or not. */
export interface TextPart {
  text: string;
  marked: boolean;
}

/**
 * `text` cut at `marks` (`[start, end)` in UTF-16 code units): the pieces in
 * order, the marked ones flagged. Marks out of order, overlapping, empty or
 * past the end are sorted, merged, dropped or cut to the text, so whatever the
 * server sends, the pieces put together are `text`. A mark is never allowed to
 * split a surrogate pair (an emoji): its ends move out to the whole character.
 */
export function markText(text: string, marks: readonly TextMark[]): TextPart[] {
  const spans = marks
    .map(({ start, end }): [number, number] => [
      widen(text, clamp(start, text.length), -1),
      widen(text, clamp(end, text.length), 1),
    ])
    .filter(([start, end]) => start < end)
    .sort((a, b) => a[0] - b[0]);
  const parts: TextPart[] = [];
  let at = 0;
  for (const [start, end] of spans) {
    if (end <= at) continue; // inside the mark before
    const last = parts.at(-1);
    if (start > at) parts.push({ text: text.slice(at, start), marked: false });
    // Touching or overlapping the mark before: one mark.
    if (start <= at && last?.marked) last.text += text.slice(at, end);
    else parts.push({ text: text.slice(Math.max(start, at), end), marked: true });
    at = end;
  }
  if (at < text.length) parts.push({ text: text.slice(at), marked: false });
  return parts;
}

/**
 * The part of a long `text` a result shows: at most `max` code units, starting
 * a little (`lead`) before the first mark — at a word's start, with `…` where
 * it was cut — so the words found are in view; `marks` moved with it. A short
 * text is all of it.
 */
export function excerpt(
  text: string,
  marks: readonly TextMark[],
  max = 240,
  lead = 40,
): { text: string; marks: TextMark[] } {
  if (text.length <= max) return { text, marks: [...marks] };
  const first = Math.min(...marks.map((m) => clamp(m.start, text.length)), text.length);
  let start = first > lead ? first - lead : 0;
  if (start > 0) {
    // On to the start of a word, unless that passes the mark.
    const space = text.slice(start, first).search(/\s\S/);
    start = widen(text, space >= 0 ? start + space + 1 : start, -1);
  }
  const end = widen(text, Math.min(text.length, start + max), 1);
  const prefix = start > 0 ? '…' : '';
  const suffix = end < text.length ? '…' : '';
  const shift = prefix.length - start;
  const shown = marks
    .map((m) => ({ start: Math.max(m.start, start) + shift, end: Math.min(m.end, end) + shift }))
    .filter((m) => m.start < m.end);
  return { text: `${prefix}${text.slice(start, end)}${suffix}`, marks: shown };
}

function clamp(n: number, max: number): number {
  return Number.isFinite(n) ? Math.min(Math.max(0, Math.trunc(n)), max) : 0;
}

/** `i` moved off the middle of a surrogate pair: back (`-1`) for a start, on (`1`) for an end. */
function widen(text: string, i: number, direction: -1 | 1): number {
  if (i <= 0 || i >= text.length) return i;
  const before = text.charCodeAt(i - 1);
  const after = text.charCodeAt(i);
  const inPair = before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
  return inPair ? i + (direction === 1 ? 1 : -1) : i;
}

/**
 * A failed search as the box shows it: the server's own sentence for a query
 * it cannot read (`q: a quoted phrase is not closed…` without its `q: `), and
 * for a room you may not read; the rest in general words.
 */
export function describeSearchError(e: unknown): string {
  if (!(e instanceof ApiError)) return 'Search failed. Try again.';
  if (e.code === 'network') return 'Could not reach the server. Check your connection and try again.';
  if (e.code === 'rate_limited') {
    const wait = e.retryAfterMs !== null ? ` Try again in ${Math.max(1, Math.ceil(e.retryAfterMs / 1000))} s.` : '';
    return `Too many searches at once.${wait}`;
  }
  if ((e.code === 'invalid_request' || e.code === 'forbidden') && e.message.trim()) {
    return sentence(e.message.trim().replace(/^q:\s*/, ''));
  }
  if (e.code === 'storage_unavailable') return 'The server is busy. Try again in a moment.';
  return 'Search failed. Try again.';
}

function sentence(s: string): string {
  const text = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?"”]$/.test(text) ? text : `${text}.`;
}

/** How a result names its room: its title, the other person of a direct room, else `#name`. */
export function resultRoomLabel(room: string, meta: RoomMeta | undefined): string {
  const m = meta ?? guessMeta(room);
  return m.visibility === 'public' && !m.title ? `#${room}` : roomLabel(room, m);
}

/** What the search box shows. */
export interface SearchState {
  /** As typed. */
  query: string;
  /** Only this room, or every room you may read. */
  room: string | null;
  /**
   * `idle`: nothing to look for; `loading`: asked (or about to be) and not
   * answered; `ready`: `hits` answer `answered`; `error`: `error` says why.
   */
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** Newest first; kept while a new query is loading, so the list does not flash. */
  hits: readonly SearchHit[];
  /** The query (trimmed) that `hits` or `error` answer. */
  answered: string;
  /** Older results can be read with `loadMore`. */
  hasMore: boolean;
  loadingMore: boolean;
  /** Why the search (or its next page) failed, for people. */
  error: string | null;
}

export interface SearchSessionOptions {
  /** How long typing must pause before the query is asked. Default 250 ms. */
  debounceMs?: number;
  /** Results per page (1..=100). Default 20. */
  pageSize?: number;
}

const IDLE: SearchState = {
  query: '',
  room: null,
  status: 'idle',
  hits: [],
  answered: '',
  hasMore: false,
  loadingMore: false,
  error: null,
};

/**
 * One search box's searches. Each query typed is asked once typing pauses;
 * asking a new one aborts the request before it (and its next pages), and an
 * answer that comes back anyway after a newer one was asked is dropped, so the
 * list always answers the latest query. `dispose` stops everything.
 */
export class SearchSession extends Emitter<{ change: SearchState }> {
  private state: SearchState = IDLE;
  private readonly api: SearchApi;
  private readonly debounceMs: number;
  private readonly pageSize: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private controller: AbortController | null = null;
  /** Bumped by every new search: answers to an older one are dropped. */
  private generation = 0;
  private next: string | null = null;

  constructor(api: SearchApi, options: SearchSessionOptions = {}) {
    super();
    this.api = api;
    this.debounceMs = options.debounceMs ?? 250;
    this.pageSize = options.pageSize ?? 20;
  }

  getSnapshot = (): SearchState => this.state;

  subscribe = (listener: () => void): (() => void) => this.on('change', listener);

  /** The query as typed: asked once typing pauses; nothing to look for stops searching. */
  setQuery(text: string): void {
    if (text === this.state.query) return;
    this.set({ query: text });
    this.schedule(this.debounceMs);
  }

  /** Keeps to one room (or, `null`, every room): asked at once. */
  setRoom(room: string | null): void {
    if (room === this.state.room) return;
    this.set({ room });
    this.schedule(0);
  }

  /** Asks the same query again at once (after a failure). */
  retry(): void {
    this.schedule(0);
  }

  /** Reads the next, older page of results. */
  async loadMore(): Promise<void> {
    const before = this.next;
    if (!before || this.state.status !== 'ready' || this.state.loadingMore) return;
    const gen = this.generation;
    const signal = this.controller?.signal;
    this.set({ loadingMore: true, error: null });
    try {
      const page = await this.api.search(this.request(before), signal);
      if (gen !== this.generation) return;
      const seen = new Set(this.state.hits.map((h) => h.message.id));
      this.next = page.next;
      this.set({
        hits: [...this.state.hits, ...page.results.filter((h) => !seen.has(h.message.id))],
        hasMore: page.next !== null,
        loadingMore: false,
      });
    } catch (e) {
      if (gen !== this.generation) return;
      this.set({ loadingMore: false, error: describeSearchError(e) });
    }
  }

  /** Stops the pending request and the timer (the box closed): nothing more is asked until the query changes. */
  dispose(): void {
    this.generation += 1;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.controller?.abort();
    this.controller = null;
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // What was asked before is stale from now on, answered or not.
    this.generation += 1;
    this.controller?.abort();
    this.controller = null;
    if (!this.state.query.trim()) {
      this.next = null;
      this.set({ ...IDLE, query: this.state.query, room: this.state.room });
      return;
    }
    this.set({ status: 'loading', loadingMore: false });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, delayMs);
  }

  private async run(): Promise<void> {
    const gen = this.generation;
    const controller = new AbortController();
    this.controller = controller;
    const q = this.state.query.trim();
    try {
      const page = await this.api.search(this.request(null), controller.signal);
      if (gen !== this.generation) return;
      this.next = page.next;
      this.set({ status: 'ready', hits: page.results, answered: q, hasMore: page.next !== null, error: null });
    } catch (e) {
      if (gen !== this.generation) return;
      this.next = null;
      this.set({ status: 'error', hits: [], answered: q, hasMore: false, error: describeSearchError(e) });
    }
  }

  private request(before: string | null): SearchQuery {
    return {
      q: this.state.query.trim(),
      ...(this.state.room ? { room: this.state.room } : {}),
      limit: this.pageSize,
      ...(before ? { before } : {}),
    };
  }

  private set(change: Partial<SearchState>): void {
    this.state = { ...this.state, ...change };
    this.emit('change', this.state);
  }
}
