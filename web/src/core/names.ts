/**
 * Telling people apart when their names read the same (protocol.md §2): names
 * need not be unique, so wherever two different users show the same name the
 * client adds a short tag from each one's user id. Names need not be verified
 * either: a guest picks its own, so every name that is not an account's says
 * what it is (`kindTag`).
 */
import type { PrincipalKind } from './protocol';

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

/**
 * The kind of identity behind a name (protocol.md §14). The wire leaves it out
 * for a guest, so absence — and, from a newer server, a kind this client does
 * not know — is a guest: nothing passes for an account without saying so.
 */
export function kindOf(who: { principal?: PrincipalKind | null }): PrincipalKind {
  const kind = who.principal;
  return kind && Object.hasOwn(KIND_TAGS, kind) ? kind : 'guest';
}

/** What the tag beside a name says, and its longer explanation. */
export interface KindTag {
  label: string;
  title: string;
}

/**
 * The tag beside a name of each kind: an account has none, being the verified
 * look every other kind is told apart from; a guest's tag is what keeps a
 * self-chosen "Ada Lovelace" from reading as the account of that name.
 */
const KIND_TAGS: Readonly<Record<PrincipalKind, KindTag | null>> = {
  guest: { label: 'guest', title: 'Guest: a name anyone can pick; not a signed-in account' },
  account: null,
  bot: { label: 'bot', title: 'Bot: a program run by this server' },
  external: { label: 'app', title: 'App user: signed in through the application this chat is part of' },
};

/** The tag shown beside a name of `kind`; `null` for an account. */
export function kindTag(kind: PrincipalKind): KindTag | null {
  return KIND_TAGS[kindOf({ principal: kind })];
}
