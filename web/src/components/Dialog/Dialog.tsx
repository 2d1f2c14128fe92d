import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode, type RefObject } from 'react';
import { Icon } from '../Icon';

const WIDTH = { md: 'max-w-md', lg: 'max-w-lg', xl: 'max-w-2xl', full: 'max-w-5xl' } as const;

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** What Tab reaches inside `root`, in order. */
export function focusablesIn(root: HTMLElement | null): HTMLElement[] {
  return [...(root?.querySelectorAll<HTMLElement>(FOCUSABLE) ?? [])].filter((el) => !el.hasAttribute('inert'));
}

/**
 * A modal dialog: over the page, named by its title, and holding the focus —
 * it starts on `initialFocus` (or the first field or button), Tab and
 * Shift+Tab go round inside it, a focus that escapes (a click on the page
 * behind) is brought back, and Escape or the × close it. Where the focus goes
 * after is the caller's (`onClose`): the composer, as a rule.
 *
 * `size` sets its width (`wide` is `lg`; `full`, for an image, nearly the
 * page's); `placement: 'top'` keeps it near the top of the page, so a dialog
 * whose content grows (search results) grows down rather than moving.
 */
export function Dialog({
  title,
  description,
  onClose,
  initialFocus,
  wide = false,
  size,
  placement = 'center',
  children,
  testId,
}: {
  title: ReactNode;
  description?: ReactNode;
  onClose: () => void;
  initialFocus?: RefObject<HTMLElement | null>;
  wide?: boolean;
  size?: keyof typeof WIDTH;
  placement?: 'center' | 'top';
  children: ReactNode;
  testId?: string;
}) {
  const panel = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const descriptionId = useId();

  useEffect(() => {
    const first =
      initialFocus?.current ?? focusablesIn(panel.current).find((el) => el.dataset.dialogClose === undefined);
    (first ?? panel.current)?.focus();
    // A focus that leaves the dialog (a click behind it) comes back to it.
    const keep = (e: FocusEvent) => {
      const root = panel.current;
      if (root && e.target instanceof Node && !root.contains(e.target)) {
        (focusablesIn(root)[0] ?? root).focus();
      }
    };
    // A focused button that goes (a confirm step done) leaves the focus nowhere: it comes back to the dialog.
    const lost = (e: FocusEvent) => {
      if (e.relatedTarget !== null) return;
      setTimeout(() => {
        if (document.activeElement === document.body || document.activeElement === null) panel.current?.focus();
      }, 0);
    };
    const root = panel.current;
    document.addEventListener('focusin', keep);
    root?.addEventListener('focusout', lost);
    return () => {
      document.removeEventListener('focusin', keep);
      root?.removeEventListener('focusout', lost);
    };
    // Once, when it opens: the focus is the user's to move after.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      e.preventDefault();
      onClose();
      return;
    }
    if (e.key !== 'Tab') return;
    const items = focusablesIn(panel.current);
    const first = items[0];
    const last = items.at(-1);
    if (!first || !last) {
      e.preventDefault();
      return;
    }
    const active = document.activeElement;
    if (e.shiftKey && (active === first || active === panel.current)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && active === last) {
      e.preventDefault();
      first.focus();
    }
  };

  return (
    <div
      className={`fixed inset-0 z-50 flex items-start justify-center overflow-y-auto bg-zinc-950/40 p-4 backdrop-blur-sm ${
        placement === 'center' ? 'sm:items-center' : ''
      }`}
    >
      <div
        ref={panel}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={description ? descriptionId : undefined}
        tabIndex={-1}
        onKeyDown={onKeyDown}
        data-testid={testId}
        className={`${placement === 'center' ? 'my-auto' : 'sm:mt-[10vh]'} w-full ${WIDTH[size ?? (wide ? 'lg' : 'md')]} rounded-2xl bg-white p-6 shadow-2xl ring-1 ring-zinc-900/5 focus:outline-none dark:bg-zinc-900 dark:ring-white/10`}
      >
        <div className="flex items-start gap-3">
          <div className="min-w-0 flex-1">
            <h2 id={titleId} className="text-lg font-semibold text-zinc-900 dark:text-zinc-50">
              {title}
            </h2>
            {description && (
              <p id={descriptionId} className="mt-1 text-sm text-zinc-500 dark:text-zinc-400">
                {description}
              </p>
            )}
          </div>
          <button
            type="button"
            onClick={() => onClose()}
            aria-label="Close"
            data-dialog-close=""
            className="-m-1 inline-flex size-8 shrink-0 items-center justify-center rounded-lg text-zinc-400 hover:bg-zinc-100 hover:text-zinc-700 dark:hover:bg-zinc-800 dark:hover:text-zinc-200"
          >
            <Icon name="x" className="size-4" />
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}
