/**
 * A fake `XMLHttpRequest` for uploads (`FilesApi`): each request is kept, and
 * the test says what happens to it — progress, the server's answer, no answer
 * — as whisper-server's `POST /v1/files` would (docs/protocol.md §17).
 */
import { FilesApi } from '../../src/core/files';
import type { Attachment } from '../../src/core/protocol';
import { ORIGIN, nextId } from './fixtures';

export interface FakeUpload {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  aborted: boolean;
  /** Reports `loaded` of `total` bytes sent. */
  progress(loaded: number, total: number): void;
  /** The server's answer: a status, a JSON body, headers. */
  respond(status: number, body: unknown, headers?: Record<string, string>): void;
  /** No answer (the connection failed). */
  fail(): void;
}

export function fakeUploads() {
  const requests: FakeUpload[] = [];

  class FakeXhr implements FakeUpload {
    method = '';
    url = '';
    headers: Record<string, string> = {};
    body: unknown = null;
    aborted = false;
    status = 0;
    responseText = '';
    responseType: XMLHttpRequestResponseType = '';
    readonly upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null };
    onload: (() => void) | null = null;
    onerror: (() => void) | null = null;
    onabort: (() => void) | null = null;
    ontimeout: (() => void) | null = null;
    private responseHeaders: Record<string, string> = {};

    open(method: string, url: string) {
      this.method = method;
      this.url = url;
    }

    setRequestHeader(name: string, value: string) {
      this.headers[name] = value;
    }

    getResponseHeader(name: string): string | null {
      return this.responseHeaders[name.toLowerCase()] ?? null;
    }

    send(body: unknown) {
      this.body = body;
      requests.push(this);
    }

    abort() {
      if (this.aborted) return;
      this.aborted = true;
      this.onabort?.();
    }

    progress(loaded: number, total: number) {
      this.upload.onprogress?.({ loaded, total, lengthComputable: true } as ProgressEvent);
    }

    respond(status: number, body: unknown, headers: Record<string, string> = {}) {
      this.status = status;
      this.responseText = typeof body === 'string' ? body : JSON.stringify(body);
      this.responseHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      this.onload?.();
    }

    fail() {
      this.onerror?.();
    }
  }

  const XMLHttpRequest = FakeXhr as unknown as new () => XMLHttpRequest;
  return {
    requests,
    XMLHttpRequest,
    /** A `FilesApi` for the fake server's origin that uploads through these fakes. */
    api: new FilesApi(ORIGIN, { XMLHttpRequest }),
    /** The latest request. */
    last(): FakeUpload {
      const request = requests.at(-1);
      if (!request) throw new Error('nothing was uploaded');
      return request;
    },
  };
}

/** An Attachment as the server answers an upload (an image with a thumbnail, unless `fields` say otherwise). */
export function attachment(fields: Partial<Attachment> = {}): Attachment {
  return {
    id: nextId(),
    name: 'cat.png',
    type: 'image/png',
    size: 48_213,
    width: 1280,
    height: 960,
    thumb: { width: 320, height: 240 },
    ...fields,
  };
}

/** A `File` of `size` bytes (zeros), typed as `type`. */
export function fileOf(name: string, type: string, size = 1024): File {
  return new File([new Uint8Array(size)], name, { type });
}

/** Object URLs for previews, counted (jsdom has none). */
export function fakeObjectUrls() {
  let n = 0;
  const revoked: string[] = [];
  return {
    revoked,
    create: (_blob: Blob) => {
      n += 1;
      return `blob:preview-${n}`;
    },
    revoke: (url: string) => {
      revoked.push(url);
    },
  };
}
