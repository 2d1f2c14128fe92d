import { useId, useRef, type KeyboardEvent, type ReactNode, type RefObject } from 'react';
import { focusablesIn, useFocusTrap } from '../../hooks/use-focus-trap';
import { Icon } from '../Icon';

const WIDTH = { md: 'max-w-md', lg: 'max-w-lg', xl: 'max-w-2xl', full: 'max-w-5xl' } as const;

export { focusablesIn };

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

  const trap = useFocusTrap(
    panel,
    () => initialFocus?.current ?? focusablesIn(panel.current).find((el) => el.dataset.dialogClose === undefined),
  );

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      e.preventDefault();
      onClose();
      return;
    }
    trap(e);
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
            className="-m-1 inline-flex size-8 shrink-0 items-center justify-center rounded-lg text-zinc-500 dark:text-zinc-400 hover:bg-zinc-100 hover:text-zinc-700 dark:hover:bg-zinc-800 dark:hover:text-zinc-200"
          >
            <Icon name="x" className="size-4" />
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}
