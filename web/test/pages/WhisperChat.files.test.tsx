import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type WS from 'jest-websocket-mock';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/App';
import type { ClientFrame } from '../../src/core/protocol';
import { makeClient, mockServer, welcome, type TestClient } from '../helpers/fixtures';
import { attachment, fakeObjectUrls, fakeUploads, fileOf } from '../helpers/uploads';

const running: TestClient[] = [];

afterEach(() => {
  for (const t of running.splice(0)) t.client.stop();
});

function setup() {
  const uploads = fakeUploads();
  const t = makeClient({
    identity: { name: 'Ada' },
    files: uploads.api,
    objectUrls: fakeObjectUrls(),
    newClientId: () => 'c-files',
  });
  running.push(t);
  render(
    <MemoryRouter initialEntries={['/chat/lobby']}>
      <App client={t.client} />
    </MemoryRouter>,
  );
  return { ...t, uploads };
}

async function handshake(server: WS) {
  await act(async () => {
    await server.connected;
  });
  await act(async () => {
    server.send(welcome());
    server.send({ type: 'joined', room: 'lobby', seq: 0, epoch: 1, recovered: false });
  });
  await waitFor(() => expect(screen.getAllByTestId('connection-status')[0]).toHaveTextContent('Online'));
}

function sentMessages(server: WS) {
  return (server.messages as ClientFrame[]).filter((f) => f.type === 'messages');
}

function box() {
  return screen.getByRole('textbox', { name: 'Message #lobby' });
}

/** Pastes `files` into the composer as a copied image would be. */
function paste(files: File[]) {
  fireEvent.paste(box(), { clipboardData: { files, items: [], types: ['Files'], getData: () => '' } });
}

function chips() {
  return screen.queryAllByTestId('composer-file');
}

describe('WhisperChat: attaching files', () => {
  it('a pasted image becomes a chip with its upload’s progress, then a message of that image alone', async () => {
    const server = mockServer();
    const { uploads } = setup();
    await handshake(server);

    paste([fileOf('image.png', 'image/png', 4000)]);
    const chip = await screen.findByTestId('composer-file');
    expect(chip).toHaveAttribute('data-state', 'uploading');
    expect(within(chip).getByTestId('composer-file-preview')).toHaveAttribute('src', 'blob:preview-1');
    const bar = within(chip).getByRole('progressbar', { name: 'Uploading image.png' });
    expect(bar).toHaveAttribute('aria-valuenow', '0');
    // A guest's upload carries its token.
    expect(uploads.last().headers.Authorization).toBe(`Bearer ${welcome().token}`);

    act(() => uploads.last().progress(2000, 4000));
    expect(bar).toHaveAttribute('aria-valuenow', '50');
    expect(chip).toHaveTextContent('Uploading… 50%');

    act(() => uploads.last().respond(201, attachment({ id: '01IMG', name: 'image.png', size: 4000 })));
    await waitFor(() => expect(chips()[0]).toHaveAttribute('data-state', 'uploaded'));
    expect(chips()[0]).toHaveTextContent('4 KB');

    // No text: the image alone is a message.
    const send = screen.getByRole('button', { name: 'Send message' });
    expect(send).toBeEnabled();
    const user = userEvent.setup();
    await user.click(send);
    await waitFor(() =>
      expect(sentMessages(server)).toEqual([
        { type: 'messages', data: [{ content: '', client_id: 'c-files', room: 'lobby', attachments: ['01IMG'] }] },
      ]),
    );
    expect(chips()).toHaveLength(0);
    const row = screen.getByTestId('message');
    expect(row).toHaveAttribute('data-status', 'sending');
    expect(within(row).getByRole('img', { name: 'image.png' })).toHaveAttribute('width', '320');
  });

  it('a refused upload says why on its chip, stops the send, and goes with ×', async () => {
    const server = mockServer();
    const { uploads } = setup();
    await handshake(server);
    const user = userEvent.setup();
    await user.upload(screen.getByLabelText('Choose files to attach'), fileOf('notes.txt', 'text/plain'));
    await screen.findByTestId('composer-file');
    act(() =>
      uploads.last().respond(415, {
        error: {
          code: 'unsupported_media_type',
          message: 'the content is text/plain; allowed are image/png, image/jpeg, image/gif, image/webp',
        },
      }),
    );
    const chip = await screen.findByTestId('composer-file');
    await waitFor(() => expect(chip).toHaveAttribute('data-state', 'failed'));
    expect(within(chip).getByTestId('composer-file-error')).toHaveTextContent(
      "This kind of file can't be sent here. The content is text/plain; allowed are image/png, image/jpeg, image/gif, image/webp.",
    );

    await user.type(box(), 'here are my notes{Enter}');
    expect(await screen.findByTestId('composer-error')).toHaveTextContent(
      'Remove the files that could not be uploaded, or try them again.',
    );
    expect(sentMessages(server)).toEqual([]);

    await user.click(within(chip).getByRole('button', { name: 'Remove notes.txt' }));
    expect(chips()).toHaveLength(0);
    await user.click(screen.getByRole('button', { name: 'Send message' }));
    await waitFor(() =>
      expect(sentMessages(server)).toEqual([
        { type: 'messages', data: [{ content: 'here are my notes', client_id: 'c-files', room: 'lobby' }] },
      ]),
    );
  });

  it('a message sent while its file uploads waits, then goes with the text as it is then', async () => {
    const server = mockServer();
    const { uploads } = setup();
    await handshake(server);
    const user = userEvent.setup();
    paste([fileOf('image.png', 'image/png')]);
    await screen.findByTestId('composer-file');
    await user.type(box(), 'the view{Enter}');
    expect(await screen.findByRole('button', { name: 'Sending once the files are uploaded' })).toBeDisabled();
    expect(screen.getByText('Sending once the files are uploaded…')).toHaveAttribute('role', 'status');
    await user.type(box(), ' from here');
    expect(sentMessages(server)).toEqual([]);

    act(() => uploads.last().respond(201, attachment({ id: '01VIEW' })));
    await waitFor(() =>
      expect(sentMessages(server)).toEqual([
        {
          type: 'messages',
          data: [{ content: 'the view from here', client_id: 'c-files', room: 'lobby', attachments: ['01VIEW'] }],
        },
      ]),
    );
    expect(box()).toHaveValue('');
    expect(screen.getByRole('button', { name: 'Send message' })).toBeDisabled();
  });

  it('removing a chip cancels its upload', async () => {
    const server = mockServer();
    const { uploads } = setup();
    await handshake(server);
    paste([fileOf('big.png', 'image/png')]);
    const chip = await screen.findByTestId('composer-file');
    const user = userEvent.setup();
    await user.click(within(chip).getByRole('button', { name: 'Remove big.png' }));
    expect(uploads.last().aborted).toBe(true);
    expect(chips()).toHaveLength(0);
  });

  it('takes files dropped on the room, and says so while they are dragged over it', async () => {
    const server = mockServer();
    const { uploads } = setup();
    await handshake(server);
    const room = screen.getByRole('region', { name: 'Room lobby' });
    const files = [fileOf('a.png', 'image/png'), fileOf('report.pdf', 'application/pdf')];
    const dataTransfer = { files, items: [], types: ['Files'], dropEffect: 'none' };
    fireEvent.dragEnter(room, { dataTransfer });
    expect(screen.getByTestId('drop-overlay')).toHaveTextContent('Drop to attach');
    fireEvent.dragOver(room, { dataTransfer });
    fireEvent.drop(room, { dataTransfer });
    expect(screen.queryByTestId('drop-overlay')).not.toBeInTheDocument();
    await waitFor(() => expect(chips()).toHaveLength(2));
    expect(uploads.requests.map((r) => r.headers['X-Filename'])).toEqual(['a.png', 'report.pdf']);
    // Text dragged about the page is none of its business.
    fireEvent.dragEnter(room, { dataTransfer: { files: [], items: [], types: ['text/plain'] } });
    expect(screen.queryByTestId('drop-overlay')).not.toBeInTheDocument();
  });

  it('says when more than 10 files would go with one message', async () => {
    const server = mockServer();
    setup();
    await handshake(server);
    paste(Array.from({ length: 12 }, (_, i) => fileOf(`f${i}.png`, 'image/png')));
    await waitFor(() => expect(chips()).toHaveLength(10));
    expect(screen.getByTestId('composer-error')).toHaveTextContent(
      'A message can carry at most 10 files: 2 files were not added.',
    );
  });
});
