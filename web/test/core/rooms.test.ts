import { describe, expect, it } from 'vitest';
import type { NoticeEvent } from '../../src/core/events';
import {
  canChangeRoles,
  canManage,
  canRemove,
  describeNotice,
  guessMeta,
  metaOf,
  roomLabel,
  roomReference,
  roomSections,
  visibilityOfName,
  type RoomMeta,
} from '../../src/core/rooms';
import { BOB, CAROL, ME, notice } from '../helpers/fixtures';

const PLANS = 'p/0123456789abcdef0123456789abcdef';
const DM = 'dm/0123456789abcdef0123456789abcdef';

function meta(name: string, fields: Partial<RoomMeta> = {}): RoomMeta {
  return { ...guessMeta(name), ...fields };
}

describe('rooms: what a room is and is called', () => {
  it('tells private and direct rooms by their name space when nothing else is known', () => {
    expect(visibilityOfName(PLANS)).toBe('private');
    expect(visibilityOfName(DM)).toBe('direct');
    expect(visibilityOfName('lobby')).toBe('public');
    expect(visibilityOfName('acme/general')).toBe('public');
  });

  it('names a room by its title, a direct room by the other person, and never shows a private name', () => {
    expect(roomLabel(PLANS, meta(PLANS, { title: 'Plans' }))).toBe('Plans');
    expect(roomLabel(PLANS, undefined)).toBe('Private room');
    expect(roomLabel(DM, meta(DM, { peer: { user_id: BOB, name: 'Bob' } }))).toBe('Bob');
    expect(roomLabel(DM, undefined)).toBe('Direct message');
    expect(roomLabel('acme/general', undefined)).toBe('general');
    expect(roomLabel('lobby', meta('lobby', { title: 'The Lobby' }))).toBe('The Lobby');
    expect(roomReference('acme/general', undefined)).toBe('#acme/general');
    expect(roomReference(PLANS, meta(PLANS, { title: 'Plans' }))).toBe('Plans');
  });

  it('reads a summary, a server without members reading as public rooms', () => {
    expect(
      metaOf({
        name: DM,
        online: 0,
        last_seq: 0,
        epoch: 1,
        last_message_at: null,
        visibility: 'direct',
        topic: '',
        role: 'member',
        peer: { user_id: BOB, name: 'Bob' },
      }),
    ).toEqual({
      name: DM,
      visibility: 'direct',
      title: null,
      topic: '',
      role: 'member',
      peer: { user_id: BOB, name: 'Bob' },
    });
    const old = { name: 'lobby', online: 0, last_seq: 0, epoch: 1, last_message_at: null } as unknown as Parameters<
      typeof metaOf
    >[0];
    expect(metaOf(old)).toMatchObject({ visibility: 'public', topic: '', role: null });
  });

  it('puts public and private rooms under channels, spaces apart, direct rooms last, with unread counts', () => {
    const zoo = 'p/ffffffffffffffffffffffffffffffff';
    const metas = {
      [PLANS]: meta(PLANS, { title: 'Plans', role: 'owner' }),
      [zoo]: meta(zoo, { title: 'Aardvarks' }),
      [DM]: meta(DM, { peer: { user_id: BOB, name: 'Bob' } }),
    };
    const sections = roomSections(['random', PLANS, 'acme/general', 'lobby', DM, zoo], metas, (r) =>
      r === DM ? 3 : 0,
    );
    expect(sections.channels.map((r) => r.label)).toEqual(['lobby', 'Aardvarks', 'Plans', 'random']);
    expect(sections.channels.find((r) => r.name === PLANS)).toMatchObject({ visibility: 'private', role: 'owner' });
    expect(sections.spaces).toEqual([{ space: 'acme', rooms: [expect.objectContaining({ label: 'general' })] }]);
    expect(sections.direct).toEqual([expect.objectContaining({ name: DM, label: 'Bob', unread: 3 })]);
  });
});

describe('rooms: what a role allows', () => {
  it('owners and moderators manage; only owners give roles; nobody removes someone above or beside them', () => {
    expect([canManage('owner'), canManage('moderator'), canManage('member'), canManage(null)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect([canChangeRoles('owner'), canChangeRoles('moderator')]).toEqual([true, false]);
    expect(canRemove('owner', 'moderator')).toBe(true);
    expect(canRemove('moderator', 'member')).toBe(true);
    expect(canRemove('moderator', 'moderator')).toBe(false);
    expect(canRemove('moderator', 'owner')).toBe(false);
    expect(canRemove('member', 'member')).toBe(false);
    expect(canRemove(null, 'member')).toBe(false);
  });
});

describe('rooms: member and room events as notices', () => {
  const member = (fields: Partial<Extract<NoticeEvent, { kind: 'member' }>>, by = { user_id: CAROL, name: 'Ada' }) =>
    notice(
      PLANS,
      5,
      { kind: 'member', member: BOB, member_name: 'Bob', action: 'added', role: 'member', ...fields },
      by,
    ) as NoticeEvent;

  it('reads each member event as one line', () => {
    expect(describeNotice(member({}), null)).toBe('Ada added Bob');
    expect(describeNotice(member({ action: 'left' }, { user_id: BOB, name: 'Bob' }), null)).toBe('Bob left');
    expect(describeNotice(member({ action: 'kicked', reason: 'spam' }), null)).toBe('Ada removed Bob: spam');
    expect(describeNotice(member({ action: 'kicked' }), null)).toBe('Ada removed Bob');
    expect(describeNotice(member({ action: 'banned' }), null)).toBe('Ada banned Bob');
    expect(describeNotice(member({ action: 'banned', reason: 'abuse' }), null)).toBe('Ada banned Bob: abuse');
    expect(describeNotice(member({ action: 'unbanned' }), null)).toBe('Ada unbanned Bob');
    expect(describeNotice(member({ action: 'role', role: 'moderator' }), null)).toBe('Ada made Bob a moderator');
    expect(describeNotice(member({ action: 'role', role: 'owner' }), null)).toBe('Ada made Bob an owner');
    // The creator, added as the room is made.
    expect(describeNotice(member({}, { user_id: BOB, name: 'Bob' }), null)).toBe('Bob joined');
  });

  it('says "You" and "you"', () => {
    expect(describeNotice(member({}, { user_id: ME, name: 'Ada' }), ME)).toBe('You added Bob');
    expect(describeNotice(member({ member: ME, member_name: 'Ada' }, { user_id: CAROL, name: 'Carol' }), ME)).toBe(
      'Carol added you',
    );
    expect(
      describeNotice(member({ member: ME, member_name: 'Ada', action: 'left' }, { user_id: ME, name: 'Ada' }), ME),
    ).toBe('You left');
  });

  it('reads room events: created, renamed, a new topic — told apart by the event before', () => {
    const room = (fields: Partial<Extract<NoticeEvent, { kind: 'room' }>>) =>
      notice(
        PLANS,
        1,
        { kind: 'room', created: false, visibility: 'private', topic: '', ...fields },
        {
          user_id: CAROL,
          name: 'Ada',
        },
      ) as NoticeEvent;
    expect(describeNotice(room({ created: true, title: 'Plans' }), null)).toBe('Ada created the room');
    expect(describeNotice(room({ title: 'Plans' }), null)).toBe('Ada renamed the room to Plans');
    const before = { title: 'Plans', topic: '' };
    expect(describeNotice(room({ title: 'Plans', topic: 'Q3 launch' }), null, before)).toBe(
      'Ada changed the topic to “Q3 launch”',
    );
    expect(describeNotice(room({ title: 'Launch', topic: 'Q3' }), null, before)).toBe(
      'Ada renamed the room to Launch and changed the topic to “Q3”',
    );
    expect(describeNotice(room({ title: 'Plans' }), null, { title: 'Plans', topic: 'old' })).toBe(
      'Ada cleared the topic',
    );
  });
});
