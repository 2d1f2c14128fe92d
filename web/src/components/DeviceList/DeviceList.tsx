import { useCallback, useEffect, useId, useState } from 'react';
import { describeAccountError, type AccountProblem, type DeviceSession } from '../../core/chat';
import { describeUserAgent, formatFull, relativeTime } from '../../lib/format';
import { Icon } from '../Icon';
import { SignOutForm } from '../SignOutForm';

/** This device first, then the most recently used. */
function byUse(a: DeviceSession, b: DeviceSession): number {
  if (a.current !== b.current) return a.current ? -1 : 1;
  return b.last_used_at - a.last_used_at;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * "Signed in on N devices": each device by its browser and system, when it was
 * last used, this one marked, and a Revoke button each. Revoking another
 * device signs it out at once (its sockets close); revoking this one is
 * signing out here, so it asks first, with the same choice as Sign out.
 */
export function DeviceList({
  load,
  revoke,
  signOut,
}: {
  load: () => Promise<DeviceSession[]>;
  revoke: (id: string) => Promise<AccountProblem | null>;
  signOut: (forget: boolean) => Promise<AccountProblem | null>;
}) {
  const [sessions, setSessions] = useState<DeviceSession[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);
  const [rowError, setRowError] = useState<{ id: string; message: string } | null>(null);
  const [confirmHere, setConfirmHere] = useState(false);
  const titleId = useId();

  // Bumped to read the list again (Try again, after a revoke).
  const [reads, setReads] = useState(0);
  const refresh = useCallback(() => setReads((n) => n + 1), []);

  useEffect(() => {
    let live = true;
    load().then(
      (list) => {
        if (!live) return;
        setSessions([...list].sort(byUse));
        setError(null);
      },
      (e: unknown) => {
        if (live) setError(describeAccountError(e).message);
      },
    );
    return () => {
      live = false;
    };
  }, [load, reads]);

  const revokeOther = async (id: string) => {
    setRevoking(id);
    setRowError(null);
    const problem = await revoke(id);
    setRevoking(null);
    if (problem) {
      setRowError({ id, message: problem.message });
      return;
    }
    setSessions((list) => list?.filter((s) => s.id !== id) ?? null);
    refresh();
  };

  const count = sessions?.length ?? 0;
  return (
    <section aria-labelledby={titleId} className="space-y-3">
      <h2 id={titleId} className="text-sm font-semibold text-zinc-900 dark:text-zinc-50">
        {sessions === null ? 'Devices' : `Signed in on ${count} ${count === 1 ? 'device' : 'devices'}`}
      </h2>
      {error && (
        <p role="alert" className="flex flex-wrap items-center gap-2 text-sm text-rose-700 dark:text-rose-300">
          {error}
          <button type="button" onClick={refresh} className="font-semibold underline-offset-2 hover:underline">
            Try again
          </button>
        </p>
      )}
      {sessions === null && !error && <p className="text-sm text-zinc-500 dark:text-zinc-400">Loading devices…</p>}
      {sessions && (
        <ul aria-label="Devices" className="divide-y divide-zinc-100 dark:divide-zinc-800">
          {sessions.map((s) => {
            const device = describeUserAgent(s.user_agent);
            return (
              <li key={s.id} data-testid="device" data-current={s.current} className="py-3">
                <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
                  <span className="flex size-9 shrink-0 items-center justify-center rounded-lg bg-zinc-100 text-zinc-500 dark:bg-zinc-800 dark:text-zinc-400">
                    <Icon name="device" className="size-4" />
                  </span>
                  <div className="min-w-0 flex-1">
                    <p className="flex flex-wrap items-center gap-2 text-sm font-medium text-zinc-900 dark:text-zinc-100">
                      <span className="truncate" title={s.user_agent ?? undefined}>
                        {device}
                      </span>
                      {s.current && (
                        <span className="rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-700 dark:bg-emerald-500/10 dark:text-emerald-300">
                          This device
                        </span>
                      )}
                    </p>
                    <p className="text-xs text-zinc-500 dark:text-zinc-400">
                      Last used{' '}
                      <time dateTime={iso(s.last_used_at)} title={formatFull(iso(s.last_used_at))}>
                        {relativeTime(iso(s.last_used_at))}
                      </time>
                      {' · '}signed in{' '}
                      <time dateTime={iso(s.created_at)} title={formatFull(iso(s.created_at))}>
                        {relativeTime(iso(s.created_at))}
                      </time>
                    </p>
                  </div>
                  <button
                    type="button"
                    disabled={revoking === s.id}
                    aria-label={`Revoke ${device}${s.current ? ' (this device)' : ''}`}
                    onClick={() => (s.current ? setConfirmHere(true) : void revokeOther(s.id))}
                    className="rounded-lg px-3 py-1.5 text-sm font-medium text-rose-700 ring-1 ring-rose-200 hover:bg-rose-50 disabled:opacity-60 dark:text-rose-300 dark:ring-rose-500/30 dark:hover:bg-rose-500/10"
                  >
                    {revoking === s.id ? 'Revoking…' : 'Revoke'}
                  </button>
                </div>
                {rowError?.id === s.id && (
                  <p role="alert" className="mt-2 text-sm text-rose-600 dark:text-rose-400">
                    {rowError.message}
                  </p>
                )}
                {s.current && confirmHere && (
                  <div className="mt-3 rounded-lg border border-rose-200 bg-rose-50/60 p-3 dark:border-rose-500/30 dark:bg-rose-500/10">
                    <SignOutForm
                      description="This is the device you are using: revoking it signs you out here."
                      onSignOut={signOut}
                      onCancel={() => setConfirmHere(false)}
                    />
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
