/**
 * The files of the message being written, per room: each uploads as soon as
 * it is attached (`files.ts`), with its progress, and is kept with the room's
 * draft once uploaded, so a reload shows it again (from the server: an
 * upload still under way at a reload is lost with the page). A refused file
 * stays, with why, until it is removed (or tried again, when the reason may
 * pass); removing one that is uploading cancels its upload. A message goes
 * with the room's files once every one is uploaded (`check`), and takes them
 * (`clear`).
 *
 * Framework-free; `ChatClient` holds one for the principal and publishes each
 * room's files in its `RoomView` (`draftFiles`): a room's list is a new array
 * after every change and the same one otherwise.
 */
import {
  MAX_ATTACHMENTS,
  UploadError,
  attachmentView,
  describeUploadError,
  type AttachmentView,
  type FileLinks,
  type FilesApi,
} from './files';
import type { Attachment } from './protocol';

export type DraftFileState = 'uploading' | 'uploaded' | 'failed';

/** One file of the composer, as the UI shows it. Immutable: a change makes a new one. */
export interface DraftFile {
  /** This page's own id for it (the server's id is `attachment.id`, once uploaded). */
  key: string;
  name: string;
  size: number;
  /** The browser's guess while uploading; the server's, from the bytes, once uploaded. */
  type: string;
  state: DraftFileState;
  /** How much of it has been sent, 0..1. */
  progress: number;
  /** The server's file, once uploaded. */
  attachment: AttachmentView | null;
  /** An image attached on this page, shown from memory (an object URL) while it is attached. */
  localUrl: string | null;
  /** Why it was refused, for people. */
  error: string | null;
  /** The same file may pass if tried again (no answer, the rate limit, the server's trouble). */
  retryable: boolean;
}

/** Object URLs for local previews; `create` may give none (no `URL.createObjectURL` here). */
export interface ObjectUrls {
  create(blob: Blob): string | null;
  revoke(url: string): void;
}

/** The page's `URL.createObjectURL`, where there is one. */
export const BROWSER_OBJECT_URLS: ObjectUrls = {
  create: (blob) => (typeof URL.createObjectURL === 'function' ? URL.createObjectURL(blob) : null),
  revoke: (url) => {
    if (typeof URL.revokeObjectURL === 'function') URL.revokeObjectURL(url);
  },
};

export interface DraftFilesOptions {
  api: FilesApi;
  /** Where files are read, and the guest's token to upload with (`null`: the account's cookie). */
  links: () => FileLinks;
  /**
   * `room`'s files changed; `persist`: what its draft keeps changed too (a
   * file uploaded or taken away), so the draft is to be saved.
   */
  onChange: (room: string, persist: boolean) => void;
  /** An upload was refused with 401: the sign-in may be over. */
  onUnauthorized?: () => void;
  objectUrls?: ObjectUrls;
}

const NONE: readonly DraftFile[] = [];

/** A room's files once none is uploading: why they cannot go with a message (`check`), and how many there are. */
export interface Settled {
  problem: string | null;
  count: number;
}

export class DraftFiles {
  private readonly options: DraftFilesOptions;
  private readonly urls: ObjectUrls;
  private readonly rooms = new Map<string, readonly DraftFile[]>();
  /** The uploads under way and the files refused (kept to be tried again), by key. */
  private readonly blobs = new Map<string, { room: string; blob: Blob; controller: AbortController | null }>();
  /** Who waits for a room's uploads to end (`settled`). */
  private readonly waiters = new Map<string, ((settled: Settled) => void)[]>();
  private keys = 0;
  private disposed = false;

  constructor(options: DraftFilesOptions) {
    this.options = options;
    this.urls = options.objectUrls ?? BROWSER_OBJECT_URLS;
  }

  /** `room`'s files, in the order attached. */
  of(room: string): readonly DraftFile[] {
    return this.rooms.get(room) ?? NONE;
  }

  /** The files of `room` that are uploaded, as the draft keeps them and a message names them. */
  uploaded(room: string): Attachment[] {
    return this.of(room).flatMap((f) => (f.state === 'uploaded' && f.attachment ? [f.attachment.source] : []));
  }

  /** Whether `room` has files in the composer (uploaded, under way or refused). */
  has(room: string): boolean {
    return this.of(room).length > 0;
  }

  /** The files a draft kept (an earlier visit), shown from the server; only where the room has none. */
  restore(room: string, attachments: readonly Attachment[]): void {
    if (this.has(room) || attachments.length === 0) return;
    const links = this.options.links();
    const files = attachments.slice(0, MAX_ATTACHMENTS).map((a) => this.uploadedFile(this.nextKey(), a, links, null));
    this.rooms.set(room, files);
  }

  /**
   * Attaches `files` to `room`'s message: each starts uploading at once. At
   * most `MAX_ATTACHMENTS` per message: returns what could not be attached, for
   * people, or `null`.
   */
  add(room: string, files: readonly Blob[]): string | null {
    if (this.disposed || files.length === 0) return null;
    const current = this.of(room);
    const free = MAX_ATTACHMENTS - current.length;
    const taken = files.slice(0, Math.max(0, free));
    const added: DraftFile[] = [];
    for (const blob of taken) {
      const key = this.nextKey();
      const name = nameOf(blob);
      const image = blob.type.startsWith('image/');
      added.push({
        key,
        name,
        size: blob.size,
        type: blob.type,
        state: 'uploading',
        progress: 0,
        attachment: null,
        localUrl: image ? this.urls.create(blob) : null,
        error: null,
        retryable: false,
      });
      this.blobs.set(key, { room, blob, controller: null });
    }
    if (added.length) {
      this.rooms.set(room, [...current, ...added]);
      this.changed(room, false);
      for (const file of added) this.start(room, file.key);
    }
    const left = files.length - taken.length;
    if (left === 0) return null;
    const most = `A message can carry at most ${MAX_ATTACHMENTS} files`;
    if (taken.length === 0) return `${most}.`;
    return `${most}: ${left === 1 ? '1 file was' : `${left} files were`} not added.`;
  }

  /** Takes a file out of `room`'s message; one uploading is cancelled. */
  remove(room: string, key: string): void {
    const file = this.of(room).find((f) => f.key === key);
    if (!file) return;
    this.forget(key, file);
    const rest = this.of(room).filter((f) => f.key !== key);
    if (rest.length) this.rooms.set(room, rest);
    else this.rooms.delete(room);
    this.changed(room, file.state === 'uploaded');
  }

  /** Uploads a refused file again (one whose reason may pass). */
  retry(room: string, key: string): void {
    const file = this.of(room).find((f) => f.key === key);
    if (!file || file.state !== 'failed' || !this.blobs.has(key)) return;
    this.update(room, key, { state: 'uploading', progress: 0, error: null, retryable: false });
    this.changed(room, false);
    this.start(room, key);
  }

  /**
   * Why `room`'s files cannot go with a message now (some still uploading, or
   * refused), or `null`.
   */
  check(room: string): string | null {
    const files = this.of(room);
    if (files.some((f) => f.state === 'uploading')) return 'Wait for the files to finish uploading.';
    if (files.some((f) => f.state === 'failed'))
      return 'Remove the files that could not be uploaded, or try them again.';
    return null;
  }

  /** The message took `room`'s files: the composer has none. */
  clear(room: string): void {
    const files = this.of(room);
    if (files.length === 0) return;
    for (const file of files) this.forget(file.key, file);
    this.rooms.delete(room);
    this.changed(room, true);
  }

  /**
   * Resolves once no file of `room` is uploading (at once when none is): with
   * why they cannot go with a message, if so. A message sent while its files
   * upload waits for this.
   */
  settled(room: string): Promise<Settled> {
    if (!this.of(room).some((f) => f.state === 'uploading')) return Promise.resolve(this.settledOf(room));
    return new Promise((resolve) => {
      const list = this.waiters.get(room) ?? [];
      list.push(resolve);
      this.waiters.set(room, list);
    });
  }

  /** Lets go of `room`'s files, saying nothing (the room is left). */
  drop(room: string): void {
    for (const file of this.of(room)) this.forget(file.key, file);
    this.rooms.delete(room);
    this.wake(room);
  }

  /** Stops every upload and lets go of every preview (the principal changed). */
  dispose(): void {
    this.disposed = true;
    for (const room of [...this.rooms.keys()]) this.drop(room);
  }

  private start(room: string, key: string): void {
    const entry = this.blobs.get(key);
    if (!entry) return;
    const controller = new AbortController();
    entry.controller = controller;
    const { blob } = entry;
    const token = this.options.links().token;
    let shown = 0;
    this.options.api
      .upload(blob, nameOf(blob), {
        token,
        signal: controller.signal,
        onProgress: ({ loaded, total }) => {
          // A new view only for a whole percent more: not one per progress event.
          const progress = total > 0 ? Math.min(1, loaded / total) : 0;
          if (Math.floor(progress * 100) === Math.floor(shown * 100)) return;
          shown = progress;
          if (this.update(room, key, { progress })) this.changed(room, false);
        },
      })
      .then(
        (attachment) => {
          if (controller.signal.aborted || !this.isCurrent(room, key)) return;
          entry.controller = null;
          // Uploaded: nothing more to try again.
          this.blobs.delete(key);
          const file = this.of(room).find((f) => f.key === key);
          if (!file) return;
          const done = this.uploadedFile(key, attachment, this.options.links(), file.localUrl);
          this.rooms.set(
            room,
            this.of(room).map((f) => (f.key === key ? done : f)),
          );
          this.changed(room, true);
        },
        (e: unknown) => {
          if (controller.signal.aborted || !this.isCurrent(room, key)) return;
          entry.controller = null;
          if (e instanceof UploadError && e.status === 401) this.options.onUnauthorized?.();
          const retryable = e instanceof UploadError && e.retryable;
          if (!retryable) {
            // Refused for what it is: trying it again would only be refused again.
            this.blobs.delete(key);
          }
          this.update(room, key, {
            state: 'failed',
            error: describeUploadError(e, blob),
            retryable,
          });
          this.changed(room, false);
        },
      );
  }

  private changed(room: string, persist: boolean): void {
    this.options.onChange(room, persist);
    this.wake(room);
  }

  /** Resolves those waiting for `room`'s uploads, once none is under way. */
  private wake(room: string): void {
    const list = this.waiters.get(room);
    if (!list || this.of(room).some((f) => f.state === 'uploading')) return;
    this.waiters.delete(room);
    const settled = this.settledOf(room);
    for (const resolve of list) resolve(settled);
  }

  private settledOf(room: string): Settled {
    return { problem: this.check(room), count: this.of(room).length };
  }

  private isCurrent(room: string, key: string): boolean {
    return !this.disposed && this.of(room).some((f) => f.key === key);
  }

  /** Replaces file `key` of `room` by one with `change`; whether it was there. */
  private update(room: string, key: string, change: Partial<DraftFile>): boolean {
    const files = this.of(room);
    if (!files.some((f) => f.key === key)) return false;
    this.rooms.set(
      room,
      files.map((f) => (f.key === key ? { ...f, ...change } : f)),
    );
    return true;
  }

  /** Stops file `key`'s upload and lets go of its preview. */
  private forget(key: string, file: DraftFile): void {
    const entry = this.blobs.get(key);
    entry?.controller?.abort();
    this.blobs.delete(key);
    if (file.localUrl) this.urls.revoke(file.localUrl);
  }

  private uploadedFile(key: string, attachment: Attachment, links: FileLinks, localUrl: string | null): DraftFile {
    return {
      key,
      name: attachment.name,
      size: attachment.size,
      type: attachment.type,
      state: 'uploaded',
      progress: 1,
      attachment: attachmentView(attachment, links),
      localUrl,
      error: null,
      retryable: false,
    };
  }

  private nextKey(): string {
    this.keys += 1;
    return `f${this.keys}`;
  }
}

/** A file's name: a `File`'s own, or `file` for a bare `Blob`. */
function nameOf(blob: Blob): string {
  const name = (blob as Partial<File>).name;
  return typeof name === 'string' && name.trim() ? name : 'file';
}
