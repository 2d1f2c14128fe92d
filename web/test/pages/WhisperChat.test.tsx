import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type WS from 'jest-websocket-mock';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/App';
import type { ClientFrame } from '../../src/core/protocol';
import { MemoryStore } from '../../src/core/store';
import {
  BOB,
  CAROL,
  FakeHistory,
  ME,
  RETRY_BY_HAND,
  makeClient,
  message,
  mockServer,
  restartServer,
  welcome,
  type TestClient,
} from '../helpers/fixtures';

const running: TestClient[] = [];

afterEach(() => {
  for (const t of running.splice(0)) t.client.stop();
});

function setup(options: Parameters<typeof makeClient>[0] = {}): TestClient {
  const t = makeClient({ identity: { name: 'Ada' }, ...options });
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

/** Runs `fn` (which makes the mock server send frames) inside React's act. */
async function serverSends(server: WS, ...frames: object[]) {
  await act(async () => {
    for (const frame of frames) server.send(frame);
  });
}

/** Waits for the connection, answers with welcome and a joined lobby. */
async function handshake(server: WS, lobbySeq = 0) {
  await act(async () => {
    await server.connected;
  });
  await serverSends(server, welcome(), { type: 'joined', room: 'lobby', seq: lobbySeq, epoch: 1, recovered: false });
  await waitFor(() => expect(screen.getAllByTestId('connection-status')[0]).toHaveTextContent('Online'));
}

function sent(server: WS, type: ClientFrame['type']): ClientFrame[] {
  return (server.messages as ClientFrame[]).filter((f) => f.type === type);
}

function messageRows() {
  return screen.queryAllByTestId('message');
}

function contents() {
  return screen.queryAllByTestId('message-content').map((el) => el.textContent);
}

describe('WhisperChat page', () => {
  it('connects on load, with an empty room and the saved name', async () => {
    const server = mockServer();
    renderApp(setup());
    const socket = await server.connected;
    const url = new URL(socket.url);
    expect(url.pathname).toBe('/v1/chat/ws');
    expect(url.searchParams.get('room')).toBe('');
    expect(url.searchParams.get('name')).toBe('Ada');
    expect(screen.getAllByTestId('connection-status')[0]).toHaveAttribute('data-state', 'connecting');
    await serverSends(server, welcome());
    await waitFor(() => expect(screen.getAllByTestId('connection-status')[0]).toHaveTextContent('Online'));
    await waitFor(() => expect(sent(server, 'join')).toMatchObject([{ type: 'join', room: 'lobby' }]));
  });

  it('asks for a display name on the first visit, then connects with it', async () => {
    const server = mockServer();
    const t = setup({ identity: { name: null } });
    renderApp(t);
    const dialog = await screen.findByRole('dialog');
    const user = userEvent.setup();
    await user.type(within(dialog).getByRole('textbox', { name: 'Display name' }), 'Grace Hopper');
    await user.click(within(dialog).getByRole('button', { name: 'Start chatting' }));
    const socket = await server.connected;
    expect(new URL(socket.url).searchParams.get('name')).toBe('Grace Hopper');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(JSON.parse(localStorage.getItem('whisperchat.identity') ?? 'null')).toBeNull(); // tests use memory prefs
    expect(t.client.getSnapshot().identity.name).toBe('Grace Hopper');
  });

  it('shows the room history with sender names and times', async () => {
    const history = new FakeHistory();
    history.add(
      'lobby',
      message('lobby', 1, { name: 'Bob', content: 'Anyone here?' }),
      message('lobby', 2, { user_id: CAROL, name: 'Carol', content: 'Hi Bob' }),
    );
    const server = mockServer();
    renderApp(setup({ history }));
    await handshake(server, 2);
    await waitFor(() => expect(contents()).toEqual(['Anyone here?', 'Hi Bob']));
    expect(screen.getAllByTestId('message-author').map((el) => el.textContent)).toEqual(['Bob', 'Carol']);
    expect(messageRows()[0]?.querySelector('time')).toHaveAttribute('dateTime', '2026-11-22T20:00:01.000Z');
  });

  it('sends on Enter: shown at once as sending, then sent with its id on message_ids', async () => {
    const server = mockServer();
    renderApp(setup({ newClientId: () => 'cid-1' }));
    await handshake(server);
    const user = userEvent.setup();
    await user.type(screen.getByRole('textbox', { name: 'Message #lobby' }), 'Hello there{Enter}');

    const row = await screen.findByTestId('message');
    expect(row).toHaveAttribute('data-status', 'sending');
    expect(within(row).getByTestId('message-status')).toHaveTextContent('Sending…');
    expect(screen.getByRole('textbox', { name: 'Message #lobby' })).toHaveValue('');
    await waitFor(() =>
      expect(sent(server, 'messages')).toEqual([
        { type: 'messages', data: [{ content: 'Hello there', client_id: 'cid-1', room: 'lobby' }] },
      ]),
    );

    await serverSends(server, {
      type: 'message_ids',
      status: 'success',
      message_ids: ['01M82E015SE8SD9312WHF08FBH'],
      client_ids: ['cid-1'],
    });
    await waitFor(() => expect(screen.getByTestId('message')).toHaveAttribute('data-status', 'sent'));
    expect(screen.getByTestId('message-status')).toHaveAttribute('title', 'Sent · id 01M82E015SE8SD9312WHF08FBH');

    await serverSends(server, {
      type: 'messages',
      room: 'lobby',
      data: [
        message('lobby', 1, {
          id: '01M82E015SE8SD9312WHF08FBH',
          user_id: ME,
          name: 'Ada',
          content: 'Hello there',
          client_id: 'cid-1',
        }),
      ],
    });
    await waitFor(() => expect(contents()).toEqual(['Hello there']));
    expect(screen.getByTestId('message')).toHaveAttribute('data-status', 'sent');
  });

  it('makes a new line with Shift+Enter instead of sending', async () => {
    const server = mockServer();
    renderApp(setup());
    await handshake(server);
    const user = userEvent.setup();
    const box = screen.getByRole('textbox', { name: 'Message #lobby' });
    await user.type(box, 'line one{Shift>}{Enter}{/Shift}line two');
    expect(box).toHaveValue('line one\nline two');
    expect(sent(server, 'messages')).toEqual([]);
    await user.type(box, '{Enter}');
    await waitFor(() => expect(sent(server, 'messages')).toHaveLength(1));
    expect(screen.getByTestId('message-content')).toHaveTextContent('line one line two');
    expect(screen.getByTestId('message-content').textContent).toBe('line one\nline two');
    expect(screen.getByTestId('message-content').parentElement?.className).toContain('whitespace-pre-wrap');
    // Laid out in its own direction: an Arabic or Hebrew message reads right to left.
    expect(screen.getByTestId('message-content').parentElement).toHaveAttribute('dir', 'auto');
  });

  it('marks a refused message failed with the reason, and Resend sends it again with the same client_id', async () => {
    const server = mockServer();
    renderApp(setup({ newClientId: () => 'cid-fail', retryBackoff: RETRY_BY_HAND }));
    await handshake(server);
    const user = userEvent.setup();
    await user.type(screen.getByRole('textbox', { name: 'Message #lobby' }), 'Will it fail?{Enter}');
    await waitFor(() => expect(sent(server, 'messages')).toHaveLength(1));

    await serverSends(server, {
      type: 'message_ids',
      status: 'error',
      message_ids: [],
      client_ids: ['cid-fail'],
      error: { code: 'rate_limited', message: 'at most 20 messages per second (burst 40); retry in 50 ms' },
    });
    const failed = await screen.findByTestId('message-failed');
    expect(failed).toHaveTextContent(
      'Not sent: You are sending messages faster than the server allows. It will be sent again by itself in a moment.',
    );
    expect(screen.getByTestId('message')).toHaveAttribute('data-status', 'failed');

    await user.click(within(failed).getByRole('button', { name: 'Resend' }));
    await waitFor(() => expect(sent(server, 'messages')).toHaveLength(2));
    expect(sent(server, 'messages')[1]).toEqual({
      type: 'messages',
      data: [{ content: 'Will it fail?', client_id: 'cid-fail', room: 'lobby' }],
    });
    expect(screen.getByTestId('message')).toHaveAttribute('data-status', 'sending');
    await serverSends(server, {
      type: 'message_ids',
      status: 'success',
      message_ids: ['01X'],
      client_ids: ['cid-fail'],
    });
    await waitFor(() => expect(screen.getByTestId('message')).toHaveAttribute('data-status', 'sent'));
    expect(screen.queryByTestId('message-failed')).not.toBeInTheDocument();
  });

  it('after a reconnect resends unacked messages automatically, without duplicates', async () => {
    let server = mockServer();
    const ids = ['cid-a', 'cid-b'];
    renderApp(setup({ newClientId: () => ids.shift() ?? 'cid-x' }));
    await handshake(server);
    const user = userEvent.setup();
    const box = screen.getByRole('textbox', { name: 'Message #lobby' });
    await user.type(box, 'first{Enter}');
    await user.type(box, 'second{Enter}');
    await waitFor(() => expect(sent(server, 'messages')).toHaveLength(2));
    // Only the first is acked (and broadcast) before the connection drops.
    await serverSends(
      server,
      { type: 'message_ids', status: 'success', message_ids: ['01A'], client_ids: ['cid-a'] },
      {
        type: 'messages',
        room: 'lobby',
        data: [message('lobby', 1, { id: '01A', user_id: ME, name: 'Ada', content: 'first', client_id: 'cid-a' })],
      },
    );

    await act(async () => {
      server = await restartServer(server);
    });
    await waitFor(() => expect(screen.getAllByTestId('connection-status')[0]).not.toHaveTextContent('Online'));
    await act(async () => {
      await server.connected;
    });
    await serverSends(server, welcome());
    await waitFor(() => expect(sent(server, 'messages')).toHaveLength(1));
    expect(sent(server, 'join')).toEqual([{ type: 'join', room: 'lobby', since_seq: 1, epoch: 1 }]);
    expect(sent(server, 'messages')[0]).toEqual({
      type: 'messages',
      data: [{ content: 'second', client_id: 'cid-b', room: 'lobby' }],
    });

    // The server had stored it before the drop: the replay and the ack both name it.
    await serverSends(
      server,
      { type: 'joined', room: 'lobby', seq: 2, epoch: 1, recovered: true },
      {
        type: 'messages',
        room: 'lobby',
        recovered: true,
        data: [message('lobby', 2, { id: '01B', user_id: ME, name: 'Ada', content: 'second', client_id: 'cid-b' })],
      },
      { type: 'message_ids', status: 'success', message_ids: ['01B'], client_ids: ['cid-b'] },
    );
    await waitFor(() => expect(contents()).toEqual(['first', 'second']));
    expect(messageRows().map((r) => r.getAttribute('data-status'))).toEqual(['sent', 'sent']);
  });

  it("shows others' messages as they arrive", async () => {
    const server = mockServer();
    renderApp(setup());
    await handshake(server);
    await serverSends(server, {
      type: 'messages',
      room: 'lobby',
      data: [message('lobby', 1, { user_id: BOB, name: 'Bob', content: 'Hi Ada' })],
    });
    expect(await screen.findByText('Hi Ada')).toBeInTheDocument();
    expect(screen.getByTestId('message-author')).toHaveTextContent('Bob');
    expect(screen.getByTestId('message')).not.toHaveAttribute('data-status');
  });

  it('lists the online users of the current room', async () => {
    const server = mockServer();
    renderApp(setup());
    await handshake(server);
    await serverSends(server, {
      type: 'presence',
      room: 'lobby',
      users: [
        { user_id: ME, name: 'Ada' },
        { user_id: BOB, name: 'Bob' },
        { user_id: CAROL, name: 'Carol', principal: 'account' },
      ],
    });
    const list = await screen.findByTestId('presence');
    expect(
      within(list)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual(['AAdaguest(you)', 'BBobguest', 'CCarol']);
    expect(screen.getByTestId('online-count')).toHaveTextContent('3');
  });

  it('tags two people who show the same name with their user ids, in the list and on messages', async () => {
    const server = mockServer();
    renderApp(setup());
    await handshake(server);
    await serverSends(server, {
      type: 'presence',
      room: 'lobby',
      users: [
        { user_id: ME, name: 'Ada' },
        { user_id: BOB, name: 'Bob' },
        { user_id: CAROL, name: 'bob' },
      ],
    });
    await serverSends(server, {
      type: 'messages',
      room: 'lobby',
      data: [
        message('lobby', 1, { user_id: BOB, name: 'Bob', content: 'I am the real Bob' }),
        message('lobby', 2, { user_id: ME, name: 'Ada', content: 'hi' }),
      ],
    });
    const list = await screen.findByTestId('presence');
    const tags = within(list)
      .getAllByTestId('id-tag')
      .map((t) => t.textContent);
    expect(tags).toEqual([`#${BOB.slice(0, 4)}`, `#${CAROL.slice(0, 4)}`]);
    const authors = (await screen.findAllByTestId('message-author')).map((a) => a.textContent);
    expect(authors).toEqual([`Bob#${BOB.slice(0, 4)}`, 'Ada']);
  });

  it('shows who is typing, and sends typing while you type', async () => {
    const server = mockServer();
    // Shown long enough that a slow render cannot miss it, short enough to
    // watch it go away.
    renderApp(setup({ typingShowMs: 1000 }));
    await handshake(server);
    await serverSends(server, { type: 'typing', room: 'lobby', user_id: BOB, name: 'Bob' });
    expect(await screen.findByTestId('typing')).toHaveTextContent('Bob (guest) is typing…');
    await waitFor(() => expect(screen.queryByTestId('typing')).not.toBeInTheDocument(), { timeout: 5000 });

    const user = userEvent.setup();
    await user.type(screen.getByRole('textbox', { name: 'Message #lobby' }), 'hmm');
    await waitFor(() => expect(sent(server, 'typing')).toEqual([{ type: 'typing', room: 'lobby' }]));
  });

  it('shows HTML and script in messages as plain text and runs nothing', async () => {
    const server = mockServer();
    const attack = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>';
    renderApp(setup());
    await handshake(server);
    await serverSends(server, {
      type: 'messages',
      room: 'lobby',
      data: [message('lobby', 1, { content: attack, name: '<i>Mallory</i>' })],
    });
    const content = await screen.findByTestId('message-content');
    expect(content.textContent).toBe(attack);
    expect(content.querySelector('img, script, b')).toBeNull();
    expect(document.querySelector('img[src="x"]')).toBeNull();
    expect(screen.getByTestId('message-author').textContent).toBe('<i>Mallory</i>');
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it('keeps a draft per room, across room switches and reloads', async () => {
    const store = new MemoryStore();
    const first = setup({ store });
    const view = renderApp(first);
    const user = userEvent.setup();
    await user.type(await screen.findByRole('textbox', { name: 'Message #lobby' }), 'unfinished thought');

    await user.type(screen.getByRole('textbox', { name: 'Join or create a room' }), 'random{Enter}');
    const randomBox = await screen.findByRole('textbox', { name: 'Message #random' });
    expect(randomBox).toHaveValue('');
    await user.click(screen.getByRole('button', { name: 'lobby' }));
    expect(await screen.findByRole('textbox', { name: 'Message #lobby' })).toHaveValue('unfinished thought');
    await waitFor(() => expect(store.drafts.get('lobby')).toBe('unfinished thought'));

    view.unmount();
    first.client.stop();
    renderApp(setup({ store }));
    expect(await screen.findByRole('textbox', { name: 'Message #lobby' })).toHaveValue('unfinished thought');
  });

  it('shows cached messages after a reload before the network answers', async () => {
    const store = new MemoryStore();
    await store.saveRoom({
      room: 'lobby',
      epoch: 3,
      contiguousSeq: 2,
      readSeq: 2,
      messages: [message('lobby', 1, { content: 'from the cache' }), message('lobby', 2, { content: 'me too' })],
    });
    const history = new FakeHistory();
    history.down = true;
    renderApp(setup({ store, history }));
    await waitFor(() => expect(contents()).toEqual(['from the cache', 'me too']));
  });

  it('joins or creates a room by name, grouped by space in the sidebar, with unread counts', async () => {
    const server = mockServer();
    renderApp(setup());
    await handshake(server);
    const user = userEvent.setup();
    await user.type(screen.getByRole('textbox', { name: 'Join or create a room' }), 'Acme/General{Enter}');
    await screen.findByRole('heading', { name: /general/ });
    await waitFor(() => expect(sent(server, 'join').map((f) => f.type === 'join' && f.room)).toContain('acme/general'));
    const space = screen.getByRole('region', { name: 'Space acme' });
    expect(within(space).getByRole('button', { name: /^general/ })).toHaveAttribute('aria-current', 'page');

    await user.click(screen.getByRole('button', { name: 'lobby' }));
    await serverSends(
      server,
      { type: 'joined', room: 'acme/general', seq: 0, epoch: 0, recovered: true },
      { type: 'messages', room: 'acme/general', data: [message('acme/general', 1), message('acme/general', 2)] },
    );
    expect(await screen.findByTestId('unread-acme/general')).toHaveTextContent('2');
    await user.click(
      within(screen.getByRole('region', { name: 'Space acme' })).getByRole('button', { name: /^general/ }),
    );
    await waitFor(() => expect(screen.queryByTestId('unread-acme/general')).not.toBeInTheDocument());
  });

  it('loads older messages with before_seq', async () => {
    const history = new FakeHistory();
    history.add('lobby', ...Array.from({ length: 60 }, (_, i) => message('lobby', i + 1, { content: `m${i + 1}` })));
    renderApp(setup({ history }));
    await waitFor(() => expect(contents()).toHaveLength(50));
    const user = userEvent.setup();
    // jsdom has no layout, so the "short history" auto-load may already have run.
    const button = screen.queryByRole('button', { name: 'Load older messages' });
    if (button) await user.click(button);
    await waitFor(() => expect(contents()).toHaveLength(60));
    expect(contents()[0]).toBe('m1');
    expect(history.historyCalls('lobby')).toContain('before_seq=11');
  });

  it('shows "Reconnecting in Ns" while the server is away', async () => {
    const server = mockServer();
    renderApp(setup({ backoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 } }));
    await handshake(server);
    await act(async () => {
      server.close();
      await server.closed;
    });
    await waitFor(() =>
      expect(screen.getAllByTestId('connection-status')[0]).toHaveTextContent(/Reconnecting in \d+s/),
    );
    expect(screen.getAllByRole('button', { name: 'Retry now' }).length).toBeGreaterThan(0);
    expect(screen.getByTestId('offline-banner')).toHaveTextContent('Connection lost');
  });
});
