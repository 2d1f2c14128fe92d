import { useEffect, type ReactNode } from 'react';
import { Link, NavLink, Outlet, useLocation } from 'react-router';
import { attentionCount, documentTitle } from '../../core/attention';
import type { Account } from '../../core/chat';
import { isValidRoomName } from '../../core/protocol';
import { roomReference } from '../../core/rooms';
import { useAttentionState } from '../../hooks/use-attention';
import { useChatClient, useChatSelector } from '../../hooks/use-chat';
import { Avatar } from '../Avatar';
import { ConnectionBadge } from '../ConnectionBadge';
import { Icon, type IconName } from '../Icon';
import { ThemeToggle } from '../ThemeToggle';
import { UpdatePrompt } from '../UpdatePrompt';

/**
 * The app frame: a header (with who you are: a guest's Sign in and Create
 * account, or your account's menu), the main navigation (a rail on wide
 * screens, a tab bar on phones), the page.
 */
export function AppShell() {
  const client = useChatClient();
  // Selected, not the whole snapshot: the page below re-renders only for what it shows.
  const unread = useChatSelector((s) => Object.values(s.rooms).reduce((n, r) => n + r.unread, 0));
  const identity = useChatSelector((s) => s.identity);
  const account = useChatSelector((s) => s.account);
  const accountChecked = useChatSelector((s) => s.accountChecked);
  const signedOut = useChatSelector((s) => s.signedOut);
  const removals = useChatSelector((s) => s.removals);
  const named = Boolean(identity.name);

  // Connect once the user has a name (the chat page asks for it); stay connected
  // on every page, so unread counts keep coming.
  useEffect(() => {
    if (named) client.start();
  }, [client, named]);

  return (
    <div className="flex h-dvh flex-col bg-white text-zinc-900 dark:bg-zinc-900 dark:text-zinc-100">
      <DocumentTitle />
      <UpdatePrompt />
      <header className="flex h-14 shrink-0 items-center gap-2 border-b border-zinc-200 bg-white px-3 sm:gap-3 sm:px-4 dark:border-zinc-800 dark:bg-zinc-950">
        <NavLink to="/" className="flex items-center gap-2.5" aria-label="WhisperChat home">
          <Logo />
          <span className="text-[17px] font-bold tracking-tight">
            Whisper<span className="text-indigo-600 dark:text-indigo-400">Chat</span>
          </span>
        </NavLink>
        <div className="flex-1" />
        <ConnectionBadge />
        <ThemeToggle />
        {account ? (
          <AccountLink account={account} />
        ) : (
          <>
            {identity.name && (
              <div className="hidden items-center gap-2 border-l border-zinc-200 pl-3 md:flex dark:border-zinc-800">
                <Avatar name={identity.name} userId={identity.userId ?? ''} size="sm" />
                <span className="max-w-40 truncate text-sm font-medium">{identity.name}</span>
              </div>
            )}
            {/* Until `GET /v1/me` answers, a signed-in visitor would see "Sign in" flash by. */}
            {accountChecked && <GuestLinks />}
          </>
        )}
      </header>
      {(signedOut || removals.length > 0) && (
        <div className="fixed top-16 left-1/2 z-[60] flex w-[calc(100%-2rem)] max-w-md -translate-x-1/2 flex-col gap-2">
          {signedOut && (
            <Alert icon="logout" onDismiss={() => client.dismissSignedOut()}>
              {signedOut}{' '}
              <Link
                to="/signin"
                onClick={() => client.dismissSignedOut()}
                className="font-semibold whitespace-nowrap text-indigo-300 underline-offset-2 hover:underline"
              >
                Sign in again
              </Link>
            </Alert>
          )}
          {removals.map((removal) => (
            <Alert key={removal.room} icon="alert" onDismiss={() => client.dismissRemoval(removal.room)}>
              {removal.text}
            </Alert>
          ))}
        </div>
      )}
      <div className="flex min-h-0 flex-1">
        <nav
          aria-label="Main"
          className="hidden w-[76px] shrink-0 flex-col items-center gap-1 border-r border-zinc-200 bg-zinc-50 py-3 md:flex dark:border-zinc-800 dark:bg-zinc-950"
        >
          <RailLink to="/" icon="home" label="Home" end />
          <RailLink to="/chat" icon="chat" label="WhisperChat" badge={unread} />
        </nav>
        <main className="flex min-w-0 flex-1 flex-col">
          <Outlet />
        </main>
      </div>
      <nav
        aria-label="Main (mobile)"
        className="flex shrink-0 border-t border-zinc-200 bg-white md:hidden dark:border-zinc-800 dark:bg-zinc-950"
      >
        <TabLink to="/" icon="home" label="Home" end />
        <TabLink to="/chat" icon="chat" label="WhisperChat" badge={unread} />
      </nav>
    </div>
  );
}

/**
 * The tab's title: the room open (on the chat page), and a count of what you
 * have not seen — unread messages of the other rooms, and those that arrived
 * in the open room while the tab was hidden; muted rooms not counted.
 */
function DocumentTitle() {
  const { pathname } = useLocation();
  const { muted, hiddenNew } = useAttentionState();
  const rooms = useChatSelector((s) => s.rooms);
  const room = pathname.startsWith('/chat/') ? roomOfPath(pathname.slice('/chat/'.length)) : null;
  const meta = useChatSelector((s) => (room ? s.roomMeta[room] : undefined));
  const place = room && isValidRoomName(room) ? roomReference(room, meta) : null;
  const count = attentionCount(rooms, muted, hiddenNew);
  useEffect(() => {
    document.title = documentTitle(count, place);
  }, [count, place]);
  useEffect(
    () => () => {
      document.title = 'WhisperChat';
    },
    [],
  );
  return null;
}

/** The room a `/chat/…` path names, or `null` for one that does not decode. */
function roomOfPath(rest: string): string | null {
  try {
    return decodeURIComponent(rest);
  } catch {
    return null;
  }
}

/**
 * A notice over every page, about something the server did (signed you out,
 * took you out of a room), until dismissed. Its text is rendered as text.
 */
function Alert({ icon, onDismiss, children }: { icon: IconName; onDismiss: () => void; children: ReactNode }) {
  return (
    <div
      role="alert"
      className="flex items-start gap-2.5 rounded-xl bg-zinc-900 px-4 py-3 text-sm text-white shadow-2xl ring-1 ring-white/10 dark:bg-zinc-800"
    >
      <Icon name={icon} className="mt-0.5 size-4 shrink-0 text-amber-300" />
      <p className="min-w-0 flex-1 break-words">{children}</p>
      <button
        type="button"
        onClick={onDismiss}
        aria-label="Dismiss"
        className="rounded p-0.5 text-zinc-300 hover:bg-white/10 hover:text-white"
      >
        <Icon name="x" className="size-4" />
      </button>
    </div>
  );
}

function Logo() {
  return (
    <span className="flex size-8 items-center justify-center rounded-lg bg-indigo-600 text-white shadow-md shadow-indigo-600/25">
      <svg viewBox="0 0 24 24" className="size-[18px]" fill="currentColor" aria-hidden="true">
        <path d="M4 6.5A2.5 2.5 0 0 1 6.5 4h11A2.5 2.5 0 0 1 20 6.5v7a2.5 2.5 0 0 1-2.5 2.5H11l-4.6 3.7c-.4.3-.9 0-.9-.4V16A1.5 1.5 0 0 1 4 14.5z" />
      </svg>
    </span>
  );
}

/** For a guest: the way to an account, next to the chat that works without one. */
function GuestLinks() {
  return (
    <div className="flex items-center gap-1 border-l border-zinc-200 pl-2 sm:gap-2 sm:pl-3 dark:border-zinc-800">
      <NavLink
        to="/signin"
        className="inline-flex items-center gap-1.5 rounded-lg px-2.5 py-1.5 text-sm font-medium whitespace-nowrap text-zinc-700 hover:bg-zinc-100 dark:text-zinc-200 dark:hover:bg-zinc-800"
      >
        <Icon name="login" className="size-4" />
        Sign in
      </NavLink>
      <NavLink
        to="/signup"
        className="hidden rounded-lg bg-indigo-600 px-3 py-1.5 text-sm font-semibold whitespace-nowrap text-white shadow-sm hover:bg-indigo-500 sm:inline-flex"
      >
        Create account
      </NavLink>
    </div>
  );
}

/** Signed in: your name, and the way to your account (name, devices, signing out). */
function AccountLink({ account }: { account: Account }) {
  return (
    <NavLink
      to="/account"
      title="Your account"
      data-testid="account-menu"
      className={({ isActive }) =>
        `flex items-center gap-2 rounded-lg border-l border-zinc-200 py-1 pr-2 pl-3 hover:bg-zinc-100 dark:border-zinc-800 dark:hover:bg-zinc-800 ${
          isActive ? 'text-indigo-700 dark:text-indigo-300' : ''
        }`
      }
    >
      <Avatar name={account.name} userId={account.userId} size="sm" />
      {/* Named "Your account: Ada" by words of its own; the name shown (not on a phone) is the same. */}
      <span className="sr-only">{`Your account: ${account.name}`}</span>
      <span
        aria-hidden="true"
        className="hidden max-w-40 truncate text-sm font-medium sm:inline"
        data-testid="account-name-header"
      >
        {account.name}
      </span>
    </NavLink>
  );
}

function Badge({ count }: { count: number }) {
  if (count <= 0) return null;
  return (
    <span className="absolute -top-1 -right-1 min-w-[18px] rounded-full bg-rose-500 px-1 text-center text-[10px] leading-[18px] font-bold text-white ring-2 ring-zinc-50 dark:ring-zinc-950">
      {count > 99 ? '99+' : count}
    </span>
  );
}

/** A navigation entry: the desktop rail and the phone tab bar draw it differently. */
type NavItemProps = {
  to: string;
  icon: IconName;
  label: string;
  badge?: number;
  end?: boolean;
};

function RailLink({ to, icon, label, badge = 0, end }: NavItemProps) {
  return (
    <NavLink
      to={to}
      end={end}
      className={({ isActive }) =>
        `group flex w-16 flex-col items-center gap-1 rounded-xl py-2 text-[10.5px] font-medium transition ${
          isActive
            ? 'text-indigo-700 dark:text-indigo-300'
            : 'text-zinc-500 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100'
        }`
      }
    >
      {({ isActive }) => (
        <>
          <span
            className={`relative flex size-10 items-center justify-center rounded-xl transition ${
              isActive
                ? 'bg-indigo-100 dark:bg-indigo-500/20'
                : 'group-hover:bg-zinc-200/70 dark:group-hover:bg-zinc-800'
            }`}
          >
            <Icon name={icon} />
            <Badge count={badge} />
          </span>
          {label}
        </>
      )}
    </NavLink>
  );
}

function TabLink({ to, icon, label, badge = 0, end }: NavItemProps) {
  return (
    <NavLink
      to={to}
      end={end}
      className={({ isActive }) =>
        `flex flex-1 flex-col items-center gap-0.5 py-2 text-[11px] font-medium ${
          isActive ? 'text-indigo-600 dark:text-indigo-400' : 'text-zinc-500 dark:text-zinc-400'
        }`
      }
    >
      <span className="relative">
        <Icon name={icon} />
        <Badge count={badge} />
      </span>
      {label}
    </NavLink>
  );
}
