import { useCallback, useState } from 'react';
import { Navigate, useNavigate } from 'react-router';
import { AccountNameForm } from '../components/AccountNameForm';
import { Avatar } from '../components/Avatar';
import { DeviceList } from '../components/DeviceList';
import { SignOutForm } from '../components/SignOutForm';
import { useChatClient, useChatSelector } from '../hooks/use-chat';

/** `/account`: your name, the devices signed in (each can be revoked), and signing out. */
export function Account() {
  const client = useChatClient();
  const navigate = useNavigate();
  const account = useChatSelector((s) => s.account);
  const checked = useChatSelector((s) => s.accountChecked);

  const rename = useCallback((name: string) => client.renameAccount(name), [client]);
  const load = useCallback(() => client.devices(), [client]);
  const revoke = useCallback((id: string) => client.revokeDevice(id), [client]);
  // Signing out here: home, not the sign-in page that someone signed out elsewhere is sent to.
  const [leaving, setLeaving] = useState(false);
  const signOut = useCallback(
    async (forget: boolean) => {
      setLeaving(true);
      const problem = await client.signOut({ forget });
      if (problem) setLeaving(false);
      else void navigate('/', { replace: true });
      return problem;
    },
    [client, navigate],
  );

  if (!account) return checked && !leaving ? <Navigate to="/signin" replace /> : null;

  return (
    <div className="min-h-0 flex-1 overflow-y-auto bg-zinc-50 dark:bg-zinc-950/60">
      <div className="mx-auto max-w-2xl space-y-6 px-4 py-8 sm:px-6">
        <div className="flex items-center gap-4">
          <Avatar name={account.name} userId={account.userId} size="lg" />
          <div className="min-w-0">
            <h1 className="truncate text-xl font-bold tracking-tight" data-testid="account-name">
              {account.name}
            </h1>
            <p className="truncate text-sm text-zinc-500 dark:text-zinc-400">{account.email}</p>
          </div>
        </div>

        <Card title="Profile">
          {/* Keyed by the name: renamed elsewhere, the field starts from the new one. */}
          <AccountNameForm key={account.name} name={account.name} onRename={rename} />
        </Card>

        <Card>
          <DeviceList key={account.userId} load={load} revoke={revoke} signOut={signOut} />
        </Card>

        <Card title="Sign out">
          <SignOutForm onSignOut={signOut} />
        </Card>
      </div>
    </div>
  );
}

function Card({ title, children }: { title?: string; children: React.ReactNode }) {
  return (
    <section
      aria-label={title}
      className="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-zinc-200 dark:bg-zinc-900 dark:ring-zinc-800"
    >
      {title && <h2 className="mb-3 text-sm font-semibold text-zinc-900 dark:text-zinc-50">{title}</h2>}
      {children}
    </section>
  );
}
