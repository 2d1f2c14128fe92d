import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type WS from 'jest-websocket-mock';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/App';
import { MemoryKeyValue, loadRoomList, saveRoomList } from '../../src/core/prefs';
import type { ClientFrame } from '../../src/core/protocol';
import { makeClient, mockServer, welcome, type TestClient } from '../helpers/fixtures';

const GENERAL = 'acme/general';
const running: TestClient[] = [];

afterEach(() => {
  for (const t of running.splice(0)) t.client.stop();
});

/** Ada, a guest in `rooms`, with the page open at `path`. */
function renderApp(rooms: string[], path: string) {
  const prefs = new MemoryKeyValue();
  saveRoomList(prefs, rooms);
  const t = makeClient({ prefs, identity: { name: 'Ada' } });
  running.push(t);
  render(
    <MemoryRouter initialEntries={[path]}>
      <App client={t.client} />
    </MemoryRouter>,
  );
  return t;
}

async function serverSends(server: WS, ...frames: object[]) {
  await act(async () => {
    for (const frame of frames) server.send(frame);
  });
}

/** Waits for the connection, answers with welcome and every room in `rooms` joined. */
async function handshake(server: WS, rooms: string[]) {
  await act(async () => {
    await server.connected;
  });
  await serverSends(
    server,
    welcome(),
    ...rooms.map((room) => ({ type: 'joined', room, seq: 0, epoch: 1, recovered: false })),
  );
  await waitFor(() => expect(screen.getAllByTestId('connection-status')[0]).toHaveTextContent('Online'));
}

/** Lets frames the client sent by now reach the mock server (it hears them a moment later). */
async function settle() {
  await act(() => new Promise((r) => setTimeout(r, 50)));
}

function sent(server: WS, type: ClientFrame['type']): ClientFrame[] {
  return (server.messages as ClientFrame[]).filter((f) => f.type === type);
}

function sidebar() {
  return screen.getByRole('navigation', { name: 'Your rooms' });
}

/** The open room's name, from the conversation's heading. */
function openRoom() {
  return screen.getByRole('region', { name: /^Room / }).getAttribute('aria-label');
}

describe('taken out of a room by the server', () => {
  it('says why over the page, moves on from the open room, and the notice can be dismissed', async () => {
    const server = mockServer();
    const t = renderApp(['lobby', GENERAL], `/chat/${GENERAL}`);
    await handshake(server, ['lobby', GENERAL]);
    expect(openRoom()).toBe(`Room ${GENERAL}`);

    const reason = '<img src=x onerror=alert(1)> removed by a moderator';
    await serverSends(server, { type: 'left', room: GENERAL, reason });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(`You were removed from #acme/general: ${reason}.`);
    // The server's words are text, never markup.
    expect(alert.querySelector('img')).toBeNull();
    await waitFor(() => expect(openRoom()).toBe('Room lobby'));
    expect(within(sidebar()).queryByRole('button', { name: /^general/ })).not.toBeInTheDocument();
    expect(loadRoomList(t.prefs)).toEqual(['lobby']);

    const user = userEvent.setup();
    await user.click(within(alert).getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    await settle();
    expect(sent(server, 'join').filter((f) => f.type === 'join' && f.room === GENERAL)).toHaveLength(1);
  });

  it('leaves the open room alone when another is taken away', async () => {
    const server = mockServer();
    renderApp(['lobby', GENERAL], '/chat/lobby');
    await handshake(server, ['lobby', GENERAL]);
    await serverSends(server, { type: 'left', room: GENERAL, reason: 'spam' });
    expect(await screen.findByRole('alert')).toHaveTextContent('You were removed from #acme/general: spam.');
    expect(openRoom()).toBe('Room lobby');
    expect(within(sidebar()).queryByRole('button', { name: /^general/ })).not.toBeInTheDocument();
  });

  it('goes to the home page when no room is left, and does not join the one taken away again', async () => {
    const server = mockServer();
    renderApp(['lobby'], '/chat/lobby');
    await handshake(server, ['lobby']);
    await serverSends(server, { type: 'left', room: 'lobby', reason: 'banned' });
    expect(await screen.findByRole('alert')).toHaveTextContent('You were removed from #lobby: banned.');
    expect(await screen.findByRole('heading', { name: /Real-time rooms/ })).toBeInTheDocument();
    await settle();
    expect(sent(server, 'join')).toHaveLength(1);
  });
});

describe('leaving a room from the keyboard', () => {
  it('Tab from its row reaches its ×, and Enter leaves it and shows the next room', async () => {
    const server = mockServer();
    const t = renderApp(['lobby', GENERAL], `/chat/${GENERAL}`);
    await handshake(server, ['lobby', GENERAL]);
    const user = userEvent.setup();
    within(sidebar())
      .getByRole('button', { name: /^general/ })
      .focus();
    await user.tab();
    const leave = within(sidebar()).getByRole('button', { name: 'Leave #acme/general' });
    expect(leave).toHaveFocus();
    await user.keyboard('{Enter}');

    await waitFor(() => expect(sent(server, 'leave')).toEqual([{ type: 'leave', room: GENERAL }]));
    await waitFor(() => expect(openRoom()).toBe('Room lobby'));
    expect(within(sidebar()).queryByRole('button', { name: /^general/ })).not.toBeInTheDocument();
    expect(loadRoomList(t.prefs)).toEqual(['lobby']);
  });
});
