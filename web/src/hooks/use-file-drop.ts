import { useEffect, useRef, useState, type DragEvent } from 'react';
import { carriesFiles, filesOf } from '../lib/transfer';

/**
 * Files dropped on an element (the open room): its handlers, and whether
 * files are being dragged over it (for a "Drop to attach" overlay). Only a
 * drag of files counts: text or a link dragged about the page is left alone.
 * `onFiles` `null`: nothing is taken.
 *
 * Files dropped anywhere else on the page are not the browser's to open
 * either: a near miss would leave the app for the image.
 */
export function useFileDrop(onFiles: ((files: File[]) => void) | null) {
  const [over, setOver] = useState(false);
  useEffect(() => {
    const keep = (e: globalThis.DragEvent) => {
      if (carriesFiles(e.dataTransfer) && !e.defaultPrevented) {
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = 'none';
      }
    };
    window.addEventListener('dragover', keep);
    window.addEventListener('drop', keep);
    return () => {
      window.removeEventListener('dragover', keep);
      window.removeEventListener('drop', keep);
    };
  }, []);
  // dragenter and dragleave come for every child crossed: over the element while more came in than left.
  const depth = useRef(0);
  const takes = (e: DragEvent) => onFiles !== null && carriesFiles(e.dataTransfer);
  const handlers = {
    onDragEnter: (e: DragEvent) => {
      if (!takes(e)) return;
      e.preventDefault();
      depth.current += 1;
      setOver(true);
    },
    onDragOver: (e: DragEvent) => {
      if (!takes(e)) return;
      // Without it, the browser opens the file instead of dropping it here.
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    },
    onDragLeave: (e: DragEvent) => {
      if (!takes(e)) return;
      depth.current = Math.max(0, depth.current - 1);
      if (depth.current === 0) setOver(false);
    },
    onDrop: (e: DragEvent) => {
      if (!takes(e)) return;
      e.preventDefault();
      depth.current = 0;
      setOver(false);
      const files = filesOf(e.dataTransfer);
      if (files.length > 0) onFiles?.(files);
    },
  };
  return { over, handlers };
}
