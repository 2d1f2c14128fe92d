/**
 * Telling people apart when their names read the same (protocol.md §2): names
 * need not be unique, so wherever two different users show the same name the
 * client adds a short tag from each one's user id.
 */

/** What a reader would take for the same name: compatibility forms folded
 * (NFKC: full-width letters, ligatures), case folded, runs of spaces as one. */
export function nameKey(name: string): string {
  return name.normalize('NFKC').toLocaleLowerCase().replace(/\s+/g, ' ').trim();
}

/** The user ids, among `people`, whose name another user there shares. */
export function sharedNames(people: Iterable<{ userId: string; name: string }>): ReadonlySet<string> {
  const byKey = new Map<string, Set<string>>();
  for (const { userId, name } of people) {
    const key = nameKey(name);
    let ids = byKey.get(key);
    if (!ids) byKey.set(key, (ids = new Set()));
    ids.add(userId);
  }
  const shared = new Set<string>();
  for (const ids of byKey.values()) {
    if (ids.size > 1) for (const id of ids) shared.add(id);
  }
  return shared;
}

/** The short tag shown beside a shared name: the user id's first four hex digits. */
export function idTag(userId: string): string {
  return `#${userId.replace(/-/g, '').slice(0, 4)}`;
}
