/**
 * A room's online users, kept the way the server sends them (docs/protocol.md §9):
 * a `presence` frame replaces the list, and each `presence_changes` frame after it
 * says only who joined (or was renamed: a `joined` entry with the new name) and
 * who left. The list stays in the server's order: by name, case-insensitively,
 * then by `user_id`.
 */
import type { PresenceUser } from './protocol';

/** The list after one `presence_changes` frame; `users` is not changed. */
export function applyPresenceChanges(
  users: readonly PresenceUser[],
  joined: readonly PresenceUser[],
  left: readonly string[],
): PresenceUser[] {
  const gone = new Set<string>(left);
  for (const u of joined) gone.add(u.user_id);
  const next = users.filter((u) => !gone.has(u.user_id));
  const seen = new Set<string>();
  for (const u of joined) {
    if (!seen.has(u.user_id) && !left.includes(u.user_id)) next.push(u);
    seen.add(u.user_id);
  }
  return next.sort(byPresenceOrder);
}

/** The server's order of a presence list. */
export function byPresenceOrder(a: PresenceUser, b: PresenceUser): number {
  const an = a.name.toLowerCase();
  const bn = b.name.toLowerCase();
  if (an !== bn) return an < bn ? -1 : 1;
  return a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0;
}
