import { useEffect, useId, useState } from 'react';
import type { Permission } from '../../core/attention';
import { roomReference } from '../../core/rooms';
import { useAttention, useAttentionState } from '../../hooks/use-attention';
import { useChatSelector } from '../../hooks/use-chat';
import { Dialog } from '../Dialog';
import { Icon } from '../Icon';

const PERMISSION_TEXT: Record<Permission, string> = {
  default: 'Off. Turn them on to hear about mentions and direct messages while WhisperChat is in the background.',
  granted: 'On: you get a notification for a mention of you or a direct message while this tab is hidden.',
  denied:
    "Blocked for this site in your browser's settings. Allow notifications there (the icon beside the address) and come back.",
  unsupported: "This browser can't show notifications.",
};

/** The button that asks the browser for the permission: only ever from this click. */
function TurnOnButton({ compact = false }: { compact?: boolean }) {
  const attention = useAttention();
  const [asking, setAsking] = useState(false);
  return (
    <button
      type="button"
      disabled={asking}
      onClick={() => {
        setAsking(true);
        void attention.requestPermission().finally(() => setAsking(false));
      }}
      data-testid="turn-on-notifications"
      className={`inline-flex items-center gap-1.5 rounded-lg bg-indigo-600 font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-70 ${
        compact ? 'px-2.5 py-1 text-xs' : 'px-3.5 py-2 text-sm'
      }`}
    >
      <Icon name="bell" className="size-4" />
      Turn on notifications
    </button>
  );
}

/**
 * Notifications and sounds: the browser's permission (asked for from the
 * button, never on load), the sound (off until turned on), and the rooms
 * muted — each with its way back.
 */
export function NotificationSettings({ room, onClose }: { room: string; onClose: () => void }) {
  const attention = useAttention();
  const { permission, prefs } = useAttentionState();
  const roomMeta = useChatSelector((s) => s.roomMeta);
  const soundId = useId();
  const roomMuted = prefs.muted.includes(room);
  // Changed in the browser's own settings meanwhile: read it again when the dialog opens.
  useEffect(() => attention.refreshPermission(), [attention]);
  return (
    <Dialog
      title="Notifications"
      description="How WhisperChat gets your attention."
      onClose={onClose}
      testId="notification-settings"
    >
      <div className="mt-5 space-y-5 text-sm">
        <section aria-labelledby={`${soundId}-desktop`}>
          <h3 id={`${soundId}-desktop`} className="font-semibold text-zinc-900 dark:text-zinc-50">
            Desktop notifications
          </h3>
          <p
            className="mt-1 text-zinc-600 dark:text-zinc-400"
            data-testid="notification-permission"
            data-permission={permission}
          >
            {PERMISSION_TEXT[permission]}
          </p>
          {permission === 'default' && (
            <div className="mt-3">
              <TurnOnButton />
            </div>
          )}
        </section>
        <section className="flex items-start gap-3">
          <input
            id={soundId}
            type="checkbox"
            checked={prefs.sound}
            onChange={(e) => attention.setSound(e.target.checked)}
            className="mt-0.5 size-4 rounded border-zinc-300 accent-indigo-600"
          />
          <label htmlFor={soundId} className="min-w-0 flex-1">
            <span className="font-semibold text-zinc-900 dark:text-zinc-50">Play a sound</span>
            <span className="block text-zinc-600 dark:text-zinc-400">
              A short tone with each mention or direct message while the tab is hidden.
            </span>
          </label>
        </section>
        <section>
          <h3 className="font-semibold text-zinc-900 dark:text-zinc-50">Muted rooms</h3>
          <p className="mt-1 text-zinc-600 dark:text-zinc-400">
            A muted room raises no notification or sound, and its messages are not counted in the tab's title.
          </p>
          <button
            type="button"
            onClick={() => attention.setMuted(room, !roomMuted)}
            className="mt-2 inline-flex items-center gap-1.5 rounded-lg px-2.5 py-1.5 font-medium text-zinc-700 ring-1 ring-zinc-300 hover:bg-zinc-100 dark:text-zinc-200 dark:ring-zinc-700 dark:hover:bg-zinc-800"
          >
            <Icon name={roomMuted ? 'bell' : 'bellOff'} className="size-4" />
            {roomMuted
              ? `Unmute ${roomReference(room, roomMeta[room])}`
              : `Mute ${roomReference(room, roomMeta[room])}`}
          </button>
          {prefs.muted.length > 0 && (
            <ul
              className="mt-3 divide-y divide-zinc-100 rounded-lg ring-1 ring-zinc-200 dark:divide-zinc-800 dark:ring-zinc-700"
              data-testid="muted-rooms"
            >
              {prefs.muted.map((name) => (
                <li key={name} className="flex items-center gap-2 px-3 py-2">
                  <Icon name="bellOff" className="size-4 shrink-0 text-zinc-500 dark:text-zinc-400" />
                  <span className="min-w-0 flex-1 truncate">{roomReference(name, roomMeta[name])}</span>
                  <button
                    type="button"
                    onClick={() => attention.setMuted(name, false)}
                    aria-label={`Unmute ${roomReference(name, roomMeta[name])}`}
                    className="rounded px-2 py-1 text-xs font-semibold text-indigo-700 hover:bg-indigo-50 dark:text-indigo-300 dark:hover:bg-indigo-500/10"
                  >
                    Unmute
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </Dialog>
  );
}

/**
 * A one-line offer over the conversation to turn notifications on, while the
 * browser has not been asked: the permission is asked only from its button;
 * "Not now" hides it for good (the settings still have the switch).
 */
export function NotificationOffer() {
  const attention = useAttention();
  const { permission, prefs } = useAttentionState();
  if (permission !== 'default' || prefs.offerDismissed) return null;
  return (
    <div
      data-testid="notification-offer"
      className="flex items-start gap-2.5 border-b border-indigo-100 bg-indigo-50 px-4 py-2 text-sm text-indigo-950 sm:px-5 dark:border-indigo-500/20 dark:bg-indigo-500/10 dark:text-indigo-100"
    >
      <Icon name="bell" className="mt-0.5 size-4 shrink-0 text-indigo-700 dark:text-indigo-300" />
      <div className="flex min-w-0 flex-1 flex-wrap items-center gap-x-3 gap-y-1.5">
        <span className="min-w-[14rem] flex-1">
          Get a notification when someone mentions you or sends you a direct message.
        </span>
        <span className="flex items-center gap-2">
          <TurnOnButton compact />
          <button
            type="button"
            onClick={() => attention.dismissOffer()}
            className="rounded-lg px-2 py-1 text-xs font-medium text-indigo-900 hover:bg-indigo-100 dark:text-indigo-200 dark:hover:bg-indigo-500/20"
          >
            Not now
          </button>
        </span>
      </div>
    </div>
  );
}
