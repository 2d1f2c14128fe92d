/**
 * What the client keeps in the browser between visits, in IndexedDB: per room,
 * the recent messages and where they end (so a reload shows them before the
 * network answers); the draft being written in each room (its text, and the
 * files uploaded for it); and the outbox of
 * messages and changes (edits, deletes, reactions) not yet acknowledged (so a
 * reload does not lose them).
 *
 * `MemoryStore` has the same interface for tests and for browsers without
 * IndexedDB (private modes that refuse it); nothing then survives a reload.
 * Each person on the browser has a store of their own (`stores.ts`).
 */
import type { Attachment, Message, RoomEvent } from './protocol';

/** A room's cached tail: messages with consecutive seqs ending at `contiguousSeq`. */
export interface RoomCache {
  room: string;
  epoch: number;
  contiguousSeq: number;
  /** The highest seq the user has seen in this room. */
  readSeq: number;
  messages: Message[];
  /** The member and room events among them ("Ada added Bob"); absent in caches of versions before. */
  notices?: RoomEvent[];
}

/** What an outbox record changes, when it is not a message of its own: an `edit`, `delete` or `react` frame. */
export type ChangeKind = 'edit' | 'delete' | 'react';

/** A message, or a change to one, sent but not acknowledged yet. */
export interface OutboxRecord {
  client_id: string;
  room: string;
  /** The text: of the message, or of an edit (empty for a delete or a reaction). */
  content: string;
  /** When it was written, by the browser's clock (for display until the server's arrives). */
  created_at: string;
  status: 'sending' | 'failed';
  error?: string;
  /** Failed for a reason that may pass: it is sent again by itself (after a reload too). */
  retryable?: boolean;
  /** Absent for a message (and in the records of versions before changes existed). */
  kind?: ChangeKind;
  /** A change's message. */
  target?: string;
  /** A reaction's emoji, and whether it is added or taken back. */
  emoji?: string;
  on?: boolean;
  /** The message a message answers. */
  reply_to?: string;
  /** The files a message carries (sent by id; kept whole, to show them while it is on its way). */
  attachments?: Attachment[];
}

export interface LocalSnapshot {
  rooms: RoomCache[];
  /** Each room's draft text (rooms with none left out). */
  drafts: Record<string, string>;
  /** The files uploaded for each room's draft (rooms with none left out). */
  draftFiles?: Record<string, Attachment[]>;
  outbox: OutboxRecord[];
}

export interface LocalStore {
  load(): Promise<LocalSnapshot>;
  saveRoom(cache: RoomCache): Promise<void>;
  deleteRoom(room: string): Promise<void>;
  /** A room's draft: its text and the files uploaded for it (none when left out). An empty draft is deleted. */
  saveDraft(room: string, text: string, attachments?: readonly Attachment[]): Promise<void>;
  saveOutbox(record: OutboxRecord): Promise<void>;
  deleteOutbox(clientId: string): Promise<void>;
  /** Deletes everything: room caches, drafts and the outbox. */
  clear(): Promise<void>;
}

export class MemoryStore implements LocalStore {
  readonly rooms = new Map<string, RoomCache>();
  readonly drafts = new Map<string, string>();
  readonly draftFiles = new Map<string, Attachment[]>();
  readonly outbox = new Map<string, OutboxRecord>();

  load(): Promise<LocalSnapshot> {
    return Promise.resolve({
      rooms: [...this.rooms.values()].map((r) => structuredClone(r)),
      drafts: Object.fromEntries(this.drafts),
      ...(this.draftFiles.size ? { draftFiles: structuredClone(Object.fromEntries(this.draftFiles)) } : {}),
      outbox: [...this.outbox.values()].map((o) => structuredClone(o)),
    });
  }

  saveRoom(cache: RoomCache): Promise<void> {
    this.rooms.set(cache.room, structuredClone(cache));
    return Promise.resolve();
  }

  deleteRoom(room: string): Promise<void> {
    this.rooms.delete(room);
    return Promise.resolve();
  }

  saveDraft(room: string, text: string, attachments: readonly Attachment[] = []): Promise<void> {
    if (text) this.drafts.set(room, text);
    else this.drafts.delete(room);
    if (attachments.length) this.draftFiles.set(room, structuredClone([...attachments]));
    else this.draftFiles.delete(room);
    return Promise.resolve();
  }

  saveOutbox(record: OutboxRecord): Promise<void> {
    this.outbox.set(record.client_id, structuredClone(record));
    return Promise.resolve();
  }

  deleteOutbox(clientId: string): Promise<void> {
    this.outbox.delete(clientId);
    return Promise.resolve();
  }

  clear(): Promise<void> {
    this.rooms.clear();
    this.drafts.clear();
    this.draftFiles.clear();
    this.outbox.clear();
    return Promise.resolve();
  }
}

/** A draft as IndexedDB keeps it (drafts of versions before files have no `attachments`). */
interface DraftRecord {
  room: string;
  text: string;
  attachments?: Attachment[];
}

/** The database of the guest; an account's is `whisperchat.<user id>` (`stores.ts`). */
export const DB_NAME = 'whisperchat';
const DB_VERSION = 1;
type StoreName = 'rooms' | 'drafts' | 'outbox';

function promisify<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
  });
}

export class IndexedDbStore implements LocalStore {
  private readonly db: IDBDatabase;

  private constructor(db: IDBDatabase) {
    this.db = db;
  }

  static async open(factory: IDBFactory = indexedDB, name = DB_NAME): Promise<IndexedDbStore> {
    const request = factory.open(name, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('rooms')) db.createObjectStore('rooms', { keyPath: 'room' });
      if (!db.objectStoreNames.contains('drafts')) db.createObjectStore('drafts', { keyPath: 'room' });
      if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: 'client_id' });
    };
    const db = await promisify(request);
    // Another tab upgrading the schema: let it, this tab reloads into the new one.
    db.onversionchange = () => db.close();
    return new IndexedDbStore(db);
  }

  async load(): Promise<LocalSnapshot> {
    const tx = this.db.transaction(['rooms', 'drafts', 'outbox'], 'readonly');
    const [rooms, drafts, outbox] = await Promise.all([
      promisify(tx.objectStore('rooms').getAll() as IDBRequest<RoomCache[]>),
      promisify(tx.objectStore('drafts').getAll() as IDBRequest<DraftRecord[]>),
      promisify(tx.objectStore('outbox').getAll() as IDBRequest<OutboxRecord[]>),
    ]);
    const files = drafts.filter((d) => Array.isArray(d.attachments) && d.attachments.length > 0);
    return {
      rooms,
      drafts: Object.fromEntries(drafts.filter((d) => d.text).map((d) => [d.room, d.text])),
      ...(files.length ? { draftFiles: Object.fromEntries(files.map((d) => [d.room, d.attachments ?? []])) } : {}),
      outbox: outbox.sort((a, b) => a.created_at.localeCompare(b.created_at)),
    };
  }

  saveRoom(cache: RoomCache): Promise<void> {
    return this.write('rooms', (s) => s.put(cache));
  }

  deleteRoom(room: string): Promise<void> {
    return this.write('rooms', (s) => s.delete(room));
  }

  saveDraft(room: string, text: string, attachments: readonly Attachment[] = []): Promise<void> {
    const record: DraftRecord = { room, text, ...(attachments.length ? { attachments: [...attachments] } : {}) };
    return this.write('drafts', (s) => (text || attachments.length ? s.put(record) : s.delete(room)));
  }

  saveOutbox(record: OutboxRecord): Promise<void> {
    return this.write('outbox', (s) => s.put(record));
  }

  deleteOutbox(clientId: string): Promise<void> {
    return this.write('outbox', (s) => s.delete(clientId));
  }

  async clear(): Promise<void> {
    const tx = this.db.transaction(['rooms', 'drafts', 'outbox'], 'readwrite');
    for (const name of ['rooms', 'drafts', 'outbox'] as const) tx.objectStore(name).clear();
    await done(tx);
  }

  /** Lets go of the database (before it is deleted); later calls fail. */
  close(): void {
    this.db.close();
  }

  private write(store: StoreName, op: (s: IDBObjectStore) => IDBRequest): Promise<void> {
    const tx = this.db.transaction(store, 'readwrite');
    op(tx.objectStore(store));
    return done(tx);
  }
}

/** The IndexedDB database `name` when the browser allows it, memory otherwise. */
export async function openLocalStore(
  name = DB_NAME,
  factory: IDBFactory | undefined = typeof indexedDB === 'undefined' ? undefined : indexedDB,
): Promise<LocalStore> {
  if (!factory) return new MemoryStore();
  try {
    return await IndexedDbStore.open(factory, name);
  } catch {
    return new MemoryStore();
  }
}

/**
 * A store that is still opening: calls wait for it. Lets the app construct its
 * `ChatClient` synchronously while IndexedDB opens.
 */
export class DeferredStore implements LocalStore {
  private readonly store: Promise<LocalStore>;

  constructor(store: Promise<LocalStore>) {
    this.store = store;
  }

  load(): Promise<LocalSnapshot> {
    return this.store.then((s) => s.load());
  }

  saveRoom(cache: RoomCache): Promise<void> {
    return this.store.then((s) => s.saveRoom(cache));
  }

  deleteRoom(room: string): Promise<void> {
    return this.store.then((s) => s.deleteRoom(room));
  }

  saveDraft(room: string, text: string, attachments?: readonly Attachment[]): Promise<void> {
    return this.store.then((s) => s.saveDraft(room, text, attachments));
  }

  saveOutbox(record: OutboxRecord): Promise<void> {
    return this.store.then((s) => s.saveOutbox(record));
  }

  deleteOutbox(clientId: string): Promise<void> {
    return this.store.then((s) => s.deleteOutbox(clientId));
  }

  clear(): Promise<void> {
    return this.store.then((s) => s.clear());
  }

  /** The store, once open. */
  opened(): Promise<LocalStore> {
    return this.store;
  }
}
