/**
 * The HTTP API: history pages (`GET /v1/chat/messages`) and the room directory
 * (`GET /v1/rooms`), docs/protocol.md §11.
 */
import { ApiError, requestJson, type Fetch } from './http';
import type { HistoryPage, RoomList } from './protocol';

export { ApiError, type Fetch } from './http';

export interface HistoryQuery {
  room: string;
  /** The last `limit` messages with a smaller seq. */
  beforeSeq?: number;
  /** The first `limit` messages with a larger seq (`0` pages from the start). */
  afterSeq?: number;
  /** 1..=500; the server's default is 50. */
  limit?: number;
}

export interface RoomsQuery {
  /** Rooms after this name (exclusive); the previous page's `next`. */
  after?: string;
  /** 1..=500; the server's default is 100. */
  limit?: number;
}

export class HistoryApi {
  private readonly baseUrl: string;
  private readonly fetchImpl: Fetch;

  /** `baseUrl` is the server's origin (`http://127.0.0.1:8080`), or `''` for the page's own. */
  constructor(baseUrl = '', fetchImpl?: Fetch) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    // Looked up per call, so tests can stub the global after construction.
    this.fetchImpl = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** One page of a room's history, oldest first. */
  async messages(query: HistoryQuery, signal?: AbortSignal): Promise<HistoryPage> {
    const params = new URLSearchParams({ room: query.room });
    if (query.beforeSeq !== undefined) params.set('before_seq', String(query.beforeSeq));
    if (query.afterSeq !== undefined) params.set('after_seq', String(query.afterSeq));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const page = await this.get<HistoryPage>(`/v1/chat/messages?${params.toString()}`, signal);
    if (!Array.isArray(page.data)) throw new ApiError(0, 'bad_response', 'the history page has no data');
    return page;
  }

  /**
   * One page of the rooms that have history, by name, with how many people are
   * online in each: those after `after` (default: from the first), at most
   * `limit` (1..=500; the server's default is 100). `next` is the next page's
   * `after` while `has_more`.
   */
  async rooms(query: RoomsQuery = {}, signal?: AbortSignal): Promise<RoomList> {
    const params = new URLSearchParams();
    if (query.after !== undefined) params.set('after', query.after);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const search = params.toString();
    const list = await this.get<RoomList>(search ? `/v1/rooms?${search}` : '/v1/rooms', signal);
    if (!Array.isArray(list.rooms)) throw new ApiError(0, 'bad_response', 'the room list has no rooms');
    return list;
  }

  /** Whether the server answers at all (used to tell a refused token from a server that is down). */
  async reachable(): Promise<boolean> {
    try {
      const res = await this.fetchImpl(`${this.baseUrl}/healthz`, { cache: 'no-store' });
      return res.ok;
    } catch {
      return false;
    }
  }

  private get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return requestJson<T>(this.fetchImpl, `${this.baseUrl}${path}`, signal ? { signal } : {});
  }
}
