/**
 * Whose local store: one per person on this browser — the guest's, and one
 * per account, by user id — so that two people signing in on one browser never
 * see each other's cached messages, drafts or unsent messages. In IndexedDB,
 * each is a database of its own: `whisperchat` for the guest (the one there
 * was before accounts, so a guest's cache survives the upgrade), and
 * `whisperchat.<user id>` for an account; removing one deletes its database.
 */
import { DB_NAME, DeferredStore, IndexedDbStore, MemoryStore, openLocalStore, type LocalStore } from './store';

export interface LocalStores {
  /** The store of `owner`: `null` for the guest, an account's user id. The same object every time. */
  open(owner: string | null): LocalStore;
  /** Deletes everything `owner` keeps on this browser. */
  remove(owner: string | null): Promise<void>;
}

/** The IndexedDB database of `owner`. */
export function databaseName(owner: string | null): string {
  return owner === null ? DB_NAME : `${DB_NAME}.${owner}`;
}

/** One IndexedDB database per person (memory where the browser refuses IndexedDB). */
export class BrowserStores implements LocalStores {
  private readonly factory: IDBFactory | undefined;
  private readonly stores = new Map<string, DeferredStore>();

  constructor(factory: IDBFactory | undefined = typeof indexedDB === 'undefined' ? undefined : indexedDB) {
    this.factory = factory;
  }

  open(owner: string | null): LocalStore {
    const name = databaseName(owner);
    let store = this.stores.get(name);
    if (!store) {
      store = new DeferredStore(openLocalStore(name, this.factory));
      this.stores.set(name, store);
    }
    return store;
  }

  async remove(owner: string | null): Promise<void> {
    const name = databaseName(owner);
    const store = this.stores.get(name);
    this.stores.delete(name);
    if (store) {
      const opened = await store.opened();
      // Closed, so the delete does not wait for it; a late write through it fails instead of writing.
      if (opened instanceof IndexedDbStore) opened.close();
      else await opened.clear();
    }
    if (this.factory) await deleteDatabase(this.factory, name);
  }
}

/** One `MemoryStore` per person: for tests, and the same isolation as in the browser. */
export class MemoryStores implements LocalStores {
  readonly stores = new Map<string | null, MemoryStore>();

  open(owner: string | null): MemoryStore {
    let store = this.stores.get(owner);
    if (!store) {
      store = new MemoryStore();
      this.stores.set(owner, store);
    }
    return store;
  }

  async remove(owner: string | null): Promise<void> {
    const store = this.stores.get(owner);
    this.stores.delete(owner);
    // Emptied too: whoever still holds it (a late write) finds nothing of the person.
    await store?.clear();
  }
}

/**
 * One store for everyone: a client given a single `store` (tests, or an
 * embedder that keeps its own) shares it between the people who sign in.
 */
export class SingleStore implements LocalStores {
  private readonly store: LocalStore;

  constructor(store: LocalStore) {
    this.store = store;
  }

  open(): LocalStore {
    return this.store;
  }

  remove(): Promise<void> {
    return this.store.clear();
  }
}

/**
 * Copies everything `from` keeps into `to`: a guest who signs up keeps its
 * user id, and so its cache, its drafts and its unsent messages.
 */
export async function copyLocal(from: LocalStore, to: LocalStore): Promise<void> {
  if (from === to) return;
  const local = await from.load();
  await Promise.all([
    ...local.rooms.map((room) => to.saveRoom(room)),
    ...[...new Set([...Object.keys(local.drafts), ...Object.keys(local.draftFiles ?? {})])].map((room) =>
      to.saveDraft(room, local.drafts[room] ?? '', local.draftFiles?.[room] ?? []),
    ),
    ...local.outbox.map((record) => to.saveOutbox(record)),
  ]);
}

function deleteDatabase(factory: IDBFactory, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = factory.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error ?? new Error('IndexedDB delete failed'));
    // Another tab has it open and did not let go: it goes once that tab closes it.
    request.onblocked = () => resolve();
  });
}
