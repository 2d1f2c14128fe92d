import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type WS from 'jest-websocket-mock';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/App';
import type { AttentionEnv, AttentionNotice } from '../../src/core/attention';
import type { ClientFrame } from '../../src/core/protocol';
import { BOB, ME, RETRY_BY_HAND, makeClient, message, mockServer, welcome, type TestClient } from '../helpers/fixtures';

// Focus after dialogs, @mentions in the composer, refusals back in the composer, and the title's count.

const running: TestClient[] = [];

afterEach(() => {
  for (const t of running.splice(0)) t.client.stop();
  document.title = '';
});

function setup(options: Parameters<typeof makeClient>[0] = {}): TestClient {
  const t = makeClient({ identity: { name: 'Ada' }, ...options });
  running.push(t);
  return t;
}

class FakeEnv implements AttentionEnv {
  isHidden = false;
  shown: AttentionNotice[] = [];
  private listeners = new Set<() => void>();
  hidden = () => this.isHidden;
  onVisibilityChange = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  permission = () => 'granted' as const;
  requestPermission = async () => 'granted' as const;
  notify = (n: AttentionNotice) => {
    this.shown.push(n);
  };
  playSound = () => {};
  now = () => Date.parse('2026-11-22T20:00:30.000Z');
  setHidden(hidden: boolean) {
    this.isHidden = hidden;
    for (const l of [...this.listeners]) l();
  }
}

function renderApp(t: TestClient, env?: AttentionEnv) {
  return render(
    <MemoryRouter initialEntries={['/chat/lobby']}>
      <App client={t.client} {...(env ? { attentionEnv: env } : {})} />
    </MemoryRouter>,
  );
}

async function serverSends(server: WS, ...frames: object[]) {
  await act(async () => {
    for (const frame of frames) server.send(frame);
  });
}

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

const composer = () => screen.getByRole('textbox', { name: 'Message #lobby' });

describe('focus', () => {
  it('holds Tab inside the first visit’s name prompt, and gives the composer the focus once a name is chosen', async () => {
    mockServer();
    renderApp(setup({ identity: { name: null } }));
    const dialog = await screen.findByRole('dialog', { name: 'Welcome to WhisperChat' });
    const name = within(dialog).getByRole('textbox', { name: 'Display name' });
    await waitFor(() => expect(name).toHaveFocus());
    const user = userEvent.setup();
    for (let i = 0; i < 8; i++) {
      await user.tab();
      expect(dialog.contains(document.activeElement)).toBe(true);
    }
    await user.tab({ shift: true });
    expect(dialog.contains(document.activeElement)).toBe(true);
    await user.click(name);
    await user.type(name, 'Grace Hopper{Enter}');
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    await waitFor(() => expect(composer()).toHaveFocus());
  });

  it('gives the composer the focus after the notification settings close', async () => {
    const server = mockServer();
    renderApp(setup());
    await handshake(server);
    const user = userEvent.setup();
    await user.click(screen.getAllByRole('button', { name: 'Notification settings' })[0] as HTMLElement);
    expect(await screen.findByRole('dialog', { name: 'Notifications' })).toBeInTheDocument();
    await user.keyboard('{Escape}');
    await waitFor(() => expect(composer()).toHaveFocus());
  });
});

describe('@mentions in the composer', () => {
  it('offers the people online by keyboard, with aria-activedescendant, and inserts the one picked', async () => {
    const server = mockServer();
    renderApp(setup());
    await handshake(server);
    await serverSends(server, {
      type: 'presence',
      room: 'lobby',
      users: [
        { user_id: ME, name: 'Ada' },
        { user_id: BOB, name: 'Bob Kahn' },
        { user_id: '0c7d1c7e-2d41-4c55-9a53-7b2f4f9e6a10', name: 'Bea' },
      ],
    });
    const user = userEvent.setup();
    await user.type(composer(), 'hi @b');
    const list = await screen.findByRole('listbox', { name: 'People to mention' });
    const options = within(list).getAllByRole('option');
    // You are not offered.
    expect(options.map((o) => o.textContent)).toEqual(['BKBob Kahn', 'BBea']);
    expect(composer()).toHaveAttribute('aria-controls', list.id);
    expect(composer()).toHaveAttribute('aria-activedescendant', options[0]?.id);
    await user.keyboard('{ArrowDown}');
    expect(composer()).toHaveAttribute('aria-activedescendant', options[1]?.id);
    expect(options[1]).toHaveAttribute('aria-selected', 'true');
    await user.keyboard('{ArrowUp}{Enter}');
    expect(composer()).toHaveValue('hi @Bob Kahn ');
    expect(screen.queryByRole('listbox')).not.toBeInTheDocument();
    // Enter sent nothing: it picked.
    expect(sent(server, 'messages')).toHaveLength(0);
    await user.type(composer(), 'see you{Enter}');
    await waitFor(() => expect(sent(server, 'messages')).toHaveLength(1));
    expect(sent(server, 'messages')[0]).toMatchObject({ data: [{ content: 'hi @Bob Kahn see you' }] });

    // Escape closes the list and keeps the text.
    await user.type(composer(), '@bo');
    expect(screen.getByRole('listbox')).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('listbox')).not.toBeInTheDocument();
    expect(composer()).toHaveValue('@bo');
  });
});

describe('a refusal for good', () => {
  it('puts the text back into the empty composer with why, in words', async () => {
    const server = mockServer();
    renderApp(setup({ newClientId: () => 'cid-bad', retryBackoff: RETRY_BY_HAND }));
    await handshake(server);
    const user = userEvent.setup();
    await user.type(composer(), 'way too long{Enter}');
    await waitFor(() => expect(sent(server, 'messages')).toHaveLength(1));
    expect(composer()).toHaveValue('');
    await serverSends(server, {
      type: 'message_ids',
      status: 'error',
      message_ids: [],
      client_ids: ['cid-bad'],
      error: {
        code: 'too_large',
        message: 'the messages frame is too large',
        details: ['data[0].content: is 4001 characters long, at most 4000 are allowed'],
      },
    });
    await waitFor(() => expect(composer()).toHaveValue('way too long'));
    expect(screen.getByTestId('composer-error')).toHaveTextContent(
      'Not sent: The message is too long: 4,001 characters, and at most 4,000 are allowed. Shorten it and send it again.',
    );
    expect(composer()).toHaveAccessibleDescription(/The message is too long/);
    // It is in the composer, not a failed row beside it.
    expect(screen.queryByTestId('message-failed')).not.toBeInTheDocument();
  });

  it('keeps it as a failed row with Edit when the composer holds something else', async () => {
    const server = mockServer();
    renderApp(setup({ newClientId: () => 'cid-bad', retryBackoff: RETRY_BY_HAND }));
    await handshake(server);
    const user = userEvent.setup();
    await user.type(composer(), 'first{Enter}');
    await waitFor(() => expect(sent(server, 'messages')).toHaveLength(1));
    await user.type(composer(), 'next one');
    await serverSends(server, {
      type: 'message_ids',
      status: 'error',
      message_ids: [],
      client_ids: ['cid-bad'],
      error: { code: 'forbidden', message: 'banned from room lobby' },
    });
    const failed = await screen.findByTestId('message-failed');
    expect(failed).toHaveTextContent('Not sent: You were banned from this room, so you cannot post in it.');
    expect(composer()).toHaveValue('next one');
    await user.click(within(failed).getByRole('button', { name: 'Edit' }));
    expect(composer()).toHaveValue('next one\nfirst');
    expect(screen.queryByTestId('message-failed')).not.toBeInTheDocument();
  });
});

describe('the title', () => {
  it('counts what arrives in the open room while the tab is hidden, and notifies of a mention', async () => {
    const env = new FakeEnv();
    const server = mockServer();
    renderApp(setup(), env);
    await handshake(server);
    await waitFor(() => expect(document.title).toBe('#lobby · WhisperChat'));
    act(() => env.setHidden(true));
    await serverSends(server, {
      type: 'messages',
      room: 'lobby',
      data: [
        message('lobby', 1, { user_id: BOB, name: 'Bob', content: 'hi @Ada' }),
        message('lobby', 2, { user_id: BOB, name: 'Bob', content: 'anyone?' }),
      ],
    });
    await waitFor(() => expect(document.title).toBe('(2) #lobby · WhisperChat'));
    expect(env.shown).toMatchObject([{ title: 'Bob mentioned you in #lobby', body: 'hi @Ada', room: 'lobby' }]);
    act(() => env.setHidden(false));
    await waitFor(() => expect(document.title).toBe('#lobby · WhisperChat'));
  });
});
