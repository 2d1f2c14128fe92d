import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type WS from 'jest-websocket-mock';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/App';
import { MemoryKeyValue, saveIdentity } from '../../src/core/prefs';
import { MemoryStores } from '../../src/core/stores';
import { FakeHistory, ME, makeClient, message, mockServer, welcome, type TestClient } from '../helpers/fixtures';

const running: TestClient[] = [];

afterEach(() => {
  for (const t of running.splice(0)) t.client.stop();
});

/** A browser where Ada has an account; `signedIn` puts her session cookie in it. */
function setup(options: { signedIn?: boolean; guestName?: string | null } = {}) {
  const history = new FakeHistory();
  const ada = history.accounts.addUser({ email: 'ada@example.com', name: 'Ada', password: 'correct horse battery' });
  if (options.signedIn) history.accounts.addSession(ada, { here: true });
  const prefs = new MemoryKeyValue();
  if (options.guestName !== null) {
    saveIdentity(prefs, { userId: ME, token: welcome().token, name: options.guestName ?? 'Guesty' });
  }
  const stores = new MemoryStores();
  const t = makeClient({ history, prefs, stores });
  running.push(t);
  return { ...t, ada, stores };
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

/** Every socket the mock server accepts, in order. */
function sockets(server: WS) {
  const list: { url: URL; close: (code: number, reason: string) => void }[] = [];
  server.on('connection', (socket) =>
    list.push({ url: new URL(socket.url), close: (code, reason) => socket.close({ code, reason, wasClean: true }) }),
  );
  return list;
}

/** The app's header (the page's own headers come after it). */
function header() {
  const [first] = screen.getAllByRole('banner');
  if (!first) throw new Error('no header');
  return first;
}

describe('accounts in the app shell', () => {
  it('offers Sign in and Create account to a guest, whose chat works without either', async () => {
    const server = mockServer();
    renderApp(setup());
    expect(await within(header()).findByRole('link', { name: 'Sign in' })).toHaveAttribute('href', '/signin');
    expect(within(header()).getByRole('link', { name: 'Create account' })).toHaveAttribute('href', '/signup');
    const socket = await act(() => server.connected);
    expect(new URL(socket.url).searchParams.get('token')).toBe(welcome().token);
  });

  it('the first visit’s name prompt leads to an account too', async () => {
    const t = setup({ guestName: null });
    renderApp(t);
    const dialog = await screen.findByRole('dialog', { name: 'Welcome to WhisperChat' });
    const user = userEvent.setup();
    await user.click(within(dialog).getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('form', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('a guest signs up from the header: the account keeps its id, and the header shows the account', async () => {
    const server = mockServer();
    const opened = sockets(server);
    const t = setup();
    t.history.add('lobby', message('lobby', 1, { user_id: ME, name: 'Guesty', content: 'as a guest' }));
    renderApp(t);
    await act(() => server.connected);
    await serverSends(server, welcome(), { type: 'joined', room: 'lobby', seq: 1, epoch: 1, recovered: false });
    await waitFor(() => expect(screen.getByTestId('message')).toHaveAttribute('data-own', 'true'));

    const user = userEvent.setup();
    await user.click(within(header()).getByRole('link', { name: 'Create account' }));
    const form = await screen.findByRole('form', { name: 'Create an account' });
    expect(within(form).getByLabelText('Display name')).toHaveValue('Guesty');
    await user.type(within(form).getByLabelText('Email'), 'guesty@example.com');
    await user.type(within(form).getByLabelText('Password'), 'a long password{Enter}');

    expect(await within(header()).findByRole('link', { name: 'Your account: Guesty' })).toBeInTheDocument();
    expect(within(header()).queryByRole('link', { name: 'Sign in' })).not.toBeInTheDocument();
    expect(await screen.findByRole('textbox', { name: 'Message #lobby' })).toBeInTheDocument();
    await waitFor(() => expect(opened).toHaveLength(2));
    expect(opened[1]?.url.searchParams.has('token')).toBe(false);
    await serverSends(server, welcome(ME, ''), { type: 'joined', room: 'lobby', seq: 1, epoch: 1, recovered: true });
    await waitFor(() => expect(screen.getByTestId('message')).toHaveAttribute('data-own', 'true'));
    expect(screen.getByTestId('message-content')).toHaveTextContent('as a guest');
  });

  it('signs in from the sign-in page, and says why not first', async () => {
    mockServer();
    renderApp(setup(), '/signin');
    const user = userEvent.setup();
    const form = await screen.findByRole('form', { name: 'Sign in' });
    await user.type(within(form).getByLabelText('Email'), 'ada@example.com');
    await user.type(within(form).getByLabelText('Password'), 'not the password{Enter}');
    expect(await within(form).findByRole('alert')).toHaveTextContent('The email or the password is wrong.');
    await user.clear(within(form).getByLabelText('Password'));
    await user.type(within(form).getByLabelText('Password'), 'correct horse battery{Enter}');
    expect(await within(header()).findByRole('link', { name: 'Your account: Ada' })).toBeInTheDocument();
    expect(await screen.findByRole('region', { name: 'Room lobby' })).toBeInTheDocument();
  });
});

describe('the account page', () => {
  it('renames (a taken name is said under the field), lists the devices and revokes one', async () => {
    const t = setup({ signedIn: true });
    t.history.accounts.addUser({ email: 'bob@example.com', name: 'Bob' });
    t.history.accounts.addSession(t.ada, { userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/604.1' });
    renderApp(t, '/account');
    expect(await screen.findByTestId('account-name')).toHaveTextContent('Ada');
    expect(screen.getByText('ada@example.com')).toBeInTheDocument();

    const user = userEvent.setup();
    const name = screen.getByRole('textbox', { name: 'Display name' });
    await user.clear(name);
    await user.type(name, 'bob{Enter}');
    await waitFor(() => expect(name).toHaveAccessibleDescription(/^That name is taken\./));
    await user.clear(name);
    await user.type(name, 'Ada Lovelace{Enter}');
    expect(await within(header()).findByRole('link', { name: 'Your account: Ada Lovelace' })).toBeInTheDocument();
    expect(screen.getByTestId('account-name')).toHaveTextContent('Ada Lovelace');

    expect(await screen.findByRole('heading', { name: 'Signed in on 2 devices' })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Revoke Safari on iPhone' }));
    expect(await screen.findByRole('heading', { name: 'Signed in on 1 device' })).toBeInTheDocument();
    expect(screen.getByTestId('device')).toHaveTextContent('This device');
  });

  it('signs out, removing this browser’s copy by default, and goes home as the guest', async () => {
    const server = mockServer();
    const t = setup({ signedIn: true });
    renderApp(t, '/account');
    await act(() => server.connected);
    t.client.setDraft('lobby', 'private draft');
    await waitFor(() => expect(t.stores.stores.get(t.ada.user_id)?.drafts.get('lobby')).toBe('private draft'));

    const user = userEvent.setup();
    const signOut = await screen.findByRole('form', { name: 'Sign out' });
    expect(
      within(signOut).getByRole('checkbox', {
        name: "Also remove this account's messages and drafts from this browser",
      }),
    ).toBeChecked();
    await user.click(within(signOut).getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('heading', { name: /Real-time rooms/ })).toBeInTheDocument();
    expect(within(header()).getByRole('link', { name: 'Sign in' })).toBeInTheDocument();
    expect(t.stores.stores.has(t.ada.user_id)).toBe(false);
    expect(t.history.accounts.cookie).toBeNull();
  });

  it('sends a guest to the sign-in page', async () => {
    renderApp(setup(), '/account');
    expect(await screen.findByRole('form', { name: 'Sign in' })).toBeInTheDocument();
  });
});

describe('signed out by the server', () => {
  it('on close code 4001 says so over any page, offers to sign in again, and goes on as the guest', async () => {
    const server = mockServer();
    const opened = sockets(server);
    const t = setup({ signedIn: true });
    renderApp(t);
    await act(() => server.connected);
    await serverSends(server, welcome(t.ada.user_id, ''));
    expect(await within(header()).findByRole('link', { name: 'Your account: Ada' })).toBeInTheDocument();

    await act(async () => opened[0]?.close(4001, 'the session was revoked'));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('You were signed out: the session was revoked.');
    expect(within(alert).getByRole('link', { name: 'Sign in again' })).toHaveAttribute('href', '/signin');
    expect(within(header()).getByRole('link', { name: 'Sign in' })).toBeInTheDocument();
    await waitFor(() => expect(opened).toHaveLength(2));
    expect(opened[1]?.url.searchParams.get('token')).toBe(welcome().token);

    const user = userEvent.setup();
    await user.click(within(alert).getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('signed in, the pencil by your name goes to the account page, not the guest name prompt', async () => {
    mockServer();
    const t = setup({ signedIn: true });
    renderApp(t);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Change display name' }));
    expect(await screen.findByTestId('account-name')).toHaveTextContent('Ada');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });
});
