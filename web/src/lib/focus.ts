/**
 * The composer takes the focus back when a dialog closes — the rule of the
 * chat page, where most dialogs are the page's own (it bumps the composer's
 * `focusKey`). Dialogs opened deeper down (a message's lightbox) use this.
 */
export const COMPOSER_ATTRIBUTE = 'data-composer';

/** Focuses the open room's composer; whether there was one. */
export function focusComposer(): boolean {
  const box = document.querySelector<HTMLTextAreaElement>(`textarea[${COMPOSER_ATTRIBUTE}]`);
  if (!box || box.disabled) return false;
  box.focus();
  return true;
}
