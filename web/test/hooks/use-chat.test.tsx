import { render, screen, waitFor } from '@testing-library/react';
import { Profiler, type ProfilerOnRenderCallback } from 'react';
import { describe, expect, it } from 'vitest';
import { ChatProvider, useChatSelector, useRoom } from '../../src/hooks/use-chat';
import { makeClient, message, mockServer, welcome } from '../helpers/fixtures';

/** Shows one room's message count. */
function RoomProbe({ room }: { room: string }) {
  const view = useRoom(room);
  return <p data-testid={`room-${room}`}>{view?.messages.length ?? 'none'}</p>;
}

/** Counts the renders of each `<Profiler id>` subtree. */
function renderCounter(): { renders: Record<string, number>; onRender: ProfilerOnRenderCallback } {
  const renders: Record<string, number> = {};
  return { renders, onRender: (id) => void (renders[id] = (renders[id] ?? 0) + 1) };
}

describe('useRoom', () => {
  it('does not re-render the open room when another room gets messages, typing or presence', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' } });
    client.openRoom('a');
    client.openRoom('b');
    client.openRoom('a');
    await client.whenReady();
    const server = mockServer();
    client.start();
    await server.connected;
    server.send(welcome());
    server.send({ type: 'joined', room: 'a', seq: 0, epoch: 1, recovered: true });
    server.send({ type: 'joined', room: 'b', seq: 0, epoch: 1, recovered: true });
    await waitFor(() => expect(client.getSnapshot().rooms.b?.joined).toBe(true));

    const { renders, onRender } = renderCounter();
    render(
      <ChatProvider client={client}>
        <Profiler id="a" onRender={onRender}>
          <RoomProbe room="a" />
        </Profiler>
        <Profiler id="b" onRender={onRender}>
          <RoomProbe room="b" />
        </Profiler>
      </ChatProvider>,
    );
    expect(screen.getByTestId('room-a')).toHaveTextContent('0');
    const before = { a: renders.a, b: renders.b };

    server.send({ type: 'messages', room: 'b', data: [message('b', 1), message('b', 2)] });
    server.send({ type: 'typing', room: 'b', user_id: 'someone', name: 'Cy' });
    server.send({ type: 'presence', room: 'b', users: [] });
    server.send({ type: 'messages', room: 'b', data: [message('b', 3)] });
    await waitFor(() => expect(screen.getByTestId('room-b')).toHaveTextContent('3'));

    expect(renders.b).toBeGreaterThan(before.b ?? 0);
    expect(renders.a).toBe(before.a);

    server.send({ type: 'messages', room: 'a', data: [message('a', 1)] });
    await waitFor(() => expect(screen.getByTestId('room-a')).toHaveTextContent('1'));
    client.stop();
  });
});

describe('useChatSelector', () => {
  it('re-renders only when the selected value changes', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' } });
    await client.whenReady();
    function Name() {
      const name = useChatSelector((s) => s.identity.name);
      return <p data-testid="name">{name}</p>;
    }
    const { renders, onRender } = renderCounter();
    render(
      <ChatProvider client={client}>
        <Profiler id="name" onRender={onRender}>
          <Name />
        </Profiler>
      </ChatProvider>,
    );
    const before = renders.name ?? 0;
    client.openRoom('elsewhere');
    client.setDraft('elsewhere', 'half');
    expect(renders.name).toBe(before);
    client.setName('Grace');
    await waitFor(() => expect(screen.getByTestId('name')).toHaveTextContent('Grace'));
    expect(renders.name).toBe(before + 1);
  });
});
