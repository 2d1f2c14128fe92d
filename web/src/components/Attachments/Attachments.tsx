import { useEffect, useRef, useState } from 'react';
import { describeFileType, formatBytes, type AttachmentView } from '../../core/files';
import { focusComposer } from '../../lib/focus';
import { Icon } from '../Icon';
import { Lightbox } from '../Lightbox';

/**
 * The files of a message. Images are shown inline at their thumbnail's size
 * (known before they load, so nothing moves when they do), several as a small
 * grid of squares; a click, or Enter, opens one full size (`Lightbox`), and
 * when that closes the focus goes to the composer, as after every dialog of
 * the chat (back to the image where there is no composer). Other files, and images
 * without a thumbnail, are cards that download them.
 */
export function Attachments({ files }: { files: readonly AttachmentView[] }) {
  const images = files.filter((f) => f.inline);
  const others = files.filter((f) => !f.inline);
  const [open, setOpen] = useState<number | null>(null);
  const buttons = useRef<(HTMLButtonElement | null)[]>([]);
  /** The image whose button takes the focus back once the lightbox is gone. */
  const returnTo = useRef<number | null>(null);

  useEffect(() => {
    // After the dialog is gone: while it is up, it keeps the focus inside itself.
    if (open !== null || returnTo.current === null) return;
    if (!focusComposer()) buttons.current[returnTo.current]?.focus();
    returnTo.current = null;
  }, [open]);

  if (files.length === 0) return null;
  const single = images.length === 1;
  const columns = images.length === 2 || images.length === 4 ? 2 : 3;

  return (
    <div data-testid="message-attachments" className="mt-1 flex flex-col items-start gap-1.5">
      {images.length > 0 && (
        <div
          className={
            single
              ? 'max-w-full'
              : `grid w-full gap-1 ${columns === 2 ? 'max-w-[21rem] grid-cols-2' : 'max-w-[31rem] grid-cols-3'}`
          }
        >
          {images.map((image, i) => (
            <button
              key={image.id}
              ref={(el) => {
                buttons.current[i] = el;
              }}
              type="button"
              onClick={() => {
                returnTo.current = i;
                setOpen(i);
              }}
              aria-label={`View ${image.name}`}
              title={image.name}
              data-testid="attachment-image"
              className={`group/image block overflow-hidden rounded-lg bg-zinc-100 ring-1 ring-zinc-900/5 focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:outline-none dark:bg-zinc-800 dark:ring-white/10 ${
                single ? 'max-w-full' : 'aspect-square w-full'
              }`}
            >
              <img
                src={image.thumbUrl ?? image.url}
                alt={image.name}
                width={image.thumb?.width}
                height={image.thumb?.height}
                loading="lazy"
                decoding="async"
                className={`block transition group-hover/image:opacity-90 ${
                  single ? 'h-auto max-w-full' : 'size-full object-cover'
                }`}
              />
            </button>
          ))}
        </div>
      )}
      {others.map((file) => (
        <FileCard key={file.id} file={file} />
      ))}
      {open !== null && <Lightbox images={images} index={open} onIndex={setOpen} onClose={() => setOpen(null)} />}
    </div>
  );
}

/** A file shown as what it is, with a link that downloads it. */
export function FileCard({ file }: { file: AttachmentView }) {
  const size = formatBytes(file.size);
  const kind = describeFileType(file.type);
  return (
    <a
      href={file.url}
      download={file.name}
      data-testid="file-card"
      aria-label={`Download ${file.name} (${size}, ${kind})`}
      title={`Download ${file.name}`}
      className="group/file flex w-full max-w-sm items-center gap-3 rounded-lg border border-zinc-200 bg-zinc-50 p-2 pr-3 transition hover:border-zinc-300 hover:bg-zinc-100 focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:outline-none dark:border-zinc-700/80 dark:bg-zinc-800/50 dark:hover:border-zinc-600 dark:hover:bg-zinc-800"
    >
      <span className="flex size-10 shrink-0 items-center justify-center rounded-md bg-indigo-100 text-indigo-600 dark:bg-indigo-500/15 dark:text-indigo-300">
        <Icon name={file.type.startsWith('image/') ? 'image' : 'file'} className="size-5" />
      </span>
      <span className="min-w-0 flex-1">
        <span className="block truncate text-sm font-medium text-zinc-800 dark:text-zinc-100">{file.name}</span>
        <span data-testid="file-card-meta" className="block text-xs text-zinc-500 dark:text-zinc-400">
          {size} · {kind}
        </span>
      </span>
      <Icon
        name="download"
        className="size-5 shrink-0 text-zinc-500 group-hover/file:text-zinc-600 dark:group-hover/file:text-zinc-200"
      />
    </a>
  );
}
