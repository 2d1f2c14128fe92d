import { act, render, screen, waitFor } from '@testing-library/react';
import { createElement, type ComponentProps } from 'react';
import { MemoryRouter } from 'react-router';
import { describe, expect, it, vi } from 'vitest';
import { App } from '../../src/App';
import type * as MessageListModule from '../../src/components/MessageList';
import { makeClient, message, mockServer, welcome } from '../helpers/fixtures';

/** How often the page rendered the message list, per room. */
const listRenders = vi.hoisted(() => new Map<string, number>());

vi.mock('../../src/components/MessageList', async (importOriginal) => {
  const actual = await importOriginal<typeof MessageListModule>();
  return {
    MessageList: (props: ComponentProps<typeof actual.MessageList>) => {
      listRenders.set(props.room, (listRenders.get(props.room) ?? 0) + 1);
      return createElement(actual.MessageList, props);
    },
  };
});

describe('WhisperChat page renders', () => {
  it('does not re-render the open room while another room gets messages', async () => {
    const { client } = makeClient({ identity: { name: 'Ada' } });
    client.openRoom('other');
    const server = mockServer();
    render(
      <MemoryRouter initialEntries={['/chat/lobby']}>
        <App client={client} />
      </MemoryRouter>,
    );
    await act(async () => {
      await server.connected;
      server.send(welcome());
      server.send({ type: 'joined', room: 'lobby', seq: 0, epoch: 1, recovered: true });
      server.send({ type: 'joined', room: 'other', seq: 0, epoch: 1, recovered: true });
    });
    await waitFor(() => expect(screen.getAllByTestId('connection-status')[0]).toHaveTextContent('Online'));
    await waitFor(() => expect(client.getSnapshot().rooms.other?.joined).toBe(true));
    const before = listRenders.get('lobby') ?? 0;
    expect(before).toBeGreaterThan(0);

    await act(async () => {
      server.send({ type: 'messages', room: 'other', data: [message('other', 1), message('other', 2)] });
      server.send({ type: 'typing', room: 'other', user_id: 'someone', name: 'Cy' });
    });
    expect(await screen.findByTestId('unread-other')).toHaveTextContent('2');
    expect(listRenders.get('lobby')).toBe(before);
    expect(listRenders.has('other')).toBe(false);

    await act(async () => {
      server.send({ type: 'messages', room: 'lobby', data: [message('lobby', 1)] });
    });
    await waitFor(() => expect(screen.getAllByTestId('message')).toHaveLength(1));
    expect(listRenders.get('lobby')).toBeGreaterThan(before);
    client.stop();
  });
});
