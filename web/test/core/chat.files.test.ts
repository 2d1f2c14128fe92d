import type WS from 'jest-websocket-mock';
import { describe, expect, it, vi } from 'vitest';
import type { ChatClient } from '../../src/core/chat';
import { MAX_ATTACHMENTS } from '../../src/core/files';
import { MemoryKeyValue } from '../../src/core/prefs';
import type { ClientFrame } from '../../src/core/protocol';
import { MemoryStore } from '../../src/core/store';
import { FakeHistory, ME, ORIGIN, makeClient, message, mockServer, restartServer, welcome } from '../helpers/fixtures';
import { attachment, fakeObjectUrls, fakeUploads, fileOf } from '../helpers/uploads';

function received(server: WS): ClientFrame[] {
  return server.messages as ClientFrame[];
}

function sentMessages(server: WS) {
  return received(server).filter((f): f is Extract<ClientFrame, { type: 'messages' }> => f.type === 'messages');
}

function lobby(client: ChatClient) {
  const room = client.getSnapshot().rooms.lobby;
  if (!room) throw new Error('no lobby');
  return room;
}

async function connect(client: ChatClient, server: WS) {
  client.start();
  await server.connected;
  server.send(welcome());
  server.send({ type: 'joined', room: 'lobby', seq: 0, epoch: 1, recovered: false });
  await vi.waitFor(() => expect(client.getSnapshot().status.state).toBe('online'));
}

/** A client as a guest with a token (uploads go with it), its uploads through fakes. */
function setup(options: Parameters<typeof makeClient>[0] = {}) {
  const uploads = fakeUploads();
  const urls = fakeObjectUrls();
  const t = makeClient({
    identity: { name: 'Ada', userId: ME, token: 'token-1a0b' },
    files: uploads.api,
    objectUrls: urls,
    ...options,
  });
  return { ...t, uploads, urls };
}

describe('ChatClient: files of the message being written', () => {
  it('uploads a file at once, with its progress, and keeps it in the draft once uploaded', async () => {
    const { client, store, uploads } = setup();
    await client.whenReady();
    expect(client.attachFiles('lobby', [fileOf('cat.png', 'image/png', 4000)])).toBeNull();
    expect(lobby(client).draftFiles).toMatchObject([
      { name: 'cat.png', state: 'uploading', progress: 0, localUrl: 'blob:preview-1', attachment: null },
    ]);
    // A guest uploads with its token.
    expect(uploads.last().headers.Authorization).toBe('Bearer token-1a0b');

    uploads.last().progress(1000, 4000);
    expect(lobby(client).draftFiles[0]?.progress).toBe(0.25);
    const before = lobby(client);
    uploads.last().progress(1001, 4000); // not a whole percent more: no new view
    expect(lobby(client)).toBe(before);

    const cat = attachment({ id: '01CAT' });
    uploads.last().respond(201, cat);
    await vi.waitFor(() => expect(lobby(client).draftFiles[0]?.state).toBe('uploaded'));
    expect(lobby(client).draftFiles[0]).toMatchObject({
      progress: 1,
      // Still shown from memory on this page; from the server after a reload.
      localUrl: 'blob:preview-1',
      attachment: { id: '01CAT', thumbUrl: `${ORIGIN}/v1/files/01CAT/thumb?token=token-1a0b`, inline: true },
    });
    await vi.waitFor(() => expect((store as MemoryStore).draftFiles.get('lobby')).toEqual([cat]));
  });

  it('shows the uploaded files again after a reload, from the server; those still uploading are lost', async () => {
    const store = new MemoryStore();
    const prefs = new MemoryKeyValue();
    const first = setup({ store, prefs });
    await first.client.whenReady();
    first.client.setDraft('lobby', 'look at these');
    first.client.attachFiles('lobby', [fileOf('cat.png', 'image/png'), fileOf('dog.png', 'image/png')]);
    const cat = attachment({ id: '01CAT', name: 'cat.png' });
    first.uploads.requests[0]?.respond(201, cat);
    await vi.waitFor(() => expect(store.draftFiles.get('lobby')).toEqual([cat]));
    first.client.stop();

    const second = setup({ store, prefs });
    await second.client.whenReady();
    expect(lobby(second.client).draft).toBe('look at these');
    expect(lobby(second.client).draftFiles).toMatchObject([
      {
        name: 'cat.png',
        state: 'uploaded',
        localUrl: null,
        attachment: { id: '01CAT', thumbUrl: `${ORIGIN}/v1/files/01CAT/thumb?token=token-1a0b` },
      },
    ]);
    // Taking it out takes it out of the draft kept.
    const key = lobby(second.client).draftFiles[0]?.key ?? '';
    second.client.removeFile('lobby', key);
    expect(lobby(second.client).draftFiles).toEqual([]);
    await vi.waitFor(() => expect(store.draftFiles.has('lobby')).toBe(false));
    expect(store.drafts.get('lobby')).toBe('look at these');
  });

  it('sends the files by id with the message, which may be files alone, and keeps them for a resend', async () => {
    const store = new MemoryStore();
    const history = new FakeHistory();
    const { client, uploads, urls } = setup({ store, history, newClientId: () => 'c-img' });
    let server = mockServer();
    await connect(client, server);
    client.openRoom('lobby');
    client.attachFiles('lobby', [fileOf('cat.png', 'image/png')]);
    expect(client.send('lobby', '')).toBe('Wait for the files to finish uploading.');
    const cat = attachment({ id: '01CAT' });
    uploads.last().respond(201, cat);
    await vi.waitFor(() => expect(lobby(client).draftFiles[0]?.state).toBe('uploaded'));

    expect(client.send('lobby', '  ')).toBeNull();
    await vi.waitFor(() =>
      expect(sentMessages(server)).toEqual([
        { type: 'messages', data: [{ content: '', client_id: 'c-img', room: 'lobby', attachments: ['01CAT'] }] },
      ]),
    );
    // The composer is empty again, its preview let go of; the message shows its file while on its way.
    expect(lobby(client).draftFiles).toEqual([]);
    expect(urls.revoked).toEqual(['blob:preview-1']);
    expect(lobby(client).messages).toMatchObject([
      { content: '', status: 'sending', attachments: [{ id: '01CAT', name: 'cat.png', inline: true }] },
    ]);
    expect(store.outbox.get('c-img')?.attachments).toEqual([cat]);
    await vi.waitFor(() => expect(store.draftFiles.has('lobby')).toBe(false));

    // The connection drops before the ack: the resend names the same files.
    server = await restartServer(server);
    await server.connected;
    server.send(welcome());
    await expect(server).toReceiveMessage({ type: 'join', room: 'lobby', since_seq: 0, epoch: 1 });
    await expect(server).toReceiveMessage({
      type: 'messages',
      data: [{ content: '', client_id: 'c-img', room: 'lobby', attachments: ['01CAT'] }],
    });
    server.send({ type: 'message_ids', status: 'success', message_ids: ['01MSG'], client_ids: ['c-img'] });
    server.send({
      type: 'messages',
      room: 'lobby',
      data: [
        message('lobby', 1, {
          id: '01MSG',
          user_id: ME,
          name: 'Ada',
          content: '',
          client_id: 'c-img',
          attachments: [cat],
        }),
      ],
    });
    await vi.waitFor(() => expect(lobby(client).messages[0]?.seq).toBe(1));
    expect(lobby(client).messages).toHaveLength(1);
    expect(lobby(client).messages[0]?.attachments.map((a) => a.id)).toEqual(['01CAT']);
    client.stop();
  });

  it('still refuses a message with neither text nor files', () => {
    const { client } = setup();
    expect(client.send('lobby', '   ')).toBe('The message is empty.');
  });

  it('takes at most 10 files per message, and says so', async () => {
    const { client, uploads } = setup();
    await client.whenReady();
    const files = (n: number) => Array.from({ length: n }, (_, i) => fileOf(`f${i}.png`, 'image/png'));
    expect(client.attachFiles('lobby', files(8))).toBeNull();
    expect(client.attachFiles('lobby', files(3))).toBe('A message can carry at most 10 files: 1 file was not added.');
    expect(lobby(client).draftFiles).toHaveLength(MAX_ATTACHMENTS);
    expect(client.attachFiles('lobby', files(1))).toBe('A message can carry at most 10 files.');
    expect(uploads.requests).toHaveLength(MAX_ATTACHMENTS);
  });

  it('removing a file that is uploading cancels its upload', async () => {
    const { client, uploads, urls } = setup();
    await client.whenReady();
    client.attachFiles('lobby', [fileOf('big.png', 'image/png')]);
    const key = lobby(client).draftFiles[0]?.key ?? '';
    client.removeFile('lobby', key);
    expect(uploads.last().aborted).toBe(true);
    expect(lobby(client).draftFiles).toEqual([]);
    expect(urls.revoked).toEqual(['blob:preview-1']);
  });

  it('keeps a refused file with why, until removed; one refused for a reason that may pass can be tried again', async () => {
    const { client, uploads } = setup();
    await client.whenReady();
    client.attachFiles('lobby', [fileOf('notes.txt', 'text/plain'), fileOf('cat.png', 'image/png')]);
    const [text, image] = uploads.requests;
    text?.respond(415, {
      error: { code: 'unsupported_media_type', message: 'the content is text/plain; allowed are image/png' },
    });
    image?.fail();
    await vi.waitFor(() => expect(lobby(client).draftFiles.map((f) => f.state)).toEqual(['failed', 'failed']));
    expect(lobby(client).draftFiles).toMatchObject([
      {
        error: "This kind of file can't be sent here. The content is text/plain; allowed are image/png.",
        retryable: false,
      },
      { error: 'Could not reach the server. Check your connection and try again.', retryable: true },
    ]);
    expect(client.send('lobby', 'hi')).toBe('Remove the files that could not be uploaded, or try them again.');

    client.retryFile('lobby', lobby(client).draftFiles[1]?.key ?? '');
    expect(lobby(client).draftFiles[1]).toMatchObject({ state: 'uploading', error: null });
    expect(uploads.requests).toHaveLength(3);
    uploads.last().respond(201, attachment());
    await vi.waitFor(() => expect(lobby(client).draftFiles[1]?.state).toBe('uploaded'));
    // One refused for what it is is not tried again.
    client.retryFile('lobby', lobby(client).draftFiles[0]?.key ?? '');
    expect(uploads.requests).toHaveLength(3);
  });

  it('tells when the uploads are done, so that a message sent meanwhile can go then', async () => {
    const { client, uploads } = setup();
    await client.whenReady();
    await expect(client.filesSettled('lobby')).resolves.toEqual({ problem: null, count: 0 });
    client.attachFiles('lobby', [fileOf('a.png', 'image/png'), fileOf('b.png', 'image/png')]);
    let settled: unknown = null;
    void client.filesSettled('lobby').then((s) => (settled = s));
    uploads.requests[0]?.respond(201, attachment());
    await Promise.resolve();
    expect(settled).toBeNull();
    uploads.requests[1]?.respond(413, { error: { code: 'payload_too_large', message: 'too large' } });
    await vi.waitFor(() =>
      expect(settled).toEqual({
        problem: 'Remove the files that could not be uploaded, or try them again.',
        count: 2,
      }),
    );
  });

  it('waits for a first-visit guest to be given a token before it uploads', async () => {
    const { client, uploads } = setup({ identity: { name: 'Ada' } });
    await client.whenReady();
    expect(client.attachFiles('lobby', [fileOf('a.png', 'image/png')])).toBe(
      'Files can be attached once you are connected.',
    );
    expect(uploads.requests).toHaveLength(0);
  });

  it("shows a message's files, and none once it is deleted", async () => {
    const history = new FakeHistory();
    const pdf = attachment({ id: '01PDF', name: 'notes.pdf', type: 'application/pdf', thumb: undefined });
    const stored = message('lobby', 1, { content: 'the notes', attachments: [attachment({ id: '01IMG' }), pdf] });
    history.add('lobby', stored);
    const { client } = setup({ history });
    client.openRoom('lobby');
    await vi.waitFor(() => expect(lobby(client).messages).toHaveLength(1));
    expect(lobby(client).messages[0]?.attachments).toMatchObject([
      { id: '01IMG', inline: true, url: `${ORIGIN}/v1/files/01IMG?token=token-1a0b` },
      { id: '01PDF', inline: false, thumbUrl: null },
    ]);
    const server = mockServer();
    await connect(client, server);
    server.send({
      type: 'events',
      room: 'lobby',
      data: [
        {
          kind: 'delete',
          seq: 2,
          id: '01DEL',
          room: 'lobby',
          target: stored.id,
          user_id: stored.user_id,
          name: stored.name,
          created_at: stored.created_at,
        },
      ],
    });
    await vi.waitFor(() => expect(lobby(client).messages[0]?.deleted).toBe(true));
    expect(lobby(client).messages[0]?.attachments).toEqual([]);
    client.stop();
  });
});
