import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChatMessage } from '../../src/core/chat';
import { storedMessageView } from '../../src/core/views';
import { MessageList } from '../../src/components/MessageList';
import { MentionContext, MessageText } from '../../src/components/MessageText';
import { BOB, ME, message } from '../helpers/fixtures';

beforeEach(() => {
  Element.prototype.scrollIntoView = vi.fn();
});

function text(content: string, names: string[] = [], myName: string | null = null) {
  return render(
    <p data-testid="text">
      <MentionContext value={{ names, myName }}>
        <MessageText text={content} />
      </MentionContext>
    </p>,
  );
}

describe('MessageText', () => {
  it('makes http and https links that open in a new tab, with neither opener nor referrer', () => {
    text('docs: https://example.com/guide and www.example.org');
    const links = screen.getAllByRole('link');
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.com/guide', 'http://www.example.org/']);
    for (const a of links) {
      expect(a).toHaveAttribute('target', '_blank');
      expect(a).toHaveAttribute('rel', 'noopener noreferrer');
    }
  });

  it('never makes a javascript: link, and shows HTML as the text it is', () => {
    const { container } = text(
      'javascript:alert(1) <a href="javascript:alert(2)">x</a> <img src=x onerror=alert(3)> <script>alert(4)</script>',
    );
    expect(screen.queryAllByRole('link')).toEqual([]);
    expect(container.querySelectorAll('a, img, script')).toHaveLength(0);
    expect(screen.getByTestId('text').textContent).toBe(
      'javascript:alert(1) <a href="javascript:alert(2)">x</a> <img src=x onerror=alert(3)> <script>alert(4)</script>',
    );
  });

  it('marks mentions of the names known, and a mention of you more strongly', () => {
    text('@Bob Kahn and @Ada, not @Nobody', ['Bob Kahn', 'Ada'], 'Ada');
    const marked = screen.getAllByTestId('mention');
    expect(marked.map((m) => [m.textContent, m.dataset.self ?? null])).toEqual([
      ['@Bob Kahn', null],
      ['@Ada', 'true'],
    ]);
    expect(screen.getByTestId('text').textContent).toBe('@Bob Kahn and @Ada, not @Nobody');
  });
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

function view(seq: number, fields: Parameters<typeof message>[2] = {}): ChatMessage {
  return storedMessageView(message('lobby', seq, { user_id: BOB, name: 'Bob', content: `m${seq}`, ...fields }), ME);
}

function list(messages: ChatMessage[], loading = false) {
  return (
    <MessageList
      room="lobby"
      messages={messages}
      hasMoreBefore={false}
      loadingOlder={false}
      loading={loading}
      handlers={handlers}
      onLoadOlder={() => {}}
      mentionScope={{ names: ['Ada'], myName: 'Ada' }}
    />
  );
}

describe('MessageList: the live part of a visit', () => {
  it('says new messages from others in a polite live region: not the list as it loads, nor older pages, nor yours', () => {
    const first = [view(3), view(4)];
    const { rerender } = render(list([], true));
    rerender(list(first));
    const log = screen.getByRole('log');
    expect(log).toHaveAttribute('aria-live', 'polite');
    expect(log).toBeEmptyDOMElement();

    // Older ones read above: nothing said.
    rerender(list([view(1), view(2), ...first]));
    expect(log).toBeEmptyDOMElement();

    // Yours: nothing said; someone else's: said, once.
    const mine = storedMessageView(message('lobby', 5, { user_id: ME, name: 'Ada', content: 'mine' }), ME);
    rerender(list([view(1), view(2), ...first, mine, view(6, { content: 'hello @Ada' })]));
    expect(
      within(log)
        .getAllByRole('paragraph')
        .map((p) => p.textContent),
    ).toEqual(['Bob: hello @Ada']);
  });

  it('puts an "Earlier messages" line above the first message from someone else that arrived live', () => {
    const first = [view(1), view(2)];
    const { rerender } = render(list(first));
    expect(screen.queryByTestId('earlier-messages')).not.toBeInTheDocument();
    rerender(list([...first, view(3, { content: 'live one' })]));
    const line = screen.getByRole('separator', { name: 'Earlier messages above, new ones below' });
    const rows = screen.getAllByTestId('message');
    // It stands between the rows of m2 and "live one".
    expect((rows[1] as Node).compareDocumentPosition(line) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(line.compareDocumentPosition(rows[2] as Node) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    // The mention of you is marked on its row.
    rerender(list([...first, view(3, { content: 'live one' }), view(4, { content: 'hi @Ada' })]));
    expect(screen.getAllByTestId('message')[3]).toHaveAttribute('data-mentions-me', 'true');
  });

  it('shows a message’s id and status from its time or its tick, by click or keyboard', async () => {
    const mine = storedMessageView(message('lobby', 1, { user_id: ME, name: 'Ada', content: 'mine' }), ME);
    render(list([mine]));
    const tick = screen.getByTestId('message-status');
    expect(tick.tagName).toBe('BUTTON');
    tick.click();
    const details = await screen.findByTestId('message-details');
    expect(within(details).getByTestId('message-details-id')).toHaveTextContent(mine.id ?? '');
    expect(within(details).getByTestId('message-details-status')).toHaveTextContent('Sent');
    // The time toggles the same details: off, then on again from the keyboard.
    const time = screen.getByTestId('message-time');
    await userEvent.click(time);
    expect(screen.queryByTestId('message-details')).not.toBeInTheDocument();
    expect(time).toHaveAttribute('aria-expanded', 'false');
    await userEvent.keyboard('{Enter}');
    expect(screen.getByTestId('message-details')).toBeInTheDocument();
    expect(time).toHaveAttribute('aria-expanded', 'true');
  });
});
