/**
 * The rooms-with-members API (`/v1/rooms`, `/v1/rooms/{room}…`, `/v1/dm`,
 * `/v1/users`): private rooms, direct messages, members and their roles.
 *
 * The answers' types are generated (`RoomSummary`, `RoomDetail`, `Member`,
 * `Person`, `Role`, `Visibility`); the request bodies and the user look-up's
 * answer are HAND-WRITTEN below, to the server's API as specified, until
 * `make types` writes them (each then becomes a re-export of the generated type).
 *
 * Every request sends the sign-in (`credentials: 'same-origin'`: the session
 * cookie), as the account API does; a refusal is an `ApiError` with the
 * server's sentence (`describeRoomError` makes it one for people).
 */
import { ApiError, requestJson, type Fetch } from './http';
import type { Member, MemberAction, Person, RoomDetail, RoomEvent, Role, RoomSummary, Visibility } from './protocol';

export type { Member, MemberAction, Person, Role, RoomDetail, RoomSummary, Visibility };

/** `POST /v1/rooms` for a private room. HAND-WRITTEN: to be generated. */
export interface CreatePrivateRoom {
  visibility: 'private';
  title: string;
  topic?: string;
  /** User ids of accounts. */
  members?: string[];
}

/** `PATCH /v1/rooms/{room}`. HAND-WRITTEN: to be generated. */
export interface RoomChangeRequest {
  title?: string;
  topic?: string;
}

/** An account found by name (`GET /v1/users?name=`): a `Person`. HAND-WRITTEN: to be generated if it gets a type of its own. */
export type UserRef = Person;

/** What the member endpoints answer: the event they stored. HAND-WRITTEN: to be generated. */
interface EventAnswer {
  event: RoomEvent;
}

/** The longest title and topic the server takes (characters). */
export const MAX_TITLE_CHARS = 80;
export const MAX_TOPIC_CHARS = 300;
/** The most members a room can be created with. */
export const MAX_INITIAL_MEMBERS = 100;

/** A room name as one path segment (`p/abc` → `p%2Fabc`). */
function roomPath(room: string): string {
  return `/v1/rooms/${encodeURIComponent(room)}`;
}

export class RoomsApi {
  private readonly baseUrl: string;
  private readonly fetchImpl: Fetch;

  /** `baseUrl` is the server's origin (`http://127.0.0.1:8080`), or `''` for the page's own. */
  constructor(baseUrl = '', fetchImpl?: Fetch) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    // Looked up per call, so tests can stub the global after construction.
    this.fetchImpl = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Creates a private room with you as its owner and `members` in it (201). */
  async createPrivateRoom(request: Omit<CreatePrivateRoom, 'visibility'>): Promise<RoomSummary> {
    const body: CreatePrivateRoom = { visibility: 'private', title: request.title };
    if (request.topic) body.topic = request.topic;
    if (request.members?.length) body.members = request.members;
    return roomOf(await this.call<{ room: RoomSummary }>('POST', '/v1/rooms', body));
  }

  /** The direct room of you and `userId`: opened now (201) or the one you have (200). */
  async openDirect(userId: string): Promise<RoomSummary> {
    return roomOf(await this.call<{ room: RoomSummary }>('POST', '/v1/dm', { user_id: userId }));
  }

  /** The account of that name (exactly, case aside), or `null` when there is none (404). */
  async lookupUser(name: string): Promise<UserRef | null> {
    try {
      const user = await this.call<UserRef>('GET', `/v1/users?${new URLSearchParams({ name }).toString()}`);
      if (typeof user?.user_id !== 'string') throw new ApiError(0, 'bad_response', 'the answer has no user id');
      return user;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }

  /** A room, its members and (for its moderators) who is banned. A 403 for a room you are not in. */
  async room(room: string, signal?: AbortSignal): Promise<RoomDetail> {
    const details = await this.call<RoomDetail>('GET', roomPath(room), undefined, signal);
    if (!details?.room || !Array.isArray(details.members)) {
      throw new ApiError(0, 'bad_response', 'the room has no members list');
    }
    return details;
  }

  /** Sets the title and/or the topic (owners and moderators). */
  async updateRoom(room: string, change: RoomChangeRequest): Promise<RoomEvent> {
    return (await this.call<EventAnswer>('PATCH', roomPath(room), change)).event;
  }

  /** Adds `userId` to the room (owners and moderators). */
  async invite(room: string, userId: string): Promise<RoomEvent> {
    return (await this.call<EventAnswer>('POST', `${roomPath(room)}/members`, { user_id: userId })).event;
  }

  /** Takes `userId` out of the room (owners and moderators); your own id leaves it. */
  async removeMember(room: string, userId: string, reason?: string): Promise<RoomEvent> {
    const query = reason ? `?${new URLSearchParams({ reason }).toString()}` : '';
    const path = `${roomPath(room)}/members/${encodeURIComponent(userId)}${query}`;
    return (await this.call<EventAnswer>('DELETE', path)).event;
  }

  /** Gives `userId` another role (owners only). */
  async setRole(room: string, userId: string, role: Role): Promise<RoomEvent> {
    const path = `${roomPath(room)}/members/${encodeURIComponent(userId)}`;
    return (await this.call<EventAnswer>('PATCH', path, { role })).event;
  }

  /** Bans `userId` (which takes them out too). */
  async ban(room: string, userId: string, reason?: string): Promise<RoomEvent> {
    const body = reason ? { user_id: userId, reason } : { user_id: userId };
    return (await this.call<EventAnswer>('POST', `${roomPath(room)}/bans`, body)).event;
  }

  /** Lifts the ban of `userId`. */
  async unban(room: string, userId: string): Promise<RoomEvent> {
    return (await this.call<EventAnswer>('DELETE', `${roomPath(room)}/bans/${encodeURIComponent(userId)}`)).event;
  }

  private call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal) {
    return requestJson<T>(this.fetchImpl, `${this.baseUrl}${path}`, {
      method,
      credentials: 'same-origin',
      ...(method === 'GET' ? { cache: 'no-store' as const } : {}),
      ...(body !== undefined ? { body } : {}),
      ...(signal ? { signal } : {}),
    });
  }
}

function roomOf(answer: { room: RoomSummary }): RoomSummary {
  if (typeof answer?.room?.name !== 'string') throw new ApiError(0, 'bad_response', 'the answer has no room');
  return answer.room;
}
