import { describe, expect, it } from 'vitest';
import {
  completeMention,
  findLinks,
  findMentions,
  insertMention,
  mentionNames,
  mentionQuery,
  mentions,
  safeHref,
  suggestMentions,
  textRuns,
} from '../../src/core/text';

const people = [
  { userId: 'u-ada', name: 'Ada' },
  { userId: 'u-ada-l', name: 'Ada Lovelace' },
  { userId: 'u-bob', name: 'Bob Kahn' },
  { userId: 'u-grace', name: 'Grace Hopper' },
  { userId: 'u-me', name: 'Zoë 李' },
];

describe('links', () => {
  it('finds http and https links, written with their scheme or as www.', () => {
    expect(findLinks('see https://example.com/a?b=1, and www.example.org/x.')).toEqual([
      { start: 4, end: 29, href: 'https://example.com/a?b=1' },
      { start: 35, end: 52, href: 'http://www.example.org/x' },
    ]);
    expect(findLinks('HTTP://EXAMPLE.COM/Path')).toEqual([{ start: 0, end: 23, href: 'http://example.com/Path' }]);
  });

  it('never makes a link of javascript:, data:, file:, ftp: or mailto:, nor of a bare file name', () => {
    for (const text of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'ftp://example.com/file',
      'mail ada@example.com',
      'open readme.md or main.py',
      'vbscript:msgbox(1)',
    ]) {
      expect(findLinks(text), text).toEqual([]);
    }
  });

  it('keeps only http(s) URLs a parser reads as such', () => {
    expect(safeHref('https://example.com/x')).toBe('https://example.com/x');
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('http://')).toBeNull();
    expect(safeHref('not a url')).toBeNull();
  });

  it('cuts a text into text, links and mentions; markup stays text', () => {
    const names = mentionNames(people.map((p) => p.name));
    expect(textRuns('<b>hi</b> @Ada Lovelace: https://x.test/<img> ok', names, 'Ada Lovelace')).toEqual([
      { kind: 'text', text: '<b>hi</b> ' },
      { kind: 'mention', text: '@Ada Lovelace', name: 'Ada Lovelace', self: true },
      { kind: 'text', text: ': ' },
      // The URL as the parser writes it: nothing of it can break out of the attribute.
      { kind: 'link', text: 'https://x.test/<img>', href: 'https://x.test/%3Cimg%3E' },
      { kind: 'text', text: ' ok' },
    ]);
    // A mention inside a URL is the URL's.
    expect(textRuns('https://example.com/@Ada', names).map((r) => r.kind)).toEqual(['link']);
    expect(textRuns('')).toEqual([]);
  });
});

describe('mentions', () => {
  const names = mentionNames([...people.map((p) => p.name), 'ada lovelace', null, '  ']);

  it('looks for the longest name first, each once whatever its case', () => {
    expect(names).toEqual(['Ada Lovelace', 'Grace Hopper', 'Bob Kahn', 'Zoë 李', 'Ada']);
  });

  it('finds @name at a word start and ending at a word end, ignoring case', () => {
    expect(findMentions('hey @ada lovelace and @Bob Kahn!', names)).toEqual([
      { start: 4, end: 17, name: 'Ada Lovelace' },
      { start: 22, end: 31, name: 'Bob Kahn' },
    ]);
    expect(findMentions('@Ada, hi', names)).toEqual([{ start: 0, end: 4, name: 'Ada' }]);
    // Not inside a word, nor a prefix of a longer word.
    expect(findMentions('mail@Ada or @Adamant', names)).toEqual([]);
    expect(findMentions('@Zoë 李 你好', names)).toEqual([{ start: 0, end: 6, name: 'Zoë 李' }]);
  });

  it('tells whether a text mentions you (not someone whose name starts like yours)', () => {
    expect(mentions('ping @Ada', 'Ada')).toBe(true);
    expect(mentions('ping @ADA.', 'Ada')).toBe(true);
    expect(mentions('ping @Ada Lovelace', 'Ada')).toBe(true);
    expect(mentions('ping @Adalbert', 'Ada')).toBe(false);
    expect(mentions('ping Ada', 'Ada')).toBe(false);
    expect(mentions('ping @Ada', null)).toBe(false);
  });
});

describe('mention autocomplete', () => {
  it('reads the mention being typed at the caret', () => {
    expect(mentionQuery('hi @gr', 6)).toEqual({ start: 3, query: 'gr' });
    expect(mentionQuery('@', 1)).toEqual({ start: 0, query: '' });
    expect(mentionQuery('hi @gr', 4)).toEqual({ start: 3, query: '' });
    // Not after a letter (an email), not across a line, not with the caret before it.
    expect(mentionQuery('ada@ex', 6)).toBeNull();
    expect(mentionQuery('@ada\nhi', 7)).toBeNull();
    expect(mentionQuery('hi @gr', 2)).toBeNull();
  });

  it('goes on past a space only while a name goes on with it', () => {
    expect(mentionQuery('@Ada L', 6, people)).toEqual({ start: 0, query: 'Ada L' });
    expect(mentionQuery('@Ada is here', 12, people)).toBeNull();
  });

  it('offers names that start with the query, then names with a word that does; not you; each once', () => {
    const offered = suggestMentions('ho', [...people, { userId: 'u-grace', name: 'Grace Hopper' }], 'u-me');
    expect(offered.map((c) => c.name)).toEqual(['Grace Hopper']);
    expect(suggestMentions('ada', people, 'u-me').map((c) => c.name)).toEqual(['Ada', 'Ada Lovelace']);
    expect(suggestMentions('', people, 'u-me').map((c) => c.name)).toEqual([
      'Ada',
      'Ada Lovelace',
      'Bob Kahn',
      'Grace Hopper',
    ]);
    expect(suggestMentions('zo', people, 'u-me')).toEqual([]);
    expect(suggestMentions('', people, null, 2)).toHaveLength(2);
  });

  it('inserts the name picked, with a space after it', () => {
    const at = { start: 3, query: 'gr' };
    expect(insertMention('hi @gr', at, 6, 'Grace Hopper')).toEqual({ text: 'hi @Grace Hopper ', caret: 17 });
    expect(insertMention('hi @gr there', at, 6, 'Grace Hopper')).toEqual({ text: 'hi @Grace Hopper there', caret: 17 });
  });

  it('offers nothing more for a name typed whole', () => {
    expect(completeMention('ada lovelace', people)).toBe(true);
    expect(completeMention('Ada Love', people)).toBe(false);
    expect(completeMention('', people)).toBe(false);
  });
});
