import { useEffect } from 'react';
import { createPortal } from 'react-dom';
import { describeFileType, formatBytes, type AttachmentView } from '../../core/files';
import { Dialog } from '../Dialog';
import { Icon } from '../Icon';

/**
 * An image of a message at full size (`/v1/files/{id}`), over the page: its
 * name, size and kind, and a download link. A dialog (`Dialog`): it holds the
 * focus, and Escape or × close it; where the focus goes after is the
 * caller's (the image that opened it). With several images, ← and → (or the
 * buttons) go from one to the next.
 *
 * Rendered into `document.body`, so nothing of the message list (its
 * scrolling, its rows' hover) reaches it.
 */
export function Lightbox({
  images,
  index,
  onIndex,
  onClose,
}: {
  images: readonly AttachmentView[];
  index: number;
  onIndex: (index: number) => void;
  onClose: () => void;
}) {
  const image = images[index];
  const count = images.length;
  useEffect(() => {
    if (count < 2) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === 'ArrowLeft') onIndex((index - 1 + count) % count);
      else if (e.key === 'ArrowRight') onIndex((index + 1) % count);
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [count, index, onIndex]);
  if (!image) return null;

  const size = image.width && image.height ? ` · ${image.width} × ${image.height}` : '';
  return createPortal(
    <Dialog
      title={<span className="[overflow-wrap:anywhere]">{image.name}</span>}
      description={`${formatBytes(image.size)} · ${describeFileType(image.type)}${size}`}
      onClose={onClose}
      size="full"
      testId="lightbox"
    >
      <div className="mt-4 flex justify-center rounded-xl bg-zinc-100 dark:bg-zinc-950/60">
        <img
          key={image.id}
          src={image.url}
          alt={image.name}
          {...(image.width && image.height ? { width: image.width, height: image.height } : {})}
          data-testid="lightbox-image"
          className="block h-auto max-h-[70vh] w-auto max-w-full object-contain"
        />
      </div>
      <div className="mt-4 flex flex-wrap items-center justify-between gap-3">
        {count > 1 ? (
          <div className="flex items-center gap-1">
            <button
              type="button"
              onClick={() => onIndex((index - 1 + count) % count)}
              aria-label="Previous image"
              title="Previous image (←)"
              className="inline-flex size-9 items-center justify-center rounded-lg text-zinc-500 hover:bg-zinc-100 hover:text-zinc-800 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
            >
              <Icon name="chevronLeft" className="size-5" />
            </button>
            <span className="min-w-16 text-center text-sm text-zinc-500 tabular-nums dark:text-zinc-400">
              {index + 1} of {count}
            </span>
            <button
              type="button"
              onClick={() => onIndex((index + 1) % count)}
              aria-label="Next image"
              title="Next image (→)"
              className="inline-flex size-9 items-center justify-center rounded-lg text-zinc-500 hover:bg-zinc-100 hover:text-zinc-800 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
            >
              <Icon name="chevronRight" className="size-5" />
            </button>
          </div>
        ) : (
          <span />
        )}
        <a
          href={image.url}
          download={image.name}
          className="inline-flex items-center gap-2 rounded-lg bg-indigo-600 px-3.5 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2 focus-visible:outline-none dark:focus-visible:ring-offset-zinc-900"
        >
          <Icon name="download" className="size-4" />
          Download
        </a>
      </div>
    </Dialog>,
    document.body,
  );
}
