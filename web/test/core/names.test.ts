import { describe, expect, it } from 'vitest';
import { idTag, kindOf, kindTag, nameKey, sharedNames } from '../../src/core/names';
import type { PrincipalKind } from '../../src/core/protocol';

describe('sharedNames', () => {
  it('marks every user whose name another user shares, however it is spelled', () => {
    const shared = sharedNames([
      { userId: 'a', name: 'Ada' },
      { userId: 'b', name: 'ada ' },
      { userId: 'c', name: 'Ａｄａ' }, // full-width letters
      { userId: 'd', name: 'Bob' },
      { userId: 'd', name: 'Bob' }, // one user, two messages
    ]);
    expect([...shared].sort()).toEqual(['a', 'b', 'c']);
  });

  it('marks nobody when every name is different', () => {
    expect(
      sharedNames([
        { userId: 'a', name: 'Ada' },
        { userId: 'b', name: 'Ada Lovelace' },
      ]).size,
    ).toBe(0);
  });
});

describe('nameKey and idTag', () => {
  it('folds case, compatibility forms and spaces', () => {
    expect(nameKey('  Ada   LOVELACE ')).toBe('ada lovelace');
    expect(nameKey('ﬁona')).toBe('fiona');
  });

  it('tags with the first four hex digits of the id', () => {
    expect(idTag('1a0b53f6-47c1-4091-b7bf-3df0d68f24f8')).toBe('#1a0b');
  });
});

describe('kindOf and kindTag', () => {
  it('takes a name whose kind is left out (or unknown) for a guest', () => {
    expect(kindOf({})).toBe('guest');
    expect(kindOf({ principal: undefined })).toBe('guest');
    expect(kindOf({ principal: 'account' })).toBe('account');
    expect(kindOf({ principal: 'bot' })).toBe('bot');
    expect(kindOf({ principal: 'external' })).toBe('external');
    // A kind from a newer server is not an account's verified look either.
    expect(kindOf({ principal: 'robot' as PrincipalKind })).toBe('guest');
    expect(kindOf({ principal: 'toString' as PrincipalKind })).toBe('guest');
  });

  it('tags every kind but an account', () => {
    expect(kindTag('account')).toBeNull();
    expect(kindTag('guest')).toEqual({
      label: 'guest',
      title: 'Guest: a name anyone can pick; not a signed-in account',
    });
    expect(kindTag('bot')?.label).toBe('bot');
    expect(kindTag('external')?.label).toBe('app');
  });
});
