import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type WS from 'jest-websocket-mock';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/App';
import type { ClientFrame } from '../../src/core/protocol';
import {
  BOB,
  CAROL,
  FakeHistory,
  ME,
  makeClient,
  makeSignedInClient,
  message,
  mockServer,
  notice,
  welcome,
  type TestClient,
} from '../helpers/fixtures';

const PLANS = 'p/0123456789abcdef0123456789abcdef';
const running: TestClient[] = [];

afterEach(() => {
  for (const t of running.splice(0)) t.client.stop();
});

function renderApp(t: TestClient, path = '/chat/lobby') {
  running.push(t);
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

/** Answers the connection with welcome and `rooms` joined (at `heads`, else empty). */
async function handshake(server: WS, rooms: string[] = ['lobby'], heads: Record<string, number> = {}) {
  await act(async () => {
    await server.connected;
  });
  await serverSends(server, welcome());
  await waitFor(() => expect(screen.getAllByTestId('connection-status')[0]).toHaveTextContent('Online'));
  await serverSends(
    server,
    ...rooms.map((room) => ({ type: 'joined', room, seq: heads[room] ?? 0, epoch: 1, recovered: false })),
  );
}

function sidebar() {
  return screen.getByRole('navigation', { name: 'Your rooms' });
}

function sent(server: WS, type: ClientFrame['type']): ClientFrame[] {
  return (server.messages as ClientFrame[]).filter((f) => f.type === type);
}

/** Ada, signed in, owner of Plans (with Bob in it, and a message of his). */
function adaWithPlans(role: 'owner' | 'moderator' | 'member' = 'owner') {
  const history = new FakeHistory();
  history.roomsApi.addRoom(PLANS, { title: 'Plans', topic: 'Q3 launch' }, [
    { user_id: ME, name: 'Ada', role },
    { user_id: BOB, name: 'Bob', role: role === 'owner' ? 'member' : 'owner' },
    { user_id: CAROL, name: 'Carol', role: 'member' },
  ]);
  history.add(
    PLANS,
    message(PLANS, 1, { user_id: BOB, name: 'Bob', principal: 'account', content: 'Bob wrote this' }),
    message(PLANS, 2, { user_id: ME, name: 'Ada', principal: 'account', content: 'Ada wrote this' }),
  );
  return makeSignedInClient({ history });
}

describe('WhisperChat: rooms with members', () => {
  it('shows channels and direct messages apart, a private room by its title with a lock, in the header too', async () => {
    const t = adaWithPlans();
    t.history.roomsApi.addRoom('dm/0123456789abcdef0123456789abcdef', {}, [
      { user_id: ME, name: 'Ada', role: 'member' },
      { user_id: CAROL, name: 'Carol', role: 'member' },
    ]);
    const server = mockServer();
    renderApp(t, `/chat/${PLANS}`);
    await handshake(server, ['lobby', PLANS], { [PLANS]: 2 });
    const channels = within(sidebar()).getByRole('region', { name: 'Rooms' });
    await waitFor(() => expect(within(channels).getByRole('button', { name: /Plans/ })).toBeInTheDocument());
    expect(within(channels).getByRole('img', { name: 'Private' })).toBeInTheDocument();
    const direct = within(sidebar()).getByRole('region', { name: 'Direct messages' });
    await waitFor(() => expect(within(direct).getByRole('button', { name: 'Carol' })).toBeInTheDocument());
    // The private room's name is never shown.
    expect(sidebar()).not.toHaveTextContent('p/0123');
    // No × on a private or a direct room: those are left from their settings, or not at all.
    expect(within(sidebar()).queryByRole('button', { name: `Leave #${PLANS}` })).not.toBeInTheDocument();

    const conversation = screen.getByRole('region', { name: `Room ${PLANS}` });
    expect(within(conversation).getByTestId('room-title')).toHaveTextContent('Plans');
    expect(within(conversation).getByTestId('room-topic')).toHaveTextContent('Q3 launch');
    expect(within(conversation).getByRole('img', { name: 'Private room' })).toBeInTheDocument();
    expect(screen.getByRole('textbox', { name: 'Message Plans' })).toBeInTheDocument();
    // Its members, with who is owner, rather than who is online.
    const members = await screen.findByRole('region', { name: 'Members' });
    await waitFor(() => expect(within(members).getByText('Bob')).toBeInTheDocument());
    expect(within(members).getByText('owner')).toBeInTheDocument();
  });

  it('creates a private room from the sidebar: a dialog that holds the focus, then the room, then the composer', async () => {
    const t = makeSignedInClient();
    const server = mockServer();
    renderApp(t);
    await handshake(server);
    // Bob was seen in the lobby: he is offered as a member.
    await serverSends(server, {
      type: 'presence',
      room: 'lobby',
      users: [{ user_id: BOB, name: 'Bob', principal: 'account' }],
    });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'New private room' }));
    const dialog = screen.getByRole('dialog', { name: 'New private room' });
    expect(within(dialog).getByRole('textbox', { name: 'Title' })).toHaveFocus();

    // Tab goes round inside it.
    for (let i = 0; i < 12; i++) {
      await user.tab();
      expect(dialog.contains(document.activeElement)).toBe(true);
    }
    await user.click(within(dialog).getByRole('textbox', { name: 'Title' }));
    await user.keyboard('Plans');
    await user.click(within(dialog).getByRole('checkbox', { name: 'Bob' }));
    // Carol, by her name: Enter adds her rather than creating the room.
    await user.type(within(dialog).getByRole('textbox', { name: 'Add someone by name' }), 'carol{Enter}');
    await waitFor(() => expect(within(dialog).getByRole('checkbox', { name: 'Carol' })).toBeChecked());
    await user.type(within(dialog).getByRole('textbox', { name: 'Add someone by name' }), 'Zed{Enter}');
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('Nobody has an account called “Zed”.');
    await user.click(within(dialog).getByRole('button', { name: 'Create room' }));

    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'New private room' })).not.toBeInTheDocument());
    const created = t.history.roomsApi.calls.find((c) => c.method === 'POST' && c.path === '/v1/rooms');
    expect(created?.body).toEqual({ visibility: 'private', title: 'Plans', members: [BOB, CAROL] });
    const room = [...t.history.roomsApi.rooms.keys()][0] ?? '';
    await waitFor(() => expect(screen.getByRole('region', { name: `Room ${room}` })).toBeInTheDocument());
    await waitFor(() => expect(screen.getByRole('textbox', { name: 'Message Plans' })).toHaveFocus());
  });

  it('Escape closes the dialog and gives the focus back to the composer', async () => {
    const t = makeSignedInClient();
    const server = mockServer();
    renderApp(t);
    await handshake(server);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'New private room' }));
    expect(screen.getByRole('dialog', { name: 'New private room' })).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    await waitFor(() => expect(screen.getByRole('textbox', { name: 'Message #lobby' })).toHaveFocus());
  });

  it('a guest gets no create or message buttons, but is told to sign in for them', async () => {
    const t = makeClient({ identity: { name: 'Guesty' } });
    const server = mockServer();
    renderApp(t);
    await handshake(server);
    await serverSends(server, {
      type: 'presence',
      room: 'lobby',
      users: [{ user_id: BOB, name: 'Bob', principal: 'account' }],
    });
    expect(
      await screen.findByText(
        (_, el) =>
          el?.tagName === 'P' && /^Sign in to create private rooms and send direct messages/.test(el.textContent),
      ),
    ).toBeInTheDocument();
    expect(
      screen.getByRole('link', { name: 'Sign in to create private rooms and send direct messages' }),
    ).toHaveAttribute('href', '/signin');
    expect(screen.queryByRole('button', { name: 'New private room' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /direct message/ })).not.toBeInTheDocument();
  });

  it('opens a direct conversation from a name in the member list', async () => {
    const t = makeSignedInClient();
    const server = mockServer();
    renderApp(t);
    await handshake(server);
    await serverSends(server, {
      type: 'presence',
      room: 'lobby',
      users: [
        { user_id: ME, name: 'Ada', principal: 'account' },
        { user_id: BOB, name: 'Bob', principal: 'account' },
        { user_id: CAROL, name: 'Guest Carol' },
      ],
    });
    const online = screen.getByRole('region', { name: 'Online users' });
    // Not for yourself, nor for a guest: only an account can be written to.
    expect(within(online).getAllByRole('button', { name: /direct message/ })).toHaveLength(1);
    const user = userEvent.setup();
    await user.click(within(online).getByRole('button', { name: 'Send Bob a direct message' }));
    const room = await waitFor(() => {
      const name = [...t.history.roomsApi.rooms.keys()][0];
      expect(name).toMatch(/^dm\//);
      return name ?? '';
    });
    await waitFor(() => expect(screen.getByRole('region', { name: `Room ${room}` })).toBeInTheDocument());
    expect(screen.getByTestId('room-title')).toHaveTextContent('Bob');
    const direct = within(sidebar()).getByRole('region', { name: 'Direct messages' });
    expect(within(direct).getByRole('button', { name: 'Bob' })).toHaveAttribute('aria-current', 'page');
  });

  it('an owner sees Delete on others’ messages and deletes them; notices show in the list', async () => {
    const t = adaWithPlans('owner');
    const server = mockServer();
    renderApp(t, `/chat/${PLANS}`);
    await handshake(server, ['lobby', PLANS], { [PLANS]: 2 });
    const bobs = await screen.findByText('Bob wrote this');
    const row = bobs.closest('li') as HTMLElement;
    const user = userEvent.setup();
    await user.click(within(row).getByRole('button', { name: 'Delete message' }));
    await user.click(within(row).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(sent(server, 'delete')).toHaveLength(1));
    expect(sent(server, 'delete')[0]).toMatchObject({ room: PLANS });
    await waitFor(() => expect(within(row).getByTestId('message-deleted')).toBeInTheDocument());

    await serverSends(server, {
      type: 'events',
      room: PLANS,
      data: [
        notice(PLANS, 3, { kind: 'member', member: CAROL, member_name: 'Carol', action: 'kicked', reason: 'spam' }),
      ],
    });
    expect(await screen.findByTestId('room-notice')).toHaveTextContent('Bob removed Carol: spam');
  });

  it('a member sees Delete on their own messages only, and no way to manage the room', async () => {
    const t = adaWithPlans('member');
    const server = mockServer();
    renderApp(t, `/chat/${PLANS}`);
    await handshake(server, ['lobby', PLANS], { [PLANS]: 2 });
    const bobs = (await screen.findByText('Bob wrote this')).closest('li') as HTMLElement;
    const adas = screen.getByText('Ada wrote this').closest('li') as HTMLElement;
    expect(within(bobs).queryByRole('button', { name: 'Delete message' })).not.toBeInTheDocument();
    expect(within(adas).getByRole('button', { name: 'Delete message' })).toBeInTheDocument();

    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Room settings' }));
    const dialog = screen.getByRole('dialog', { name: /Plans/ });
    await waitFor(() => expect(within(dialog).getAllByTestId('room-member')).toHaveLength(3));
    expect(within(dialog).queryByRole('button', { name: /^Remove/ })).not.toBeInTheDocument();
    expect(within(dialog).queryByRole('button', { name: 'Invite' })).not.toBeInTheDocument();
    expect(within(dialog).queryByRole('combobox')).not.toBeInTheDocument();
    expect(within(dialog).queryByRole('textbox', { name: 'Title' })).not.toBeInTheDocument();
    expect(within(dialog).getByRole('button', { name: 'Leave room' })).toBeInTheDocument();
  });

  it('room settings: an owner retitles, invites, gives roles, removes with a reason, and leaves', async () => {
    const t = adaWithPlans('owner');
    const server = mockServer();
    renderApp(t, `/chat/${PLANS}`);
    await handshake(server, ['lobby', PLANS], { [PLANS]: 2 });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Room settings' }));
    const dialog = screen.getByRole('dialog', { name: /Plans/ });
    await waitFor(() => expect(within(dialog).getAllByTestId('room-member')).toHaveLength(3));

    const title = within(dialog).getByRole('textbox', { name: 'Title' });
    await user.clear(title);
    await user.type(title, 'Launch');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    expect(await within(dialog).findByRole('status')).toHaveTextContent('Saved.');
    await waitFor(() => expect(screen.getByTestId('room-title')).toHaveTextContent('Launch'));

    t.history.roomsApi.users.push({ user_id: '9a1b53f6-47c1-4091-b7bf-3df0d68f24f8', name: 'Grace' });
    await user.type(within(dialog).getByRole('textbox', { name: 'Add someone' }), 'grace{Enter}');
    await waitFor(() => expect(within(dialog).getAllByTestId('room-member')).toHaveLength(4));

    await user.selectOptions(within(dialog).getByRole('combobox', { name: 'Role of Bob' }), 'moderator');
    await waitFor(() =>
      expect(t.history.roomsApi.rooms.get(PLANS)?.members.find((m) => m.user_id === BOB)?.role).toBe('moderator'),
    );

    await user.click(within(dialog).getByRole('button', { name: 'Remove Carol' }));
    await user.type(within(dialog).getByRole('textbox', { name: 'Reason (optional)' }), 'spam');
    await user.click(within(dialog).getByRole('button', { name: 'Remove' }));
    await waitFor(() => expect(within(dialog).getAllByTestId('room-member')).toHaveLength(3));
    expect(t.history.roomsApi.calls.some((c) => c.method === 'DELETE' && c.path.endsWith(`${CAROL}?reason=spam`))).toBe(
      true,
    );

    // The last owner, with others still in: the server's sentence, as it says it.
    await user.click(within(dialog).getByRole('button', { name: 'Leave room' }));
    await user.click(within(dialog).getByRole('button', { name: 'Leave' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('Make another member owner first.');
    await user.selectOptions(within(dialog).getByRole('combobox', { name: 'Role of Bob' }), 'owner');
    await waitFor(() =>
      expect(t.history.roomsApi.rooms.get(PLANS)?.members.find((m) => m.user_id === BOB)?.role).toBe('owner'),
    );
    await user.click(within(dialog).getByRole('button', { name: 'Leave room' }));
    await user.click(within(dialog).getByRole('button', { name: 'Leave' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    await waitFor(() => expect(screen.getByRole('region', { name: 'Room lobby' })).toBeInTheDocument());
    expect(within(sidebar()).queryByRole('button', { name: /Launch/ })).not.toBeInTheDocument();
    expect(screen.queryAllByRole('alert')).toHaveLength(0);
  });

  it('opening a private room you are not in: it goes, with the server’s reason, and the lobby opens', async () => {
    const t = makeSignedInClient();
    t.history.roomsApi.addRoom(PLANS, { title: 'Secret' }, [{ user_id: BOB, name: 'Bob', role: 'owner' }]);
    const server = mockServer();
    renderApp(t, `/chat/${PLANS}`);
    await handshake(server, ['lobby']);
    await waitFor(() => expect(sent(server, 'join').map((f) => (f.type === 'join' ? f.room : ''))).toContain(PLANS));
    await serverSends(server, {
      type: 'error',
      code: 'forbidden',
      message: `not a member of room ${PLANS}`,
      room: PLANS,
    });
    await waitFor(() => expect(screen.getByRole('region', { name: 'Room lobby' })).toBeInTheDocument());
    expect(await screen.findByRole('alert')).toHaveTextContent(
      `You can't open this private room: not a member of room ${PLANS}.`,
    );
    expect(sidebar()).not.toHaveTextContent('Secret');
  });
});
