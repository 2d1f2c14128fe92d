import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { DeviceList } from '../../src/components/DeviceList';
import type { AccountProblem, DeviceSession } from '../../src/core/chat';
import { ApiError } from '../../src/core/http';

const NOW = Date.now();
const MINUTE = 60_000;

function session(id: string, fields: Partial<DeviceSession> = {}): DeviceSession {
  return {
    id,
    created_at: NOW - 3 * 86_400_000,
    last_used_at: NOW - 5 * MINUTE,
    expires_at: NOW + 30 * 86_400_000,
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36',
    current: false,
    ...fields,
  };
}

/** Devices as the server lists them: `revoke` takes one out. */
function server(initial: DeviceSession[]) {
  let sessions = [...initial];
  const load = vi.fn(async () => sessions);
  const revoke = vi.fn(async (id: string): Promise<AccountProblem | null> => {
    sessions = sessions.filter((s) => s.id !== id);
    return null;
  });
  const signOut = vi.fn(async (_forget: boolean): Promise<AccountProblem | null> => null);
  return { load, revoke, signOut };
}

function rows() {
  return within(screen.getByRole('list', { name: 'Devices' })).getAllByRole('listitem');
}

describe('DeviceList', () => {
  it('says how many devices, names each with when it was last used, and marks this one, first', async () => {
    const fake = server([
      session('phone', { user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1' }),
      session('here', { current: true, last_used_at: NOW }),
      session('old', { user_agent: null, last_used_at: NOW - 3 * 3_600_000 }),
    ]);
    render(<DeviceList {...fake} />);
    expect(await screen.findByRole('heading', { name: 'Signed in on 3 devices' })).toBeInTheDocument();
    const [here, phone, old] = rows();
    expect(here).toHaveTextContent('Chrome on Linux');
    expect(here).toHaveTextContent('This device');
    expect(here).toHaveTextContent('Last used just now');
    expect(phone).toHaveTextContent('Safari on iPhone');
    expect(phone).toHaveTextContent('Last used 5 min ago');
    expect(phone).not.toHaveTextContent('This device');
    expect(old).toHaveTextContent('Unknown device');
    expect(old).toHaveTextContent('Last used 3 h ago');
    // One Revoke button per device, each named for its device.
    expect(screen.getAllByRole('button', { name: /^Revoke/ })).toHaveLength(3);
    expect(within(phone as HTMLElement).getByRole('button')).toHaveAccessibleName('Revoke Safari on iPhone');
    expect(within(here as HTMLElement).getByRole('button')).toHaveAccessibleName(
      'Revoke Chrome on Linux (this device)',
    );
  });

  it('revokes another device at once, and counts again', async () => {
    const fake = server([session('here', { current: true }), session('phone')]);
    render(<DeviceList {...fake} />);
    await screen.findByRole('heading', { name: 'Signed in on 2 devices' });
    const user = userEvent.setup();
    await user.click(within(rows()[1] as HTMLElement).getByRole('button', { name: /^Revoke/ }));
    expect(fake.revoke).toHaveBeenCalledWith('phone');
    expect(await screen.findByRole('heading', { name: 'Signed in on 1 device' })).toBeInTheDocument();
    expect(rows()).toHaveLength(1);
    expect(fake.signOut).not.toHaveBeenCalled();
  });

  it('revoking this device asks first: it is signing out, with the choice to remove the copy here', async () => {
    const fake = server([session('here', { current: true }), session('phone')]);
    render(<DeviceList {...fake} />);
    await screen.findByRole('heading', { name: 'Signed in on 2 devices' });
    const user = userEvent.setup();
    await user.click(within(rows()[0] as HTMLElement).getByRole('button', { name: /^Revoke/ }));
    expect(fake.revoke).not.toHaveBeenCalled();
    const confirm = screen.getByRole('form', { name: 'Sign out' });
    expect(confirm).toHaveTextContent('revoking it signs you out here');
    // Focus starts on Cancel, and Escape cancels.
    expect(within(confirm).getByRole('button', { name: 'Cancel' })).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('form', { name: 'Sign out' })).not.toBeInTheDocument();

    await user.click(within(rows()[0] as HTMLElement).getByRole('button', { name: /^Revoke/ }));
    const box = screen.getByRole('checkbox', {
      name: "Also remove this account's messages and drafts from this browser",
    });
    expect(box).toBeChecked();
    await user.click(box);
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(fake.signOut).toHaveBeenCalledWith(false);
  });

  it('says why a revoke failed, on its row', async () => {
    const fake = server([session('here', { current: true }), session('phone')]);
    fake.revoke.mockResolvedValueOnce({ code: 'network', field: null, message: 'Could not reach the server.' });
    render(<DeviceList {...fake} />);
    await screen.findByRole('heading', { name: 'Signed in on 2 devices' });
    const user = userEvent.setup();
    await user.click(within(rows()[1] as HTMLElement).getByRole('button', { name: /^Revoke/ }));
    expect(await within(rows()[1] as HTMLElement).findByRole('alert')).toHaveTextContent('Could not reach the server.');
    expect(rows()).toHaveLength(2);
  });

  it('says when the list cannot be read, and tries again', async () => {
    const fake = server([session('here', { current: true })]);
    fake.load.mockRejectedValueOnce(new ApiError(0, 'network', 'Failed to fetch'));
    render(<DeviceList {...fake} />);
    expect(await screen.findByRole('alert')).toHaveTextContent('Could not reach the server.');
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    await waitFor(() => expect(screen.getByRole('heading', { name: 'Signed in on 1 device' })).toBeInTheDocument());
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });
});
