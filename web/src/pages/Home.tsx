import { useEffect } from 'react';
import { Link } from 'react-router';
import { Icon, type IconName } from '../components/Icon';
import { metaOf, roomReference } from '../core/rooms';
import { useChatClient, useChatSnapshot } from '../hooks/use-chat';
import { relativeTime } from '../lib/format';

/** The landing page: what WhisperChat is, and the rooms that are busy right now. */
export function Home() {
  const client = useChatClient();
  const snapshot = useChatSnapshot();
  const { identity, directory, directoryHasMore } = snapshot;

  useEffect(() => {
    void client.refreshDirectory();
  }, [client]);

  const rooms = [...directory].sort((a, b) => (b.last_message_at ?? '').localeCompare(a.last_message_at ?? ''));
  // Your private and direct rooms are listed with the public ones; only the public ones are the server's count.
  const publicRooms = directory.filter((r) => metaOf(r).visibility === 'public');
  // Someone in two rooms counts in both, so the busiest room is the honest figure.
  const busiest = directory.reduce((n, r) => Math.max(n, r.online), 0);

  return (
    <div className="min-h-0 flex-1 overflow-y-auto bg-zinc-50 dark:bg-zinc-950/60">
      <div className="mx-auto max-w-5xl px-6 py-10">
        <section className="relative overflow-hidden rounded-3xl bg-gradient-to-br from-indigo-600 via-indigo-600 to-violet-600 px-8 py-10 text-white shadow-xl shadow-indigo-600/20">
          <div className="absolute -top-16 -right-16 size-64 rounded-full bg-white/10 blur-2xl" aria-hidden="true" />
          <p className="text-sm font-medium text-indigo-100">
            {identity.name ? `Welcome back, ${identity.name}` : 'Welcome'}
          </p>
          <h1 className="mt-2 max-w-xl text-3xl font-bold tracking-tight sm:text-4xl">
            Real-time rooms for the conversations that matter.
          </h1>
          <p className="mt-3 max-w-xl text-indigo-100">
            Messages arrive the moment they are sent, nothing is lost when your connection drops, and history is always
            a scroll away.
          </p>
          <div className="mt-6 flex flex-wrap gap-3">
            <Link
              to="/chat"
              className="inline-flex items-center gap-2 rounded-lg bg-white px-4 py-2.5 text-sm font-semibold text-indigo-700 shadow-sm hover:bg-indigo-50"
            >
              <Icon name="chat" className="size-4" />
              Open WhisperChat
            </Link>
            <span className="inline-flex items-center gap-2 rounded-lg bg-white/10 px-4 py-2.5 text-sm text-white ring-1 ring-white/20">
              <span className="size-2 rounded-full bg-emerald-400" />
              {publicRooms.length}
              {directoryHasMore ? '+' : ''} {publicRooms.length === 1 && !directoryHasMore ? 'room' : 'rooms'}
              {busiest > 0 ? ` · up to ${busiest} online` : ''}
            </span>
          </div>
        </section>

        <div className="mt-8 grid gap-6 lg:grid-cols-5">
          <section className="rounded-2xl bg-white p-5 shadow-sm ring-1 ring-zinc-200 lg:col-span-3 dark:bg-zinc-900 dark:ring-zinc-800">
            <h2 className="text-sm font-semibold text-zinc-900 dark:text-zinc-50">Active rooms</h2>
            {rooms.length === 0 ? (
              <p className="mt-4 text-sm text-zinc-500 dark:text-zinc-400">
                No conversations yet. Open WhisperChat and start one in #lobby.
              </p>
            ) : (
              <ul className="mt-3 divide-y divide-zinc-100 dark:divide-zinc-800">
                {rooms.slice(0, 8).map((r) => {
                  const meta = metaOf(r);
                  return (
                    <li key={r.name}>
                      <Link
                        to={`/chat/${r.name}`}
                        className="-mx-2 flex items-center gap-3 rounded-lg px-2 py-2.5 hover:bg-zinc-50 dark:hover:bg-zinc-800/60"
                      >
                        <span className="flex size-9 items-center justify-center rounded-lg bg-zinc-100 text-zinc-500 dark:bg-zinc-800 dark:text-zinc-400">
                          <Icon
                            name={
                              meta.visibility === 'private' ? 'lock' : meta.visibility === 'direct' ? 'user' : 'hash'
                            }
                            className="size-4"
                          />
                        </span>
                        <span className="min-w-0 flex-1">
                          <span className="block truncate text-sm font-medium text-zinc-900 dark:text-zinc-100">
                            {meta.visibility === 'public' && !meta.title ? r.name : roomReference(r.name, meta)}
                          </span>
                          <span className="block text-xs text-zinc-500 dark:text-zinc-400">
                            {r.last_seq} {r.last_seq === 1 ? 'message' : 'messages'}
                            {r.last_message_at ? ` · last ${relativeTime(r.last_message_at)}` : ''}
                          </span>
                        </span>
                        {r.online > 0 && (
                          <span className="rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-700 dark:bg-emerald-500/10 dark:text-emerald-300">
                            {r.online} online
                          </span>
                        )}
                      </Link>
                    </li>
                  );
                })}
              </ul>
            )}
          </section>

          <section className="space-y-3 lg:col-span-2">
            <Feature icon="zap" title="Instant">
              Messages fan out to everyone in the room as soon as they are stored.
            </Feature>
            <Feature icon="refresh" title="Never lost">
              Drop your connection, close the tab: unsent messages go out once you are back, exactly once.
            </Feature>
            <Feature icon="shield" title="Plain text, always">
              Whatever people paste is shown as text. Nothing in a message can run in your browser.
            </Feature>
          </section>
        </div>
      </div>
    </div>
  );
}

function Feature({ icon, title, children }: { icon: IconName; title: string; children: React.ReactNode }) {
  return (
    <div className="flex gap-3 rounded-2xl bg-white p-4 shadow-sm ring-1 ring-zinc-200 dark:bg-zinc-900 dark:ring-zinc-800">
      <span className="flex size-9 shrink-0 items-center justify-center rounded-lg bg-indigo-50 text-indigo-600 dark:bg-indigo-500/10 dark:text-indigo-400">
        <Icon name={icon} className="size-[18px]" />
      </span>
      <div>
        <h3 className="text-sm font-semibold text-zinc-900 dark:text-zinc-50">{title}</h3>
        <p className="mt-0.5 text-sm text-zinc-500 dark:text-zinc-400">{children}</p>
      </div>
    </div>
  );
}
