/**
 * Who a user id is, by name, as far as the client knows: reactions and read
 * receipts carry only user ids. The names come from the room's presence (the
 * name each has now) and, for people not online, from the messages they wrote
 * (the latest name); anyone else is shown by a short form of their id.
 */
import type { Message, PresenceUser } from './protocol';

export type NameOf = (userId: string) => string;

/** A lookup of names for a room, from its presence and its messages (in seq order). */
export function namesOf(presence: readonly PresenceUser[], messages: readonly Message[]): NameOf {
  const names = new Map<string, string>();
  for (const m of messages) names.set(m.user_id, m.name);
  for (const u of presence) names.set(u.user_id, u.name);
  return (userId) => names.get(userId) ?? shortId(userId);
}

/** A user id nobody has a name for: its first eight hex digits. */
export function shortId(userId: string): string {
  return `user ${userId.replace(/-/g, '').slice(0, 8)}`;
}
