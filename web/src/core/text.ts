/**
 * A message's text as the UI shows it: plain text cut into runs, some of them
 * links (http and https only, written with their scheme or as `www.…`) and
 * some @mentions of people the client knows. Nothing here is HTML: the UI
 * renders every run as a text node, a link as an `<a>` whose `href` is the
 * checked URL (docs/protocol.md §2: content is plain text).
 */
import { find } from 'linkifyjs';

/** One run of a message's text. */
export type TextRun =
  | { kind: 'text'; text: string }
  | { kind: 'link'; text: string; href: string }
  /** `@Ada Lovelace`: `name` is the name as the person has it; `self`: it names you. */
  | { kind: 'mention'; text: string; name: string; self: boolean };

/** Written with its scheme or as `www.…`: `file.py` or `readme.md` are not links, though linkify finds them. */
const EXPLICIT = /^(https?:\/\/|www\.)/i;

/**
 * The URL a link found in a text opens, or `null` when it must not be a link:
 * only `http:` and `https:` (never `javascript:`, `data:`, `file:`, `mailto:`…),
 * parsed and written back by the URL parser.
 */
export function safeHref(href: string): string | null {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (!url.hostname) return null;
  return url.href;
}

/** The links of a text, in order, as `[start, end)` in UTF-16 code units with the URL each opens. */
export function findLinks(text: string): { start: number; end: number; href: string }[] {
  const links: { start: number; end: number; href: string }[] = [];
  for (const found of find(text, 'url')) {
    if (!EXPLICIT.test(found.value)) continue;
    const href = safeHref(found.href);
    if (href) links.push({ start: found.start, end: found.end, href });
  }
  return links;
}

/** A letter, digit or `_`: what a mention may not start right after, nor end right before. */
const WORDISH = /[\p{L}\p{N}_]/u;

function wordish(ch: string | undefined): boolean {
  return ch !== undefined && WORDISH.test(ch);
}

/**
 * The names to look for after an `@`, longest first (so `@Ada Lovelace` is
 * Ada Lovelace, not Ada), each once (ignoring case).
 */
export function mentionNames(names: Iterable<string | null | undefined>): string[] {
  const seen = new Map<string, string>();
  for (const raw of names) {
    const name = raw?.trim();
    if (!name) continue;
    const key = name.toLocaleLowerCase();
    if (!seen.has(key)) seen.set(key, name);
  }
  return [...seen.values()].sort((a, b) => b.length - a.length);
}

/** The mentions of `names` (from `mentionNames`) in `text`, in order, as `[start, end)` with the name each is. */
export function findMentions(text: string, names: readonly string[]): { start: number; end: number; name: string }[] {
  const found: { start: number; end: number; name: string }[] = [];
  if (names.length === 0 || !text.includes('@')) return found;
  const lower = text.toLocaleLowerCase();
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    if (wordish(text[at - 1])) continue;
    for (const name of names) {
      const end = at + 1 + name.length;
      if (end > text.length) continue;
      if (lower.slice(at + 1, end) !== name.toLocaleLowerCase()) continue;
      if (wordish(text[end])) continue;
      found.push({ start: at, end, name });
      at = end - 1;
      break;
    }
  }
  return found;
}

/** Whether `name` is the same name as `other`, as a mention matches it (ignoring case and the ends' spaces). */
export function sameName(name: string | null | undefined, other: string | null | undefined): boolean {
  if (!name || !other) return false;
  return name.trim().toLocaleLowerCase() === other.trim().toLocaleLowerCase();
}

/**
 * `text` cut into runs: links first (a mention inside a URL is part of the
 * URL), then the mentions of `names` in the text between them. `myName` marks
 * the mentions of you (`self`).
 */
export function textRuns(text: string, names: readonly string[] = [], myName: string | null = null): TextRun[] {
  const runs: TextRun[] = [];
  const plain = (from: number, to: number) => {
    if (to <= from) return;
    const part = text.slice(from, to);
    let last = 0;
    for (const m of findMentions(part, names)) {
      if (m.start > last) runs.push({ kind: 'text', text: part.slice(last, m.start) });
      runs.push({ kind: 'mention', text: part.slice(m.start, m.end), name: m.name, self: sameName(m.name, myName) });
      last = m.end;
    }
    if (last < part.length) runs.push({ kind: 'text', text: part.slice(last) });
  };
  let at = 0;
  for (const link of findLinks(text)) {
    plain(at, link.start);
    runs.push({ kind: 'link', text: text.slice(link.start, link.end), href: link.href });
    at = link.end;
  }
  plain(at, text.length);
  return runs;
}

/** Whether `text` mentions `myName` (`@` and the name, as `findMentions` reads it). */
export function mentions(text: string, myName: string | null | undefined): boolean {
  const name = myName?.trim();
  if (!name || !text.includes('@')) return false;
  // Only your name is looked for: a longer name that starts with yours ("Ada Lovelace" for "Ada") is not you.
  return findMentions(text, [name]).length > 0;
}

/** Someone who can be mentioned: a member of the room, or someone online in it. */
export interface MentionCandidate {
  userId: string;
  name: string;
}

/** What is being typed after an `@` at the caret: where the `@` is, and the text after it so far. */
export interface MentionQuery {
  /** The `@`'s index. */
  start: number;
  query: string;
}

/** The longest a query may be: a display name's length (docs/protocol.md §2). */
const MAX_QUERY = 32;

/**
 * The mention being typed at `caret`, if any: an `@` at a word's start with
 * no line break after it up to the caret. A space ends it unless some
 * candidate's name goes on with it (`@Ada L` for Ada Lovelace).
 */
export function mentionQuery(
  text: string,
  caret: number,
  candidates: readonly MentionCandidate[] = [],
): MentionQuery | null {
  const before = text.slice(0, caret);
  const start = before.lastIndexOf('@');
  if (start === -1 || wordish(before[start - 1])) return null;
  const query = before.slice(start + 1);
  if (query.length > MAX_QUERY || /[\n\r\t@]/.test(query)) return null;
  if (/\s/.test(query)) {
    const q = query.toLocaleLowerCase();
    if (!candidates.some((c) => c.name.toLocaleLowerCase().startsWith(q))) return null;
  }
  return { start, query };
}

/**
 * Who to offer for `query`: names that start with it first, then names with
 * a word that does, in the order given (ignoring case); each person once, not
 * `me`, at most `limit`.
 */
export function suggestMentions(
  query: string,
  candidates: readonly MentionCandidate[],
  me: string | null,
  limit = 8,
): MentionCandidate[] {
  const q = query.toLocaleLowerCase();
  const seen = new Set<string>();
  const first: MentionCandidate[] = [];
  const then: MentionCandidate[] = [];
  for (const c of candidates) {
    if (c.userId === me || seen.has(c.userId) || !c.name.trim()) continue;
    const name = c.name.toLocaleLowerCase();
    if (name.startsWith(q)) first.push(c);
    else if (name.split(/[\s\-_.]+/).some((word) => word.startsWith(q))) then.push(c);
    else continue;
    seen.add(c.userId);
  }
  return [...first, ...then].slice(0, limit);
}

/**
 * Whether `query` already names someone in full (`@Ada Lovelace` typed or
 * pasted whole): nothing is left to offer, and Enter sends.
 */
export function completeMention(query: string, candidates: readonly MentionCandidate[]): boolean {
  const q = query.toLocaleLowerCase();
  return q.length > 0 && candidates.some((c) => c.name.toLocaleLowerCase() === q);
}

/** `text` with the query at `at` replaced by `@name ` (and where the caret goes after it). */
export function insertMention(
  text: string,
  at: MentionQuery,
  caret: number,
  name: string,
): { text: string; caret: number } {
  const after = text.slice(caret);
  const inserted = `@${name}${after.startsWith(' ') ? '' : ' '}`;
  const next = text.slice(0, at.start) + inserted + after;
  return { text: next, caret: at.start + inserted.length + (after.startsWith(' ') ? 1 : 0) };
}
