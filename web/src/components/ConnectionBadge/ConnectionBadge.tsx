import { useChatClient } from '../../hooks/use-chat';
import { useConnectionStatus } from '../../hooks/use-connection-status';

const TONES = {
  online: {
    pill: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20 dark:bg-emerald-500/10 dark:text-emerald-300 dark:ring-emerald-400/20',
    dot: 'bg-emerald-500',
  },
  pending: {
    pill: 'bg-amber-50 text-amber-800 ring-amber-600/20 dark:bg-amber-400/10 dark:text-amber-300 dark:ring-amber-400/20',
    dot: 'bg-amber-500 animate-pulse',
  },
  offline: {
    pill: 'bg-rose-50 text-rose-700 ring-rose-600/20 dark:bg-rose-500/10 dark:text-rose-300 dark:ring-rose-400/20',
    dot: 'bg-rose-500',
  },
} as const;

/** "Online", "Connecting…" or "Reconnecting in Ns" with a "Retry now" button. */
export function ConnectionBadge({ compact = false }: { compact?: boolean }) {
  const client = useChatClient();
  const { status, label, tone } = useConnectionStatus();
  const style = TONES[tone];
  return (
    <div className="flex items-center gap-2">
      <span
        role={compact ? undefined : 'status'}
        aria-live={compact ? undefined : 'polite'}
        data-testid="connection-status"
        data-state={status.state}
        className={`inline-flex items-center gap-1.5 rounded-full px-2.5 py-1 text-xs font-medium whitespace-nowrap ring-1 ring-inset ${style.pill}`}
      >
        <span aria-hidden="true" className={`size-2 rounded-full ${style.dot}`} />
        {label}
      </span>
      {!compact && status.state === 'reconnecting' && (
        <button
          type="button"
          data-testid="retry-now"
          onClick={() => client.reconnectNow()}
          className="text-xs font-medium whitespace-nowrap text-indigo-600 hover:underline dark:text-indigo-400"
        >
          Retry now
        </button>
      )}
    </div>
  );
}
