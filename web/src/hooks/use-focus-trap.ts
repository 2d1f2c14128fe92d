import { useEffect, type KeyboardEvent, type RefObject } from 'react';

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** What Tab reaches inside `root`, in order (not what is hidden or inert). */
export function focusablesIn(root: HTMLElement | null): HTMLElement[] {
  return [...(root?.querySelectorAll<HTMLElement>(FOCUSABLE) ?? [])].filter(
    (el) => !el.hasAttribute('inert') && !el.closest('[inert]') && !el.hidden,
  );
}

/**
 * Holds the focus inside `panel` while it is mounted (a modal dialog, a
 * drawer): it starts on `initial()` (or the first field or button, or the
 * panel), a focus that escapes (a click on the page behind) is brought back,
 * a focused button that goes (a confirm step done) leaves it on the panel,
 * and the returned `onKeyDown` (for the panel) makes Tab and Shift+Tab go
 * round inside it.
 */
export function useFocusTrap(
  panel: RefObject<HTMLElement | null>,
  initial?: () => HTMLElement | null | undefined,
): (e: KeyboardEvent<HTMLElement>) => void {
  useEffect(() => {
    const first = initial?.() ?? focusablesIn(panel.current)[0];
    (first ?? panel.current)?.focus();
    const keep = (e: FocusEvent) => {
      const root = panel.current;
      if (root && e.target instanceof Node && !root.contains(e.target)) {
        // Another dialog over this one (a lightbox in a portal) holds its own focus.
        if (e.target instanceof Element && e.target.closest('[aria-modal="true"]')) return;
        (focusablesIn(root)[0] ?? root).focus();
      }
    };
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

  return (e: KeyboardEvent<HTMLElement>) => {
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
    } else if (!e.shiftKey && (active === last || !panel.current?.contains(active))) {
      e.preventDefault();
      first.focus();
    }
  };
}
