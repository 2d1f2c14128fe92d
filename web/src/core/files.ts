/**
 * Files (docs/protocol.md §17): uploading one (`POST /v1/files`, with its
 * progress, so over `XMLHttpRequest`: `fetch` reports none), where a file and
 * its thumbnail are read (`GET /v1/files/{id}`, `…/thumb`), and how a file is
 * shown to people (its size, its kind, an upload's refusal as a sentence).
 *
 * Who uploads: an account by its cookie (the page's own origin), a guest by
 * its token (`Authorization: Bearer`). A guest has no cookie, and an `<img>`
 * carries no header, so the URLs of a guest's files carry the token
 * (`?token=`), as the protocol says.
 */
import { errorOf, retryAfterMs } from './http';
import type { Attachment, ThumbSize } from './protocol';

/** The most files one message carries (the server's `MAX_ATTACHMENTS`). */
export const MAX_ATTACHMENTS = 10;

/** The server's default upload limit (`--max-upload-bytes`): 10 MiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/** The types the server serves inline (and makes thumbnails of): shown as images. */
export const INLINE_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** How far an upload is: bytes sent of the total. */
export interface UploadProgress {
  loaded: number;
  total: number;
}

/** Why an upload did not give a file: the server's refusal, no answer, or the caller's abort. */
export class UploadError extends Error {
  /** The HTTP status (`0`: no answer, or aborted). */
  readonly status: number;
  /** The server's code (`payload_too_large`…), `network`, `aborted` or `bad_response`. */
  readonly code: string;
  /** A 429's `Retry-After`, when it said. */
  readonly retryAfterMs: number | null;

  constructor(status: number, code: string, message: string, retryAfterMs: number | null = null) {
    super(message);
    this.name = 'UploadError';
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }

  /** The same upload may pass later: nothing was wrong with the file. */
  get retryable(): boolean {
    return this.code === 'network' || this.status === 429 || this.status >= 500;
  }
}

export interface UploadOptions {
  /** A guest's token (`Authorization: Bearer`); an account sends its cookie instead. */
  token?: string | null;
  onProgress?: (progress: UploadProgress) => void;
  /** Aborting it cancels the upload (an `UploadError` with code `aborted`). */
  signal?: AbortSignal;
}

/** Where a file is read, for a guest with its token in the URL. */
export interface FileLinks {
  /** The server's origin, or `''` for the page's own. */
  base: string;
  /** A guest's token; `null` for an account (its cookie rides `<img src>` by itself). */
  token: string | null;
}

export const NO_LINKS: FileLinks = { base: '', token: null };

/** A file a message carries (or the composer holds), as the UI shows it. */
export interface AttachmentView {
  id: string;
  name: string;
  type: string;
  size: number;
  /** An image's own size in pixels, when it is one. */
  width: number | null;
  height: number | null;
  /** Its thumbnail's size, for the layout before it loads; `null` when it has none. */
  thumb: ThumbSize | null;
  /** The file itself (`/v1/files/{id}`): the lightbox, the download link. */
  url: string;
  /** Its thumbnail (`/v1/files/{id}/thumb`), when it has one. */
  thumbUrl: string | null;
  /** Shown as an image (an image with a thumbnail), not as a file card. */
  inline: boolean;
  /** The Attachment as the server sent it (what a draft keeps and a message names by id). */
  source: Attachment;
}

/** `/v1/files/{id}` (or its `/thumb`), with a guest's token. */
export function fileUrl(links: FileLinks, id: string, thumb = false): string {
  const path = `${links.base}/v1/files/${encodeURIComponent(id)}${thumb ? '/thumb' : ''}`;
  return links.token ? `${path}?${new URLSearchParams({ token: links.token }).toString()}` : path;
}

/** How `attachment` is shown, read from where `links` say. */
export function attachmentView(attachment: Attachment, links: FileLinks): AttachmentView {
  const thumb = attachment.thumb ?? null;
  return {
    id: attachment.id,
    name: attachment.name,
    type: attachment.type,
    size: attachment.size,
    width: attachment.width ?? null,
    height: attachment.height ?? null,
    thumb,
    url: fileUrl(links, attachment.id),
    thumbUrl: thumb ? fileUrl(links, attachment.id, true) : null,
    inline: thumb !== null && INLINE_IMAGE_TYPES.has(attachment.type),
    source: attachment,
  };
}

/** Whether `value` is an Attachment as the server answers one. */
export function isAttachment(value: unknown): value is Attachment {
  if (typeof value !== 'object' || value === null) return false;
  const a = value as Partial<Attachment>;
  const thumbOk =
    a.thumb === undefined ||
    (typeof a.thumb === 'object' &&
      a.thumb !== null &&
      typeof a.thumb.width === 'number' &&
      typeof a.thumb.height === 'number');
  return (
    typeof a.id === 'string' &&
    a.id !== '' &&
    typeof a.name === 'string' &&
    typeof a.type === 'string' &&
    typeof a.size === 'number' &&
    thumbOk
  );
}

/** `1 byte`, `512 bytes`, `47 KB`, `12.3 MB` (1024 to the kilobyte, as the limit's `10 MB` is 10 MiB). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // A tenth of a megabyte and up (1.5 MB, 12.3 MB) below 100; kilobytes, and anything above, whole.
  const text = value < 100 && unit > 0 ? value.toFixed(1) : Math.round(value).toString();
  return `${text.replace(/\.0$/, '')} ${units[unit]}`;
}

const KINDS: Readonly<Record<string, string>> = {
  'image/png': 'PNG image',
  'image/jpeg': 'JPEG image',
  'image/gif': 'GIF image',
  'image/webp': 'WebP image',
  'image/svg+xml': 'SVG image',
  'application/pdf': 'PDF document',
  'application/zip': 'ZIP archive',
  'text/plain': 'Text file',
  'text/csv': 'CSV file',
  'application/json': 'JSON file',
};

/** A media type as people name it: `PNG image`, `PDF document`, `MP4 video`, `File`. */
export function describeFileType(type: string): string {
  const known = KINDS[type.toLowerCase()];
  if (known) return known;
  const [kind, sub] = type.toLowerCase().split(';', 1)[0]?.trim().split('/') ?? [];
  const label = sub
    ? sub
        .replace(/^(x-|vnd\.)/, '')
        .split(/[.+-]/)[0]
        ?.toUpperCase()
    : '';
  const noun =
    kind === 'image'
      ? 'image'
      : kind === 'video'
        ? 'video'
        : kind === 'audio'
          ? 'audio'
          : kind === 'text'
            ? 'text'
            : '';
  if (label && noun) return `${label} ${noun}`;
  if (label && label !== 'OCTET') return `${label} file`;
  return 'File';
}

/**
 * An upload's refusal as one sentence for people, about `file` (its size
 * says how far over a limit it is). The server's own words, which are written
 * for people, follow what the client can say better itself.
 */
export function describeUploadError(e: unknown, file: { size: number }): string {
  if (!(e instanceof UploadError)) return 'The file could not be uploaded. Try again.';
  const why = sentence(e.message);
  switch (e.code === 'network' || e.code === 'bad_response' || e.code === 'aborted' ? e.code : e.status) {
    case 'network':
      return file.size > DEFAULT_MAX_UPLOAD_BYTES
        ? `The upload failed: this file is ${formatBytes(file.size)}, more than the server is likely to take (the limit is usually ${formatBytes(DEFAULT_MAX_UPLOAD_BYTES)}).`
        : 'Could not reach the server. Check your connection and try again.';
    case 'aborted':
      return 'The upload was cancelled.';
    case 'bad_response':
      return 'The server answered the upload with something this page does not understand.';
    case 413: {
      const limit = limitIn(e.message);
      return limit === null
        ? `This file is ${formatBytes(file.size)}, more than the server accepts.`
        : `This file is ${formatBytes(file.size)}; the limit is ${formatBytes(limit)}.`;
    }
    case 415:
      return `This kind of file can't be sent here.${why ? ` ${why}` : ''}`;
    case 422:
      // A decoder's complaint helps nobody; a size over the server's limits does.
      return !why || /could not be read|decod|format/i.test(e.message)
        ? 'This image could not be read: it may be damaged, or in a format the server cannot open.'
        : `This image can't be sent. ${why}`;
    case 401:
      return 'The server did not recognise you. Reload the page (or sign in again) and try again.';
    case 403:
      return `The server refused the upload.${why ? ` ${why}` : ''}`;
    case 429: {
      const wait = e.retryAfterMs === null ? '' : ` Try again in ${seconds(e.retryAfterMs)}.`;
      return `Too many uploads just now.${wait || ' Try again in a moment.'}`;
    }
    default:
      if (e.status >= 500) return 'The server could not store the file just now. Try again.';
      return why || 'The file could not be uploaded.';
  }
}

/**
 * A limit the server names in its 413 sentence: `10485760 bytes`, or
 * `10 MiB` / `10 MB` (taken as 1024-based, as the server's own are). `null`
 * when it names none.
 */
function limitIn(message: string): number | null {
  const bytes = /([\d][\d_,]*)\s*bytes?\b/i.exec(message);
  if (bytes?.[1]) {
    const n = Number(bytes[1].replace(/[_,]/g, ''));
    if (Number.isFinite(n) && n > 0) return n;
  }
  const scaled = /(\d+(?:\.\d+)?)\s*(k|m|g)i?b\b/i.exec(message);
  if (scaled?.[1] && scaled[2]) {
    const power = { k: 1, m: 2, g: 3 }[scaled[2].toLowerCase() as 'k' | 'm' | 'g'];
    return Math.round(Number(scaled[1]) * 1024 ** power);
  }
  return null;
}

function seconds(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return s === 1 ? '1 second' : `${s} seconds`;
}

/** The server's words as a sentence: capitalised, with a full stop. */
function sentence(text: string): string {
  const t = text.trim();
  if (!t) return '';
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** The part of `XMLHttpRequest` an upload uses (tests give a fake one). */
export type XhrConstructor = new () => XMLHttpRequest;

export class FilesApi {
  /** The server's origin, or `''` for the page's own. */
  readonly baseUrl: string;
  private readonly xhr: XhrConstructor | undefined;

  /** `baseUrl` is the server's origin (`http://127.0.0.1:8080`), or `''` for the page's own. */
  constructor(baseUrl = '', options: { XMLHttpRequest?: XhrConstructor } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.xhr = options.XMLHttpRequest;
  }

  /** Where this server's files are read, for `token` (a guest's) or `null` (an account's cookie). */
  links(token: string | null): FileLinks {
    return { base: this.baseUrl, token };
  }

  /**
   * Uploads `file` as the raw body, its name in `X-Filename`: resolves with
   * the server's Attachment (201). Rejects with an `UploadError`: the server's
   * refusal (status, code, sentence), `network` when it could not be reached,
   * `aborted` when `signal` ended it, `bad_response` for an answer that is no
   * Attachment. `Content-Type: application/octet-stream`: the server tells the
   * type from the bytes, and a browser's guess from the name could only clash.
   */
  upload(file: Blob, name: string, options: UploadOptions = {}): Promise<Attachment> {
    const XHR = this.xhr ?? (globalThis as { XMLHttpRequest?: XhrConstructor }).XMLHttpRequest;
    return new Promise<Attachment>((resolve, reject) => {
      const { signal, token, onProgress } = options;
      if (signal?.aborted) {
        reject(new UploadError(0, 'aborted', 'the upload was cancelled'));
        return;
      }
      if (!XHR) {
        reject(new UploadError(0, 'network', 'this browser cannot upload files'));
        return;
      }
      const xhr = new XHR();
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const onAbort = () => {
        finish(() => reject(new UploadError(0, 'aborted', 'the upload was cancelled')));
        xhr.abort();
      };
      xhr.open('POST', `${this.baseUrl}/v1/files`);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.setRequestHeader('X-Filename', encodeURIComponent(name));
      if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
      xhr.responseType = 'text';
      xhr.upload.onprogress = (e: ProgressEvent) => {
        if (settled) return;
        onProgress?.({ loaded: e.loaded, total: e.lengthComputable && e.total > 0 ? e.total : file.size });
      };
      xhr.onload = () => finish(() => settle(xhr, resolve, reject));
      xhr.onerror = () => finish(() => reject(new UploadError(0, 'network', 'the server could not be reached')));
      xhr.ontimeout = xhr.onerror;
      xhr.onabort = () => finish(() => reject(new UploadError(0, 'aborted', 'the upload was cancelled')));
      signal?.addEventListener('abort', onAbort);
      xhr.send(file);
    });
  }
}

/** Reads a finished upload's answer: the Attachment, or the refusal. */
function settle(xhr: XMLHttpRequest, resolve: (a: Attachment) => void, reject: (e: UploadError) => void): void {
  let body: unknown;
  try {
    body = JSON.parse(typeof xhr.responseText === 'string' ? xhr.responseText : '');
  } catch {
    body = null;
  }
  if (xhr.status >= 200 && xhr.status < 300) {
    if (isAttachment(body)) resolve(body);
    else reject(new UploadError(xhr.status, 'bad_response', 'the server did not answer with a file'));
    return;
  }
  const error = errorOf(body);
  reject(
    new UploadError(
      xhr.status,
      error.code ?? 'http_error',
      error.message ?? `HTTP ${xhr.status}`,
      retryAfterMs(xhr.getResponseHeader('Retry-After')),
    ),
  );
}
