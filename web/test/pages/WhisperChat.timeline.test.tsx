import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type WS from 'jest-websocket-mock';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../src/App';
import type { ClientFrame } from '../../src/core/protocol';
import {
  BOB,
  CAROL,
  FakeHistory,
  ME,
  RETRY_BY_HAND,
  event,
  makeClient,
  message,
  mockServer,
  welcome,
  type TestClient,
} from '../helpers/fixtures';

const running: TestClient[] = [];

afterEach(() => {
  for (const t of running.splice(0)) t.client.stop();
});

function setup(options: Parameters<typeof makeClient>[0] = {}): TestClient {
  let n = 0;
  const t = makeClient({ identity: { name: 'Ada' }, newClientId: () => `c-${++n}`, ...options });
  running.push(t);
  return t;
}

function renderApp(t: TestClient, path = '/chat/lobby') {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <App client={t.client} />
    </MemoryRouter>,
  );
}

async function serverSends(server: WS, ...frames: object[]) {
  await act(async () => {
    for (const frame of frames) server.send(frame);
  });
}

/** Waits for the connection, answers with welcome and a joined lobby (with `extra` fields). */
async function handshake(server: WS, lobbySeq = 0, extra: object = {}) {
  await act(async () => {
    await server.connected;
  });
  await serverSends(server, welcome(), {
    type: 'joined',
    room: 'lobby',
    seq: lobbySeq,
    epoch: 1,
    recovered: true,
    ...extra,
  });
  await waitFor(() => expect(screen.getAllByTestId('connection-status')[0]).toHaveTextContent('Online'));
}

function changes(server: WS): ClientFrame[] {
  return (server.messages as ClientFrame[]).filter((f) => ['edit', 'delete', 'react'].includes(f.type));
}

/** The row of the message whose text is `text`. */
async function row(text: string): Promise<HTMLElement> {
  const content = await screen.findByText(text, { selector: '[data-testid="message-content"]' });
  const li = content.closest('li');
  if (!li) throw new Error(`no row for ${text}`);
  return li;
}

function composer() {
  return screen.getByRole('textbox', { name: 'Message #lobby' });
}

describe('WhisperChat timeline: edit and delete', () => {
  it('edits your message in place from its Edit action: Enter saves, "(edited)" tells when', async () => {
    const history = new FakeHistory();
    const mine = message('lobby', 1, { user_id: ME, name: 'Ada', content: 'helo' });
    history.add('lobby', mine, message('lobby', 2, { content: 'from Bob' }));
    const server = mockServer();
    renderApp(setup({ history }));
    await handshake(server, 2);
    const user = userEvent.setup();
    // Only your own messages can be edited.
    expect(within(await row('from Bob')).queryByRole('button', { name: 'Edit message' })).toBeNull();

    await user.click(within(await row('helo')).getByRole('button', { name: 'Edit message' }));
    const editor = screen.getByRole('textbox', { name: 'Edited message' });
    expect(editor).toHaveValue('helo');
    expect(editor).toHaveFocus();
    await user.clear(editor);
    await user.type(editor, 'hello{Enter}');

    expect(screen.queryByRole('textbox', { name: 'Edited message' })).not.toBeInTheDocument();
    const edited = await row('hello');
    expect(within(edited).getByTestId('message-edited')).toHaveAttribute('title', expect.stringMatching(/^Edited /));
    expect(composer()).toHaveFocus();
    await waitFor(() =>
      expect(changes(server)).toEqual([
        { type: 'edit', room: 'lobby', id: mine.id, content: 'hello', client_id: 'c-1' },
      ]),
    );
  });

  it('edits your last message with Up in the empty composer, and Escape cancels', async () => {
    const history = new FakeHistory();
    history.add(
      'lobby',
      message('lobby', 1, { user_id: ME, name: 'Ada', content: 'older' }),
      message('lobby', 2, { user_id: ME, name: 'Ada', content: 'latest' }),
      message('lobby', 3, { content: 'from Bob' }),
    );
    const server = mockServer();
    renderApp(setup({ history }));
    await handshake(server, 3);
    const user = userEvent.setup();
    await row('from Bob');

    // Not while there is text: Up moves the caret then.
    await user.type(composer(), 'draft{ArrowUp}');
    expect(screen.queryByRole('textbox', { name: 'Edited message' })).not.toBeInTheDocument();
    await user.clear(composer());

    await user.type(composer(), '{ArrowUp}');
    const editor = await screen.findByRole('textbox', { name: 'Edited message' });
    expect(editor).toHaveValue('latest');
    expect(editor.closest('li')).toBe(screen.getAllByTestId('message')[1]);
    await user.type(editor, ' and more{Escape}');
    expect(screen.queryByRole('textbox', { name: 'Edited message' })).not.toBeInTheDocument();
    expect(await row('latest')).toBeInTheDocument();
    expect(composer()).toHaveFocus();
    expect(changes(server)).toEqual([]);
  });

  it('deletes after a confirm step in the page; a deleted message shows "message deleted" and no actions', async () => {
    const history = new FakeHistory();
    const mine = message('lobby', 1, { user_id: ME, name: 'Ada', content: 'oops', reactions: [] });
    history.add('lobby', mine, message('lobby', 2, { content: 'from Bob' }));
    const server = mockServer();
    renderApp(setup({ history }));
    await handshake(server, 2);
    const user = userEvent.setup();

    const oops = await row('oops');
    await user.click(within(oops).getByRole('button', { name: 'Delete message' }));
    const confirm = within(oops).getByRole('alertdialog', { name: 'Delete message?' });
    await user.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(within(oops).queryByRole('alertdialog')).not.toBeInTheDocument();
    expect(changes(server)).toEqual([]);

    await user.click(within(oops).getByRole('button', { name: 'Delete message' }));
    await user.click(within(oops).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(within(oops).getByTestId('message-deleted')).toHaveTextContent('message deleted'));
    expect(oops).toHaveAttribute('data-deleted', 'true');
    expect(within(oops).queryByTestId('message-content')).toBeNull();
    expect(within(oops).queryByRole('toolbar')).toBeNull();
    await waitFor(() =>
      expect(changes(server)).toEqual([{ type: 'delete', room: 'lobby', id: mine.id, client_id: 'c-1' }]),
    );

    // Someone else's delete arrives as an event.
    const bobs = await row('from Bob');
    const bobMessage = history.rooms.get('lobby')![1]!;
    await serverSends(server, { type: 'events', room: 'lobby', data: [event(3, bobMessage, { kind: 'delete' })] });
    await waitFor(() => expect(within(bobs).getByTestId('message-deleted')).toBeInTheDocument());
  });
});

describe('WhisperChat timeline: reactions and replies', () => {
  it('reacts from the picker; a chip counts, is pressed for yours, says who, and a click takes yours back', async () => {
    const history = new FakeHistory();
    const bobs = message('lobby', 1, {
      content: 'Ship it?',
      reactions: [{ emoji: '👍', count: 1, users: [CAROL] }],
    });
    history.add('lobby', bobs);
    const server = mockServer();
    renderApp(setup({ history }));
    await handshake(server, 1);
    await serverSends(server, {
      type: 'presence',
      room: 'lobby',
      users: [
        { user_id: ME, name: 'Ada' },
        { user_id: CAROL, name: 'Carol' },
      ],
    });
    const user = userEvent.setup();
    const ship = await row('Ship it?');
    const thumbs = within(ship).getByRole('button', { name: '👍 1' });
    expect(thumbs).toHaveAttribute('aria-pressed', 'false');
    await waitFor(() => expect(thumbs).toHaveAttribute('title', 'Carol reacted with 👍'));

    await user.click(within(ship).getByRole('button', { name: 'React' }));
    await user.click(within(ship).getByRole('button', { name: 'React with 🎉' }));
    expect(within(ship).queryByRole('group', { name: 'Pick a reaction' })).not.toBeInTheDocument();
    expect(within(ship).getByRole('button', { name: '🎉 1' })).toHaveAttribute('aria-pressed', 'true');

    await user.click(thumbs);
    const two = within(ship).getByRole('button', { name: '👍 2' });
    expect(two).toHaveAttribute('aria-pressed', 'true');
    expect(two).toHaveAttribute('title', 'Carol and You reacted with 👍');

    await user.click(within(ship).getByRole('button', { name: '🎉 1' }));
    expect(within(ship).queryByRole('button', { name: /🎉/ })).not.toBeInTheDocument();
    await waitFor(() =>
      expect(changes(server).map((f) => f.type === 'react' && `${f.emoji}${f.on ? '+' : '-'}`)).toEqual([
        '🎉+',
        '👍+',
        '🎉-',
      ]),
    );
  });

  it('replies: the quote goes above the composer with a ×, is sent as reply_to, and jumps to the original', async () => {
    const history = new FakeHistory();
    const lunch = message('lobby', 1, { content: 'Lunch?\nAt noon.' });
    history.add('lobby', lunch, message('lobby', 2, { user_id: CAROL, name: 'Carol', content: 'In between' }));
    const server = mockServer();
    renderApp(setup({ history }));
    await handshake(server, 2);
    const user = userEvent.setup();
    const original = await row('Lunch? At noon.');

    await user.click(within(original).getByRole('button', { name: 'Reply' }));
    const quote = screen.getByTestId('composer-reply');
    expect(quote).toHaveTextContent('Replying toBobLunch?');
    expect(composer()).toHaveFocus();
    await user.click(within(quote).getByRole('button', { name: 'Cancel reply' }));
    expect(screen.queryByTestId('composer-reply')).not.toBeInTheDocument();

    await user.click(within(original).getByRole('button', { name: 'Reply' }));
    await user.type(composer(), 'Yes!{Enter}');
    expect(screen.queryByTestId('composer-reply')).not.toBeInTheDocument();
    await waitFor(() =>
      expect((server.messages as ClientFrame[]).filter((f) => f.type === 'messages')).toEqual([
        { type: 'messages', data: [{ content: 'Yes!', client_id: 'c-1', room: 'lobby', reply_to: lunch.id }] },
      ]),
    );
    const reply = await row('Yes!');
    const shown = within(reply).getByRole('button', { name: 'Original message by Bob: Lunch?' });
    await user.click(shown);
    expect(original).toHaveAttribute('data-highlighted', 'true');
    await waitFor(() => expect(original).not.toHaveAttribute('data-highlighted'), { timeout: 3000 });
  });
});

describe('WhisperChat timeline: read state', () => {
  it('shows ✓ once stored and ✓✓ with who saw it once their receipt reaches the message', async () => {
    const history = new FakeHistory();
    history.add('lobby', message('lobby', 1, { user_id: ME, name: 'Ada', content: 'Morning!' }));
    const server = mockServer();
    renderApp(setup({ history }));
    await handshake(server, 1);
    await serverSends(server, { type: 'presence', room: 'lobby', users: [{ user_id: BOB, name: 'Bob' }] });
    const morning = await row('Morning!');
    const status = within(morning).getByTestId('message-status');
    expect(status).toHaveAttribute('data-status', 'sent');
    expect(status).not.toHaveAttribute('data-read');
    expect(within(morning).queryByTestId('message-receipt')).toBeNull();

    await serverSends(server, { type: 'receipt', room: 'lobby', user_id: BOB, seq: 1 });
    await waitFor(() => expect(within(morning).getByTestId('message-receipt')).toHaveAttribute('title', 'Seen by Bob'));
    expect(status).toHaveAttribute('data-read', 'true');
    expect(status.getAttribute('title')).toMatch(/^Sent · id /);
  });

  it('draws a "New messages" line above the first message unread when the room opened', async () => {
    const history = new FakeHistory();
    history.add('lobby', ...[1, 2, 3].map((seq) => message('lobby', seq)));
    const server = mockServer();
    renderApp(setup({ history }));
    await row('message 3');
    expect(screen.queryByRole('separator', { name: 'New messages' })).not.toBeInTheDocument();
    await handshake(server, 3, { read_seq: 1, unread: 2 });
    const line = await screen.findByRole('separator', { name: 'New messages' });
    // The separator is in an item of its own (a list holds only items), right before the row.
    expect(line.parentElement?.nextElementSibling).toBe(await row('message 2'));
  });

  it('opens the room at the "New messages" line once joined says where it is, and at the bottom otherwise', async () => {
    const scrollIntoView = vi.fn();
    Element.prototype.scrollIntoView = scrollIntoView;
    try {
      const history = new FakeHistory();
      history.add('lobby', ...[1, 2, 3].map((seq) => message('lobby', seq)));
      history.add('general', message('general', 1, { content: 'over in general' }));
      const server = mockServer();
      renderApp(setup({ history }));
      await row('message 3');
      expect(scrollIntoView).not.toHaveBeenCalled();
      await handshake(server, 3, { read_seq: 1, unread: 2 });
      const line = await screen.findByRole('separator', { name: 'New messages' });
      await waitFor(() => expect(scrollIntoView.mock.contexts).toEqual([line]));

      // Joined with nothing unread: the bottom, as before.
      scrollIntoView.mockClear();
      const user = userEvent.setup();
      const discover = await screen.findByRole('region', { name: 'Discover rooms' });
      await user.click(await within(discover).findByRole('button', { name: /general/ }));
      await serverSends(server, { type: 'joined', room: 'general', seq: 1, epoch: 1, recovered: true, read_seq: 1 });
      await row('over in general');
      expect(screen.queryByRole('separator', { name: 'New messages' })).not.toBeInTheDocument();
      expect(scrollIntoView).not.toHaveBeenCalled();
    } finally {
      delete (Element.prototype as Partial<Element>).scrollIntoView;
    }
  });

  it('says when a change failed: Retry sends it again, Undo rolls it back; one refused for good rolls back with a notice', async () => {
    const history = new FakeHistory();
    const mine = message('lobby', 1, { user_id: ME, name: 'Ada', content: 'draft one' });
    history.add('lobby', mine);
    const server = mockServer();
    renderApp(setup({ history, retryBackoff: RETRY_BY_HAND }));
    await handshake(server, 1);
    const user = userEvent.setup();
    await user.click(within(await row('draft one')).getByRole('button', { name: 'Edit message' }));
    await user.type(screen.getByRole('textbox', { name: 'Edited message' }), ' and two{Enter}');
    await waitFor(() => expect(changes(server)).toHaveLength(1));
    const unavailable = { code: 'storage_unavailable', message: 'the store is unavailable' };
    await serverSends(server, { type: 'ack', client_id: 'c-1', status: 'error', error: unavailable });
    const failed = await screen.findByTestId('change-failed');
    expect(failed).toHaveTextContent("Couldn't edit");
    expect(await row('draft one and two')).toContainElement(failed);

    await user.click(within(failed).getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(changes(server)).toHaveLength(2));
    expect(changes(server)[1]).toEqual(changes(server)[0]);
    expect(screen.queryByTestId('change-failed')).not.toBeInTheDocument();
    await serverSends(server, { type: 'ack', client_id: 'c-1', status: 'error', error: unavailable });
    await user.click(within(await screen.findByTestId('change-failed')).getByRole('button', { name: 'Undo' }));
    expect(await row('draft one')).toBeInTheDocument();

    await user.click(within(await row('draft one')).getByRole('button', { name: 'Delete message' }));
    await user.click(screen.getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(changes(server)).toHaveLength(3));
    await serverSends(server, {
      type: 'ack',
      client_id: 'c-2',
      status: 'error',
      error: { code: 'not_found', message: 'no such message, or it was deleted' },
    });
    expect(await screen.findByRole('alert')).toHaveTextContent("Couldn't delete the message.");
    expect(await row('draft one')).not.toHaveAttribute('data-deleted');
  });
});
