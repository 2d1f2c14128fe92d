import { fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi, type Mock } from 'vitest';
import type { ChatMessage } from '../../src/core/chat';
import { storedMessageView } from '../../src/core/views';
import { MessageList } from '../../src/components/MessageList';
import { ME, message } from '../helpers/fixtures';

// jsdom lays nothing out: the list's scrolling shows as the calls it makes.
let scrollIntoView: Mock<(options?: ScrollIntoViewOptions) => void>;
const HEIGHT = 5000;

beforeEach(() => {
  scrollIntoView = vi.fn();
  Element.prototype.scrollIntoView = scrollIntoView;
  vi.spyOn(Element.prototype, 'scrollHeight', 'get').mockReturnValue(HEIGHT);
});

afterEach(() => {
  delete (Element.prototype as Partial<Element>).scrollIntoView;
});

const handlers = {
  retry: () => {},
  discard: () => {},
  startEdit: () => {},
  saveEdit: () => null,
  cancelEdit: () => {},
  remove: () => {},
  react: () => {},
  reply: () => {},
};

function messages(room: string, count: number): ChatMessage[] {
  return Array.from({ length: count }, (_, i) => storedMessageView(message(room, i + 1), ME));
}

type Props = Partial<Parameters<typeof MessageList>[0]>;

function list(props: Props = {}) {
  return (
    <MessageList
      room="lobby"
      messages={[]}
      hasMoreBefore={false}
      loadingOlder={false}
      loading={false}
      handlers={handlers}
      onLoadOlder={() => {}}
      {...props}
    />
  );
}

function scroller(): HTMLElement {
  return screen.getByTestId('message-scroller');
}

/** The elements `scrollIntoView` was called on. */
function scrolledTo(): Element[] {
  return scrollIntoView.mock.contexts as Element[];
}

describe('MessageList: where a room opens', () => {
  it('opens with the "New messages" line near the top when there are unread messages', () => {
    const shown = messages('lobby', 30);
    render(list({ messages: shown, newMessagesKey: shown[24]!.key }));
    const line = screen.getByRole('separator', { name: 'New messages' });
    expect(scrolledTo()).toEqual([line]);
    expect(scrollIntoView).toHaveBeenCalledWith({ block: 'start' });
  });

  it('opens at the bottom when nothing is unread', () => {
    render(list({ messages: messages('lobby', 30) }));
    expect(scrollIntoView).not.toHaveBeenCalled();
    expect(scroller().scrollTop).toBe(HEIGHT);
  });

  it('waits at the bottom for the messages and the line, then opens at the line', () => {
    const shown = messages('lobby', 30);
    const { rerender } = render(list({ loading: true, newMessagesKnown: false }));
    rerender(list({ messages: shown, newMessagesKnown: false }));
    expect(scrollIntoView).not.toHaveBeenCalled();
    expect(scroller().scrollTop).toBe(HEIGHT);

    // The room is joined: the server's watermark places the line.
    rerender(list({ messages: shown, newMessagesKey: shown[10]!.key, newMessagesKnown: true }));
    expect(scrolledTo()).toEqual([screen.getByRole('separator', { name: 'New messages' })]);
  });

  it('goes to the line once: later messages and reactions do not pull the reader back', () => {
    const shown = messages('lobby', 30);
    const key = shown[20]!.key;
    const { rerender } = render(list({ messages: shown, newMessagesKey: key }));
    rerender(list({ messages: [...shown, ...messages('lobby', 1)], newMessagesKey: key }));
    rerender(list({ messages: [...shown], newMessagesKey: key }));
    expect(scrollIntoView).toHaveBeenCalledTimes(1);
  });

  it('stays at the bottom when a line appears after the room opened without one', () => {
    const shown = messages('lobby', 30);
    const { rerender } = render(list({ messages: shown }));
    // Someone writes while you read: the line marks it, the list sticks to the bottom.
    const more = [...shown, storedMessageView(message('lobby', 31), ME)];
    rerender(list({ messages: more, newMessagesKey: more[30]!.key }));
    expect(screen.getByRole('separator', { name: 'New messages' })).toBeInTheDocument();
    expect(scrollIntoView).not.toHaveBeenCalled();
  });

  it('does not move a reader who scrolled before the line was known', () => {
    const shown = messages('lobby', 30);
    const { rerender } = render(list({ messages: shown, newMessagesKnown: false }));
    fireEvent.wheel(scroller(), { deltaY: -300 });
    rerender(list({ messages: shown, newMessagesKey: shown[5]!.key, newMessagesKnown: true }));
    expect(scrollIntoView).not.toHaveBeenCalled();
  });

  it('opens each room afresh: at its line, or at its bottom', () => {
    const lobby = messages('lobby', 30);
    const general = messages('general', 30);
    const { rerender } = render(list({ messages: lobby }));
    rerender(list({ room: 'general', messages: general, newMessagesKey: general[3]!.key }));
    expect(scrolledTo()).toEqual([screen.getByRole('separator', { name: 'New messages' })]);
    rerender(list({ room: 'lobby', messages: lobby }));
    expect(scrollIntoView).toHaveBeenCalledTimes(1);
    expect(scroller().scrollTop).toBe(HEIGHT);
  });
});
