import { useLayoutEffect, useRef, type RefObject } from 'react';

/**
 * A textarea ref that grows its textarea with `value`, up to `max` pixels,
 * then lets it scroll: the composer's and the message editor's.
 */
export function useAutoGrow(value: string, max = 240): RefObject<HTMLTextAreaElement | null> {
  const area = useRef<HTMLTextAreaElement>(null);
  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, max)}px`;
  }, [value, max]);
  return area;
}
