import type { DraftFile } from '../../core/chat';
import { formatBytes } from '../../core/files';
import { Icon } from '../Icon';

/**
 * The files of the message being written, above the box: each with a
 * preview (an image from memory while it uploads, then the server's
 * thumbnail; another file an icon), its name, and its progress, its size once
 * uploaded, or why it was refused. × takes one out (cancelling its upload);
 * a refusal that may pass can be tried again.
 */
export function ComposerFiles({
  files,
  onRemove,
  onRetry,
}: {
  files: readonly DraftFile[];
  onRemove: (key: string) => void;
  onRetry?: (key: string) => void;
}) {
  if (files.length === 0) return null;
  return (
    <ul aria-label="Attached files" data-testid="composer-files" className="flex flex-wrap gap-2 px-1.5 pt-1.5 pb-1">
      {files.map((file) => (
        <FileChip key={file.key} file={file} onRemove={onRemove} {...(onRetry ? { onRetry } : {})} />
      ))}
    </ul>
  );
}

function FileChip({
  file,
  onRemove,
  onRetry,
}: {
  file: DraftFile;
  onRemove: (key: string) => void;
  onRetry?: (key: string) => void;
}) {
  const failed = file.state === 'failed';
  const percent = Math.round(file.progress * 100);
  const image = file.type.startsWith('image/');
  const preview = image ? (file.localUrl ?? file.attachment?.thumbUrl ?? null) : null;
  return (
    <li
      data-testid="composer-file"
      data-state={file.state}
      className={`relative flex max-w-full items-center gap-2.5 rounded-lg border py-1.5 pr-9 pl-1.5 ${
        failed
          ? 'w-80 border-rose-300 bg-rose-50 dark:border-rose-500/40 dark:bg-rose-500/10'
          : 'w-60 border-zinc-200 bg-zinc-50 dark:border-zinc-700 dark:bg-zinc-900/60'
      }`}
    >
      <span
        className={`flex size-11 shrink-0 items-center justify-center overflow-hidden rounded-md ${
          failed
            ? 'bg-rose-100 text-rose-500 dark:bg-rose-500/15 dark:text-rose-300'
            : 'bg-indigo-100 text-indigo-600 dark:bg-indigo-500/15 dark:text-indigo-300'
        }`}
      >
        {preview ? (
          <img
            src={preview}
            alt=""
            data-testid="composer-file-preview"
            className={`size-full object-cover ${file.state === 'uploading' ? 'opacity-60' : ''}`}
          />
        ) : (
          <Icon name={failed ? 'alert' : image ? 'image' : 'file'} className="size-5" />
        )}
      </span>
      <span className="min-w-0 flex-1">
        <span className="block truncate text-[13px] font-medium text-zinc-800 dark:text-zinc-100" title={file.name}>
          {file.name}
        </span>
        {file.state === 'uploading' && (
          <>
            <span className="block text-[11px] text-zinc-500 tabular-nums dark:text-zinc-400">
              Uploading… {percent}%
            </span>
            <span
              role="progressbar"
              aria-label={`Uploading ${file.name}`}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={percent}
              className="mt-1 block h-1 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-700"
            >
              <span
                className="block h-full rounded-full bg-indigo-500 transition-[width] duration-200 dark:bg-indigo-400"
                style={{ width: `${percent}%` }}
              />
            </span>
          </>
        )}
        {file.state === 'uploaded' && (
          <span className="block text-[11px] text-zinc-500 dark:text-zinc-400">{formatBytes(file.size)}</span>
        )}
        {failed && (
          <span className="block text-[11px] leading-snug text-rose-700 dark:text-rose-300">
            <span role="alert" data-testid="composer-file-error">
              {file.error}
            </span>
            {file.retryable && onRetry && (
              <>
                {' '}
                <button
                  type="button"
                  onClick={() => onRetry(file.key)}
                  className="font-semibold underline-offset-2 hover:underline"
                >
                  Try again
                </button>
              </>
            )}
          </span>
        )}
      </span>
      <button
        type="button"
        onClick={() => onRemove(file.key)}
        aria-label={`Remove ${file.name}`}
        title={file.state === 'uploading' ? 'Cancel the upload' : 'Remove'}
        className="absolute top-1 right-1 inline-flex size-7 items-center justify-center rounded-md text-zinc-500 hover:bg-zinc-200 hover:text-zinc-700 dark:hover:bg-zinc-700 dark:hover:text-zinc-200"
      >
        <Icon name="x" className="size-4" />
      </button>
    </li>
  );
}
