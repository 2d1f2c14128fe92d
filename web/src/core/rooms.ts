/**
 * Rooms with members, as the client shows them: what each room is (public,
 * private, a direct conversation), what it is called (its title, else its
 * name; a direct room by the other person's name), which section of the
 * sidebar it goes in, what your role lets you do in it, and the one-line
 * notice each member or room event reads as ("Ada added Bob"). Pure: no I/O.
 */
import type { NoticeEvent } from './events';
import type { Person, Role, RoomSummary, Visibility } from './protocol';
import { LOBBY, splitRoomName } from './protocol';

/** What the client knows of a room beyond its messages. */
export interface RoomMeta {
  name: string;
  visibility: Visibility;
  /** Its title, if it has one. */
  title: string | null;
  /** `''`: none. */
  topic: string;
  /** Your role in it, when you are a member. */
  role: Role | null;
  /** A direct room's other person. */
  peer: Person | null;
}

/** The server's name spaces: `p/<hex>` is a private room, `dm/<hex>` a direct one. */
export function visibilityOfName(name: string): Visibility {
  if (name.startsWith('p/')) return 'private';
  if (name.startsWith('dm/')) return 'direct';
  return 'public';
}

/** A room as `GET /v1/rooms` lists it. */
export function metaOf(summary: RoomSummary): RoomMeta {
  return {
    name: summary.name,
    // A server from before rooms had members says nothing: its rooms are public.
    visibility: summary.visibility ?? visibilityOfName(summary.name),
    title: summary.title?.trim() ? summary.title : null,
    topic: summary.topic ?? '',
    role: summary.role ?? null,
    peer: summary.peer ?? null,
  };
}

/** What the client can tell of a room it has no summary of: its kind, from its name. */
export function guessMeta(name: string): RoomMeta {
  return { name, visibility: visibilityOfName(name), title: null, topic: '', role: null, peer: null };
}

/** Whether two metas say the same. */
export function sameMeta(a: RoomMeta, b: RoomMeta): boolean {
  return (
    a.name === b.name &&
    a.visibility === b.visibility &&
    a.title === b.title &&
    a.topic === b.topic &&
    a.role === b.role &&
    a.peer?.user_id === b.peer?.user_id &&
    a.peer?.name === b.peer?.name
  );
}

/**
 * What a room is called: its title; a direct room, the other person's name; a
 * public room without a title, its channel (`general` of `acme/general`). A
 * private room's name (`p/3f…`) is never shown.
 */
export function roomLabel(name: string, meta: RoomMeta | undefined): string {
  const m = meta ?? guessMeta(name);
  if (m.visibility === 'direct') return m.peer?.name ?? 'Direct message';
  if (m.title) return m.title;
  if (m.visibility === 'private') return 'Private room';
  return splitRoomName(name).channel;
}

/** How a sentence names a room: `#acme/general` for a public one, else its title or the other person's name. */
export function roomReference(name: string, meta: RoomMeta | undefined): string {
  const m = meta ?? guessMeta(name);
  if (m.visibility === 'public') return `#${name}`;
  return roomLabel(name, m);
}

/** One room of the sidebar. */
export interface SidebarRoom {
  name: string;
  label: string;
  visibility: Visibility;
  unread: number;
  role: Role | null;
  /** A direct room's other person. */
  peer: Person | null;
}

/** The sidebar's sections: channels (public and private), each space's channels, direct messages. */
export interface RoomSections {
  /** Public rooms without a space (the lobby first) and private rooms, by label. */
  channels: SidebarRoom[];
  /** Public rooms in a space (`acme/general`), by space. */
  spaces: { space: string; rooms: SidebarRoom[] }[];
  /** Direct rooms, by the other person's name. */
  direct: SidebarRoom[];
}

/** Your rooms, in the sidebar's sections, with their labels and unread counts. */
export function roomSections(
  myRooms: readonly string[],
  metas: Readonly<Record<string, RoomMeta>>,
  unreadOf: (room: string) => number,
): RoomSections {
  const channels: SidebarRoom[] = [];
  const bySpace = new Map<string, SidebarRoom[]>();
  const direct: SidebarRoom[] = [];
  for (const name of myRooms) {
    const meta = metas[name] ?? guessMeta(name);
    const room: SidebarRoom = {
      name,
      label: roomLabel(name, meta),
      visibility: meta.visibility,
      unread: unreadOf(name),
      role: meta.role,
      peer: meta.peer,
    };
    if (meta.visibility === 'direct') {
      direct.push(room);
      continue;
    }
    const { space } = splitRoomName(name);
    if (meta.visibility === 'private' || space === null) {
      channels.push(room);
      continue;
    }
    const list = bySpace.get(space) ?? [];
    list.push(room);
    bySpace.set(space, list);
  }
  const byLabel = (a: SidebarRoom, b: SidebarRoom) =>
    a.name === LOBBY ? -1 : b.name === LOBBY ? 1 : a.label.localeCompare(b.label) || a.name.localeCompare(b.name);
  return {
    channels: channels.sort(byLabel),
    spaces: [...bySpace.keys()].sort().map((space) => ({ space, rooms: (bySpace.get(space) ?? []).sort(byLabel) })),
    direct: direct.sort(byLabel),
  };
}

const RANK: Readonly<Record<Role, number>> = { member: 0, moderator: 1, owner: 2 };

/** Whether `role` manages the room: invites, removes, bans, retitles, deletes anyone's message. */
export function canManage(role: Role | null | undefined): boolean {
  return role === 'owner' || role === 'moderator';
}

/** Whether `role` gives roles: owners only. */
export function canChangeRoles(role: Role | null | undefined): boolean {
  return role === 'owner';
}

/** Whether someone of role `mine` may remove or ban a member of role `theirs`: a manager, above them. */
export function canRemove(mine: Role | null | undefined, theirs: Role): boolean {
  return mine !== null && mine !== undefined && canManage(mine) && RANK[mine] > RANK[theirs];
}

/** A role as a sentence has it ("a moderator"). */
export function roleName(role: Role): string {
  return role === 'owner' ? 'an owner' : role === 'moderator' ? 'a moderator' : 'a member';
}

/** A room's title and topic, as far as a notice knows them before an event. */
export interface RoomProfileSeen {
  title: string | null;
  topic: string;
}

/**
 * The one line a member or room event reads as in the message list: "Ada
 * added Bob", "Bob left", "Ada removed Bob: spam", "Ada made Bob a
 * moderator", "Ada renamed the room to Plans", "Ada created the room". You are
 * "You" (and "you"). `before` is the room's title and topic before a room
 * event, when known: it tells a rename from a new topic.
 */
export function describeNotice(event: NoticeEvent, me: string | null, before?: RoomProfileSeen | null): string {
  const doer = me !== null && event.user_id === me ? 'You' : event.name;
  if (event.kind === 'room') {
    if (event.created) return `${doer} created the room`;
    const title = event.title?.trim() ? event.title : null;
    const renamed = before ? title !== before.title : title !== null;
    const newTopic = before ? event.topic !== before.topic : !renamed && event.topic !== '';
    const topic = event.topic ? `changed the topic to “${event.topic}”` : 'cleared the topic';
    const rename = title ? `renamed the room to ${title}` : 'took the room’s title away';
    if (renamed && newTopic) return `${doer} ${rename} and ${topic}`;
    if (renamed) return `${doer} ${rename}`;
    if (newTopic) return `${doer} ${topic}`;
    return `${doer} updated the room`;
  }
  const self = event.member === event.user_id;
  const whom = me !== null && event.member === me ? 'you' : event.member_name;
  const subject = me !== null && event.member === me ? 'You' : event.member_name;
  const reason = event.reason?.replace(/\s+/g, ' ').trim();
  const why = reason ? `: ${reason}` : '';
  switch (event.action) {
    case 'added':
      return self ? `${subject} joined` : `${doer} added ${whom}`;
    case 'left':
      return `${subject} left`;
    case 'kicked':
      return self ? `${subject} left${why}` : `${doer} removed ${whom}${why}`;
    case 'banned':
      return `${doer} banned ${whom}${why}`;
    case 'unbanned':
      return `${doer} unbanned ${whom}`;
    case 'role':
      return `${doer} made ${self ? (doer === 'You' ? 'yourself' : 'themselves') : whom} ${roleName(event.role ?? 'member')}`;
  }
}
