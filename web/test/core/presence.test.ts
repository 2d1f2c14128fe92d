import { describe, expect, it } from 'vitest';
import { applyPresenceChanges } from '../../src/core/presence';

const ada = { user_id: 'a0000000-0000-4000-8000-000000000001', name: 'Ada' };
const bob = { user_id: 'b0000000-0000-4000-8000-000000000002', name: 'bob' };
const cy = { user_id: 'c0000000-0000-4000-8000-000000000003', name: 'Cy' };

describe('applyPresenceChanges', () => {
  it('adds who joined and removes who left, in the server order', () => {
    const next = applyPresenceChanges([ada, bob], [cy], [ada.user_id]);
    expect(next.map((u) => u.name)).toEqual(['bob', 'Cy']);
  });

  it('a joined entry for a listed user is a rename, and moves it into place', () => {
    const users = [ada, bob, cy];
    const next = applyPresenceChanges(users, [{ ...ada, name: 'zed' }], []);
    expect(next.map((u) => u.name)).toEqual(['bob', 'Cy', 'zed']);
    // The old list is not changed.
    expect(users.map((u) => u.name)).toEqual(['Ada', 'bob', 'Cy']);
  });

  it('is idempotent: joining a listed user or removing an absent one changes nothing', () => {
    expect(applyPresenceChanges([ada, bob], [bob], [cy.user_id])).toEqual([ada, bob]);
  });

  it('sorts by name case-insensitively, then by user_id', () => {
    const twin = { user_id: '00000000-0000-4000-8000-000000000000', name: 'ada' };
    expect(applyPresenceChanges([cy], [ada, twin], []).map((u) => u.user_id)).toEqual([
      twin.user_id,
      ada.user_id,
      cy.user_id,
    ]);
  });
});
