import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { RoomSidebar } from '../../src/components/RoomSidebar';
import { ChatProvider } from '../../src/hooks/use-chat';
import { makeClient } from '../helpers/fixtures';

function renderSidebar(myRooms: string[], current = 'lobby') {
  const onSelect = vi.fn();
  const onLeave = vi.fn();
  // The badge by your name reads the connection from the client.
  const { client } = makeClient();
  render(
    <ChatProvider client={client}>
      <RoomSidebar
        myRooms={myRooms}
        rooms={{}}
        current={current}
        directory={[]}
        identity={{ userId: null, token: null, name: 'Ada' }}
        online
        onSelect={onSelect}
        onLeave={onLeave}
        onEditName={() => {}}
      />
    </ChatProvider>,
  );
  return { onSelect, onLeave };
}

function rooms() {
  return screen.getByRole('navigation', { name: 'Your rooms' });
}

/** The accessible names of what Tab reaches, in order, from the page's start until it comes back. */
async function tabOrder(user: ReturnType<typeof userEvent.setup>): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < 20; i++) {
    await user.tab();
    const el = document.activeElement;
    if (!el || el === document.body) break;
    names.push(el.getAttribute('aria-label') ?? el.textContent ?? '');
  }
  return names;
}

describe('RoomSidebar: leaving a room', () => {
  it('has a leave button per room, named for it, in the tab order right after its row', async () => {
    renderSidebar(['lobby', 'random']);
    const leave = within(rooms()).getByRole('button', { name: 'Leave #random' });
    expect(leave).toHaveAttribute('title', 'Leave #random');
    expect(leave.tabIndex).toBe(0);
    // Shown by opacity, never taken out of the layout: a `display: none` button cannot be focused.
    expect(leave.className.split(/\s+/)).not.toContain('hidden');
    expect(leave.className).toMatch(/group-focus-within:opacity-100/);
    expect(leave.className).toMatch(/\[@media\(hover:none\)\]:opacity-100/);

    const user = userEvent.setup();
    const order = await tabOrder(user);
    expect(order).toEqual(
      expect.arrayContaining(['Join or create a room', 'lobby', 'Leave #lobby', 'random', 'Leave #random']),
    );
    expect(order.indexOf('Leave #random')).toBe(order.indexOf('random') + 1);
  });

  it('leaves the room on Enter and on Space, without opening it, and the focus goes to the next row', async () => {
    const { onSelect, onLeave } = renderSidebar(['lobby', 'random', 'zoo']);
    const user = userEvent.setup();
    within(rooms()).getByRole('button', { name: 'random' }).focus();
    await user.tab();
    expect(within(rooms()).getByRole('button', { name: 'Leave #random' })).toHaveFocus();

    await user.keyboard('{Enter}');
    expect(onLeave).toHaveBeenCalledWith('random');
    expect(onSelect).not.toHaveBeenCalled();
    // The row is about to go (the parent drops it): the keyboard carries on from its neighbour.
    expect(within(rooms()).getByRole('button', { name: 'zoo' })).toHaveFocus();

    await user.tab();
    expect(within(rooms()).getByRole('button', { name: 'Leave #zoo' })).toHaveFocus();
    await user.keyboard(' ');
    expect(onLeave).toHaveBeenLastCalledWith('zoo');
    // The last row: the one before it.
    expect(within(rooms()).getByRole('button', { name: 'random' })).toHaveFocus();
    expect(onSelect).not.toHaveBeenCalled();
  });

  it('still opens a room by clicking its row, and a click on the × leaves it only', async () => {
    const { onSelect, onLeave } = renderSidebar(['lobby', 'random']);
    const user = userEvent.setup();
    await user.click(within(rooms()).getByRole('button', { name: 'random' }));
    expect(onSelect).toHaveBeenCalledWith('random');
    expect(onLeave).not.toHaveBeenCalled();

    const leave = within(rooms()).getByRole('button', { name: 'Leave #lobby' });
    await user.click(leave);
    expect(onLeave).toHaveBeenCalledWith('lobby');
    expect(onSelect).toHaveBeenCalledTimes(1);
    // A pointer is where it is: the focus is not moved for it.
    expect(leave).toHaveFocus();
  });

  it('offers no way to leave the only room', () => {
    renderSidebar(['lobby']);
    expect(within(rooms()).queryByRole('button', { name: /^Leave/ })).not.toBeInTheDocument();
  });
});
