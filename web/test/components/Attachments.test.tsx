import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { MessageItem } from '../../src/components/MessageItem';
import type { Attachment } from '../../src/core/protocol';
import { newEntry } from '../../src/core/outbox';
import { pendingMessageView, storedMessageView } from '../../src/core/views';
import { BOB, ME, ORIGIN, message } from '../helpers/fixtures';
import { attachment } from '../helpers/uploads';

const handlers = {
  retry: () => {},
  discard: () => {},
  startEdit: () => {},
  saveEdit: () => null,
  cancelEdit: () => {},
  remove: () => {},
  react: () => {},
  reply: () => {},
  showOriginal: () => {},
};

const LINKS = { base: ORIGIN, token: null };

function renderMessage(attachments: Attachment[], content = '') {
  const view = storedMessageView(message('lobby', 1, { user_id: BOB, content, attachments }), ME, undefined, LINKS);
  return render(
    <ul>
      <MessageItem message={view} continued={false} handlers={handlers} />
    </ul>,
  );
}

describe('a message with files', () => {
  it('shows an image inline at its thumbnail size, lazily, named by its file name, with no empty text', () => {
    renderMessage([attachment({ id: '01CAT', name: 'cat.png', thumb: { width: 320, height: 240 } })]);
    const img = screen.getByRole('img', { name: 'cat.png' });
    expect(img).toHaveAttribute('src', `${ORIGIN}/v1/files/01CAT/thumb`);
    // Its box is known before it loads: nothing moves when it does.
    expect(img).toHaveAttribute('width', '320');
    expect(img).toHaveAttribute('height', '240');
    expect(img).toHaveAttribute('loading', 'lazy');
    expect(screen.queryByTestId('message-content')).not.toBeInTheDocument();
  });

  it('opens the image full size on click or Enter, with its name and a download link; Escape closes it and the focus comes back', async () => {
    renderMessage([attachment({ id: '01CAT', name: 'cat.png', size: 48_213, width: 1280, height: 960 })], 'look');
    const user = userEvent.setup();
    const open = screen.getByRole('button', { name: 'View cat.png' });
    await user.click(open);
    const dialog = screen.getByRole('dialog', { name: 'cat.png' });
    expect(dialog).toHaveAccessibleDescription('47 KB · PNG image · 1280 × 960');
    const full = within(dialog).getByRole('img', { name: 'cat.png' });
    expect(full).toHaveAttribute('src', `${ORIGIN}/v1/files/01CAT`);
    const download = within(dialog).getByRole('link', { name: 'Download' });
    expect(download).toHaveAttribute('href', `${ORIGIN}/v1/files/01CAT`);
    expect(download).toHaveAttribute('download', 'cat.png');
    // The focus is held inside.
    expect(dialog.contains(document.activeElement)).toBe(true);

    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(open).toHaveFocus();

    await user.keyboard('{Enter}');
    expect(screen.getByRole('dialog', { name: 'cat.png' })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Close' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(open).toHaveFocus();
  });

  it('shows several images as a grid, and the lightbox goes from one to the next', async () => {
    renderMessage([
      attachment({ id: '01A', name: 'a.png' }),
      attachment({ id: '01B', name: 'b.jpg', type: 'image/jpeg' }),
      attachment({ id: '01C', name: 'c.png' }),
    ]);
    expect(screen.getAllByTestId('attachment-image')).toHaveLength(3);
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'View b.jpg' }));
    expect(screen.getByRole('dialog', { name: 'b.jpg' })).toHaveTextContent('2 of 3');
    await user.keyboard('{ArrowRight}');
    expect(screen.getByRole('dialog', { name: 'c.png' })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Next image' }));
    expect(screen.getByRole('dialog', { name: 'a.png' })).toBeInTheDocument();
    await user.keyboard('{Escape}');
    // Back to the image it opened at.
    expect(screen.getByRole('button', { name: 'View b.jpg' })).toHaveFocus();
  });

  it('shows other files, and images without a thumbnail, as cards that download them, with size and kind', () => {
    renderMessage([
      attachment({
        id: '01PDF',
        name: 'notes.pdf',
        type: 'application/pdf',
        size: 1.5 * 1024 * 1024,
        thumb: undefined,
      }),
      attachment({ id: '01GIF', name: 'huge.gif', type: 'image/gif', size: 2048, thumb: undefined }),
    ]);
    const pdf = screen.getByRole('link', { name: 'Download notes.pdf (1.5 MB, PDF document)' });
    expect(pdf).toHaveAttribute('href', `${ORIGIN}/v1/files/01PDF`);
    expect(pdf).toHaveAttribute('download', 'notes.pdf');
    expect(pdf).toHaveTextContent('notes.pdf');
    expect(pdf).toHaveTextContent('1.5 MB · PDF document');
    expect(screen.getByRole('link', { name: 'Download huge.gif (2 KB, GIF image)' })).toBeInTheDocument();
    expect(screen.queryByTestId('attachment-image')).not.toBeInTheDocument();
  });

  it("carries a guest's token in the URLs of its files", () => {
    const view = storedMessageView(message('lobby', 1, { attachments: [attachment({ id: '01CAT' })] }), ME, undefined, {
      base: '',
      token: 'guest-token',
    });
    render(
      <ul>
        <MessageItem message={view} continued={false} handlers={handlers} />
      </ul>,
    );
    expect(screen.getByRole('img', { name: 'cat.png' })).toHaveAttribute(
      'src',
      '/v1/files/01CAT/thumb?token=guest-token',
    );
  });

  it('shows the files of your message while it is on its way', () => {
    const entry = newEntry('c1', 'lobby', '', '2026-11-22T20:00:00.000Z', undefined, [attachment({ id: '01CAT' })]);
    render(
      <ul>
        <MessageItem
          message={pendingMessageView(entry, ME, 'Ada', 'guest', null, LINKS)}
          continued={false}
          handlers={handlers}
        />
      </ul>,
    );
    expect(screen.getByTestId('message')).toHaveAttribute('data-status', 'sending');
    expect(screen.getByRole('img', { name: 'cat.png' })).toHaveAttribute('src', `${ORIGIN}/v1/files/01CAT/thumb`);
  });
});
