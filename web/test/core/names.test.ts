import { describe, expect, it } from 'vitest';
import { idTag, nameKey, sharedNames } from '../../src/core/names';

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
