import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useRef } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { Dialog } from '../../src/components/Dialog';
import { interleave } from '../../src/components/MessageList/MessageList';
import { storedMessageView } from '../../src/core/views';
import { message } from '../helpers/fixtures';

function Page({ onClose }: { onClose: () => void }) {
  const second = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button">Behind</button>
      <Dialog title="Settings" onClose={onClose} initialFocus={second}>
        <input aria-label="First" />
        <input aria-label="Second" ref={second} />
        <button type="button">Save</button>
      </Dialog>
    </>
  );
}

describe('Dialog', () => {
  it('is a modal named by its title, starts on the field asked for, and Tab goes round inside it', async () => {
    render(<Page onClose={() => {}} />);
    const dialog = screen.getByRole('dialog', { name: 'Settings' });
    expect(dialog).toHaveAttribute('aria-modal', 'true');
    expect(screen.getByRole('textbox', { name: 'Second' })).toHaveFocus();
    const user = userEvent.setup();
    await user.tab();
    expect(screen.getByRole('button', { name: 'Save' })).toHaveFocus();
    await user.tab();
    expect(screen.getByRole('button', { name: 'Close' })).toHaveFocus();
    await user.tab({ shift: true });
    expect(screen.getByRole('button', { name: 'Save' })).toHaveFocus();
    await user.tab();
    await user.tab();
    expect(screen.getByRole('textbox', { name: 'First' })).toHaveFocus();
    await user.tab({ shift: true });
    expect(screen.getByRole('button', { name: 'Close' })).toHaveFocus();
    // A focus behind the dialog comes back into it.
    screen.getByRole('button', { name: 'Behind' }).focus();
    expect(dialog.contains(document.activeElement)).toBe(true);
  });

  it('closes on Escape and on its ×', async () => {
    const onClose = vi.fn();
    render(<Page onClose={onClose} />);
    const user = userEvent.setup();
    await user.keyboard('{Escape}');
    await user.click(screen.getByRole('button', { name: 'Close' }));
    expect(onClose).toHaveBeenCalledTimes(2);
  });
});

describe('MessageList: notices among the messages', () => {
  it('puts each notice before the first message after it, and the last ones before messages still on their way', () => {
    const stored = [1, 4].map((seq) => storedMessageView(message('p/x', seq), null));
    const pending = { ...storedMessageView(message('p/x', 9), null), key: 'c:pending', seq: null };
    const notice = (seq: number) => ({
      key: `n:${seq}`,
      id: String(seq),
      seq,
      kind: 'member' as const,
      text: `notice ${seq}`,
      createdAt: new Date(0).toISOString(),
    });
    const items = interleave([...stored, pending], [notice(2), notice(3), notice(5)]);
    expect(items.map((i) => i.key)).toEqual([stored[0]?.key, 'n:2', 'n:3', stored[1]?.key, 'n:5', 'c:pending']);
    expect(interleave([], [notice(1)]).map((i) => i.key)).toEqual(['n:1']);
  });
});
