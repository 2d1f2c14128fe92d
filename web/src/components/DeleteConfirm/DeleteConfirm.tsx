import { useEffect, useId, useRef } from 'react';

/**
 * The confirm step before deleting a message, in the page (not the browser's
 * `confirm`), so it matches the app and a test can click it. Focus starts on
 * Cancel: Enter right after the click does not delete by accident.
 */
export function DeleteConfirm({ onConfirm, onCancel }: { onConfirm: () => void; onCancel: () => void }) {
  const cancel = useRef<HTMLButtonElement>(null);
  const text = useId();
  useEffect(() => {
    cancel.current?.focus();
  }, []);
  return (
    <div
      role="alertdialog"
      aria-label="Delete message?"
      aria-describedby={text}
      data-testid="delete-confirm"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          onCancel();
        }
      }}
      className="mt-1.5 flex flex-wrap items-center gap-x-3 gap-y-2 rounded-lg border border-rose-200 bg-rose-50 px-3 py-2 text-sm text-rose-900 dark:border-rose-500/30 dark:bg-rose-500/10 dark:text-rose-100"
    >
      <span id={text} className="flex-1">
        Delete this message? Everyone will see “message deleted” instead.
      </span>
      <button
        ref={cancel}
        type="button"
        onClick={onCancel}
        className="rounded-md px-2.5 py-1 text-xs font-medium text-zinc-700 hover:bg-white/70 dark:text-zinc-200 dark:hover:bg-white/10"
      >
        Cancel
      </button>
      <button
        type="button"
        onClick={onConfirm}
        className="rounded-md bg-rose-600 px-2.5 py-1 text-xs font-semibold text-white shadow-sm hover:bg-rose-500"
      >
        Delete
      </button>
    </div>
  );
}
