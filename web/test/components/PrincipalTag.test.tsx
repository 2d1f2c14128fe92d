import { cleanup, render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { TypingUser } from '../../src/core/chat';
import type { PresenceUser } from '../../src/core/protocol';
import { storedMessageView } from '../../src/core/views';
import { MemberList } from '../../src/components/MemberList';
import { MessageItem } from '../../src/components/MessageItem';
import { isContinuation } from '../../src/components/MessageList';
import { PrincipalTag } from '../../src/components/PrincipalTag';
import { typingText } from '../../src/components/TypingIndicator';
import { BOB, CAROL, ME, message } from '../helpers/fixtures';

const handlers = {
  retry: () => {},
  discard: () => {},
  startEdit: () => {},
  saveEdit: () => null,
  cancelEdit: () => {},
  remove: () => {},
  react: () => {},
  reply: () => {},
  showOriginal: () => {},
};

const GUEST_TITLE = 'Guest: a name anyone can pick; not a signed-in account';

/** Ada the account, and a guest who calls itself Ada too (as the server sends them: no kind for the guest). */
const realAda = message('lobby', 1, { user_id: CAROL, name: 'Ada Lovelace', principal: 'account', content: 'real' });
const fakeAda = message('lobby', 2, { user_id: BOB, name: 'Ada Lovelace', content: 'fake' });

/** One message row, alone on the page (the one before is gone). */
function row(m: ReturnType<typeof storedMessageView>, continued = false) {
  cleanup();
  render(
    <ul>
      <MessageItem message={m} continued={continued} handlers={handlers} />
    </ul>,
  );
  return screen.getByTestId('message');
}

describe('PrincipalTag', () => {
  it('says guest, bot or app, and nothing for an account', () => {
    const { rerender } = render(<PrincipalTag kind="guest" />);
    expect(screen.getByTestId('principal-tag')).toHaveTextContent('guest');
    expect(screen.getByTestId('principal-tag')).toHaveAttribute('title', GUEST_TITLE);
    rerender(<PrincipalTag kind="bot" />);
    expect(screen.getByTestId('principal-tag')).toHaveTextContent('bot');
    rerender(<PrincipalTag kind="external" />);
    expect(screen.getByTestId('principal-tag')).toHaveTextContent('app');
    rerender(<PrincipalTag kind="account" />);
    expect(screen.queryByTestId('principal-tag')).not.toBeInTheDocument();
  });
});

describe('a guest cannot pass for the account of the same name', () => {
  it("on messages: the guest's is tagged guest, the account's is not", () => {
    const fake = row(storedMessageView(fakeAda, ME));
    expect(within(fake).getByTestId('message-author')).toHaveTextContent('Ada Lovelace');
    expect(within(fake).getByTestId('principal-tag')).toHaveTextContent('guest');
    expect(within(fake).getByTitle(GUEST_TITLE)).toBeInTheDocument();

    const real = row(storedMessageView(realAda, ME));
    expect(within(real).getByTestId('message-author')).toHaveTextContent('Ada Lovelace');
    expect(within(real).queryByTestId('principal-tag')).not.toBeInTheDocument();
  });

  it('on your own messages too, as the others see them; and only where the name shows', () => {
    const mine = row(storedMessageView(message('lobby', 3, { user_id: ME, name: 'Ada' }), ME));
    expect(mine).toHaveAttribute('data-own', 'true');
    expect(within(mine).getByTestId('principal-tag')).toHaveTextContent('guest');

    const next = row(storedMessageView(fakeAda, ME), true);
    expect(within(next).queryByTestId('message-author')).not.toBeInTheDocument();
    expect(within(next).queryByTestId('principal-tag')).not.toBeInTheDocument();
  });

  it('starts a new header when the same user id posts as another kind (a guest that signed up)', () => {
    const asGuest = storedMessageView(message('lobby', 4, { user_id: ME, name: 'Grace' }), ME);
    const asGuestAgain = storedMessageView(message('lobby', 5, { user_id: ME, name: 'Grace' }), ME);
    const asAccount = storedMessageView(message('lobby', 6, { user_id: ME, name: 'Grace', principal: 'account' }), ME);
    expect(isContinuation(asGuest, asGuestAgain)).toBe(true);
    expect(isContinuation(asGuestAgain, asAccount)).toBe(false);
  });

  it('in the list of who is online', () => {
    const users: PresenceUser[] = [
      { user_id: CAROL, name: 'Ada Lovelace', principal: 'account' },
      { user_id: BOB, name: 'Ada Lovelace' },
      { user_id: ME, name: 'Me' },
    ];
    render(<MemberList users={users} me={ME} online />);
    const items = within(screen.getByTestId('presence')).getAllByRole('listitem');
    expect(items.map((li) => within(li).queryByTestId('principal-tag')?.textContent ?? null)).toEqual([
      null,
      'guest',
      'guest',
    ]);
    // The two also share a name: each gets its id tag as well.
    expect(within(items[1]!).getByTestId('id-tag')).toBeInTheDocument();
    expect(items[2]).toHaveTextContent('Meguest(you)');
  });
});

describe('typingText', () => {
  const guest: TypingUser = { userId: BOB, name: 'Ada', principal: 'guest' };
  const account: TypingUser = { userId: CAROL, name: 'Grace', principal: 'account' };
  const bot: TypingUser = { userId: ME, name: 'Helper', principal: 'bot' };

  it('says who is typing, with the kind of every name but an account', () => {
    expect(typingText([])).toBe('');
    expect(typingText([guest])).toBe('Ada (guest) is typing…');
    expect(typingText([account])).toBe('Grace is typing…');
    expect(typingText([account, guest])).toBe('Grace and Ada (guest) are typing…');
    expect(typingText([bot, { ...account, principal: 'external' }])).toBe('Helper (bot) and Grace (app) are typing…');
    expect(typingText([guest, account, bot])).toBe('Several people are typing…');
  });
});
