import { describe, expect, it, vi } from 'vitest';
import { makeClient, message, mockServer, welcome } from '../helpers/fixtures';

describe('ChatClient: a room appears (`room`)', () => {
  it('puts a newly created public room first in the directory at once, once, without asking the server', async () => {
    const { client, history } = makeClient({ identity: { name: 'Ada' } });
    history.rooms.set('lobby', [message('lobby', 1)]);
    const server = mockServer();
    client.start();
    await server.connected;
    server.send(welcome());
    server.send({ type: 'joined', room: 'lobby', seq: 1, epoch: 1, recovered: false });
    await client.refreshDirectory();
    expect(client.getSnapshot().directory.map((r) => r.name)).toEqual(['lobby']);
    const asked = history.requests.filter((u) => u.pathname === '/v1/rooms').length;

    server.send({ type: 'room', room: 'brand-new', change: 'created' });
    await vi.waitFor(() => expect(client.getSnapshot().directory.map((r) => r.name)).toEqual(['brand-new', 'lobby']));
    const created = client.getSnapshot().directory[0]!;
    expect(created.last_seq).toBe(1);
    expect(Date.parse(created.last_message_at ?? '')).not.toBeNaN();
    // Told again (a resend of its first message): nothing new.
    server.send({ type: 'room', room: 'brand-new', change: 'created' });
    server.send({ type: 'room', room: 'lobby', change: 'created' });
    await new Promise((r) => setTimeout(r, 20));
    expect(client.getSnapshot().directory.map((r) => r.name)).toEqual(['brand-new', 'lobby']);
    expect(history.requests.filter((u) => u.pathname === '/v1/rooms').length).toBe(asked);
    client.stop();
    server.close();
  });
});
