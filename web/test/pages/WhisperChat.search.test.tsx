import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type WS from 'jest-websocket-mock';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi, type Mock } from 'vitest';
import { App } from '../../src/App';
import { FakeHistory, makeClient, message, mockServer, welcome, type TestClient } from '../helpers/fixtures';

const running: TestClient[] = [];
// jsdom lays nothing out: a pane as tall as its messages, and scrolling shows as the calls made.
let scrollIntoView: Mock<(options?: ScrollIntoViewOptions) => void>;

beforeEach(() => {
  scrollIntoView = vi.fn();
  Element.prototype.scrollIntoView = scrollIntoView;
  vi.spyOn(Element.prototype, 'scrollHeight', 'get').mockReturnValue(5000);
  vi.spyOn(Element.prototype, 'clientHeight', 'get').mockReturnValue(600);
});

afterEach(() => {
  for (const t of running.splice(0)) t.client.stop();
  delete (Element.prototype as Partial<Element>).scrollIntoView;
});

/** The lobby with messages 1..=`head` (one early one saying "zanzibar"), online, rendered. */
async function setup(head = 120): Promise<{ t: TestClient; server: WS }> {
  const history = new FakeHistory();
  for (let seq = 1; seq <= head; seq++) {
    history.add('lobby', message('lobby', seq, { content: seq === 5 ? '🎉 off to zanzibar!' : `message ${seq}` }));
  }
  const t = makeClient({ history, identity: { name: 'Ada' } });
  running.push(t);
  const server = mockServer();
  render(
    <MemoryRouter initialEntries={['/chat/lobby']}>
      <App client={t.client} />
    </MemoryRouter>,
  );
  await act(async () => {
    await server.connected;
  });
  await act(async () => {
    server.send(welcome());
    server.send({ type: 'joined', room: 'lobby', seq: head, epoch: 1, recovered: false });
  });
  await screen.findByText(`message ${head}`);
  return { t, server };
}

function composer() {
  return screen.getByRole('textbox', { name: 'Message #lobby' });
}

describe('WhisperChat: search', () => {
  it('Ctrl+K opens the search with the focus in it; Escape closes it and gives the focus to the composer', async () => {
    await setup(10);
    const user = userEvent.setup();
    await user.click(composer());
    await user.keyboard('{Control>}k{/Control}');
    const dialog = await screen.findByRole('dialog', { name: 'Search messages' });
    const box = within(dialog).getByRole('combobox', { name: 'Search messages' });
    expect(box).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog', { name: 'Search messages' })).toBeNull();
    await waitFor(() => expect(composer()).toHaveFocus());
    // The header's button opens it too.
    await user.click(screen.getByRole('button', { name: 'Search messages' }));
    expect(await screen.findByRole('dialog', { name: 'Search messages' })).toBeInTheDocument();
  });

  it('shows the results with the words marked, moves through them with the arrows, and Enter opens one', async () => {
    const { t } = await setup();
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Search messages' }));
    const dialog = await screen.findByRole('dialog', { name: 'Search messages' });
    const box = within(dialog).getByRole('combobox', { name: 'Search messages' });
    await user.type(box, 'message');
    const list = await within(dialog).findByRole('listbox', { name: 'Results' });
    const options = await within(list).findAllByRole('option');
    expect(options).toHaveLength(20);
    expect(within(options[0]!).getByText('message', { selector: 'mark' })).toBeInTheDocument();
    expect(options[0]).toHaveAttribute('aria-selected', 'true');
    expect(box).toHaveAttribute('aria-activedescendant', options[0]!.id);
    await user.keyboard('{ArrowDown}{ArrowDown}{ArrowUp}');
    expect(box).toHaveAttribute('aria-activedescendant', options[1]!.id);
    expect(options[1]).toHaveAttribute('aria-selected', 'true');
    expect(within(dialog).getByRole('status')).toHaveTextContent('20+ messages');

    // Another query: only what matches it, marked after the emoji before it.
    await user.clear(box);
    await user.type(box, 'Zanzibar');
    await waitFor(() => expect(within(list).getAllByRole('option')).toHaveLength(1));
    const only = within(list).getByRole('option');
    expect(only).toHaveTextContent('🎉 off to zanzibar!');
    expect(within(only).getByText('zanzibar', { selector: 'mark' })).toBeInTheDocument();
    expect(within(only).getByText('#lobby')).toBeInTheDocument();

    await user.keyboard('{Enter}');
    expect(screen.queryByRole('dialog', { name: 'Search messages' })).toBeNull();
    // The room shows it with its neighbours, apart from the latest, and goes back to them.
    const target = await screen.findByText('🎉 off to zanzibar!', { selector: '[data-testid="message-content"]' });
    const row = target.closest('li')!;
    await waitFor(() => expect(row).toHaveAttribute('data-highlighted', 'true'));
    expect(scrollIntoView.mock.contexts).toContain(row);
    expect(scrollIntoView.mock.calls[scrollIntoView.mock.contexts.lastIndexOf(row)]).toEqual([{ block: 'center' }]);
    expect(screen.getByText('message 4')).toBeInTheDocument();
    expect(screen.getByText('message 6')).toBeInTheDocument();
    expect(screen.queryByText('message 120')).toBeNull();
    await waitFor(() => expect(composer()).toHaveFocus());
    expect(t.client.getSnapshot().rooms['lobby']?.jump?.detached).toBe(true);
    await user.click(screen.getByRole('button', { name: 'Jump to latest' }));
    expect(await screen.findByText('message 120')).toBeInTheDocument();
    expect(screen.queryByText('🎉 off to zanzibar!')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Jump to latest' })).toBeNull();
  });

  it('says when nothing matches, and shows the server’s sentence for a bad query', async () => {
    const { t } = await setup(10);
    t.history.searchWith = (params) =>
      params.get('q')?.includes('"')
        ? new Response(
            JSON.stringify({
              error: { code: 'invalid_request', message: 'q: a quoted phrase is not closed: add the closing "' },
            }),
            { status: 400 },
          )
        : new Response(JSON.stringify({ results: [], next: null }), { status: 200 });
    const user = userEvent.setup();
    await user.keyboard('{Control>}k{/Control}');
    const dialog = await screen.findByRole('dialog', { name: 'Search messages' });
    const box = within(dialog).getByRole('combobox', { name: 'Search messages' });
    await user.type(box, 'nothing');
    expect(await within(dialog).findByText('No messages match “nothing”.')).toBeInTheDocument();
    await user.clear(box);
    await user.type(box, '"friday night');
    const alert = await within(dialog).findByRole('alert');
    expect(alert).toHaveTextContent('A quoted phrase is not closed: add the closing "');
    expect(box).toHaveAttribute('aria-invalid', 'true');
  });

  it('keeps to the open room when asked', async () => {
    const { t } = await setup(10);
    const user = userEvent.setup();
    await user.keyboard('{Control>}k{/Control}');
    const dialog = await screen.findByRole('dialog', { name: 'Search messages' });
    await user.click(within(dialog).getByRole('checkbox', { name: 'Only in #lobby' }));
    await user.type(within(dialog).getByRole('combobox', { name: 'Search messages' }), 'message');
    await within(dialog).findAllByRole('option');
    const asked = t.history.requests.filter((u) => u.pathname === '/v1/search');
    expect(asked.at(-1)?.searchParams.get('room')).toBe('lobby');
    // Typing is asked once it pauses, not for every key.
    expect(asked.length).toBeLessThan('message'.length);
  });
});
