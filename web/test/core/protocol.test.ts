import { describe, expect, it } from 'vitest';
import {
  checkDisplayName,
  contentLength,
  decodeServerFrame,
  isValidRoomName,
  normalizeRoomName,
  splitRoomName,
} from '../../src/core/protocol';

describe('decodeServerFrame', () => {
  it('decodes the frames of docs/protocol.md', () => {
    expect(decodeServerFrame('{"type":"joined","room":"lobby","seq":6,"epoch":17,"recovered":true}')).toEqual({
      type: 'joined',
      room: 'lobby',
      seq: 6,
      epoch: 17,
      recovered: true,
    });
  });

  it('decodes `left`: the server took you out of a room', () => {
    expect(decodeServerFrame('{"type":"left","room":"lobby","reason":"removed by a moderator"}')).toEqual({
      type: 'left',
      room: 'lobby',
      reason: 'removed by a moderator',
    });
  });

  it('ignores what it does not understand instead of failing', () => {
    expect(decodeServerFrame('not json')).toBeNull();
    expect(decodeServerFrame('[1,2]')).toBeNull();
    expect(decodeServerFrame('{"type":"from_the_future"}')).toBeNull();
    expect(decodeServerFrame('{"no":"type"}')).toBeNull();
  });
});

describe('room names', () => {
  it('accepts what the server accepts', () => {
    for (const ok of ['lobby', 'acme/general', 'a_b-c', 'x'.repeat(64)]) expect(isValidRoomName(ok)).toBe(true);
    for (const bad of ['', 'Lobby', 'a/b/c', '/a', 'a/', 'has space', 'x'.repeat(65), 'é']) {
      expect(isValidRoomName(bad)).toBe(false);
    }
  });

  it('turns typed names into room names', () => {
    expect(normalizeRoomName('  #Random Stuff ')).toBe('random-stuff');
    expect(normalizeRoomName('Acme / General')).toBe('acme/general');
    expect(normalizeRoomName('what?')).toBeNull();
  });

  it('splits spaces from channels', () => {
    expect(splitRoomName('acme/general')).toEqual({ space: 'acme', channel: 'general' });
    expect(splitRoomName('lobby')).toEqual({ space: null, channel: 'lobby' });
  });
});

describe('display names and content', () => {
  it('checks names like the server', () => {
    expect(checkDisplayName('  Ada  ')).toEqual({ ok: true, name: 'Ada' });
    expect(checkDisplayName('   ').ok).toBe(false);
    expect(checkDisplayName('x'.repeat(33)).ok).toBe(false);
    expect(checkDisplayName('a\u200bb').ok).toBe(false);
    expect(checkDisplayName('tab\there').ok).toBe(false);
  });

  it('counts characters, not UTF-16 units, after trimming', () => {
    expect(contentLength('  😀😀 ')).toBe(2);
  });
});
