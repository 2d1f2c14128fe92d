/**
 * The outbox: your messages from the moment they are written until the server
 * has stored them (docs/protocol.md §6–7). Each has a `client_id`; it stays here,
 * persisted in the local store, until its `message_ids` ack — and, once acked,
 * until the stored message itself arrives, so it never shows twice or not at
 * all. A refusal marks it `failed` with the reason; a retry resends it with the
 * same `client_id`, which the server stores once however often it arrives.
 */
import type { WireLimits } from './protocol';
import type { LocalStore, OutboxRecord } from './store';

export type SendStatus = 'sending' | 'sent' | 'failed';

export interface OutboxEntry extends OutboxRecord {
  /** `sent`: acked, waiting for the stored message to arrive. */
  state: SendStatus;
  id: string | null;
  /** The connection it was last sent on, so a flush does not send it twice. */
  sentOn: number;
}

/** A message just written, not sent yet. */
export function newEntry(clientId: string, room: string, content: string, createdAt: string): OutboxEntry {
  return {
    client_id: clientId,
    room,
    content,
    created_at: createdAt,
    status: 'sending',
    state: 'sending',
    id: null,
    sentOn: -1,
  };
}

/** An entry read back from the local store (an earlier visit). */
export function entryFromRecord(record: OutboxRecord): OutboxEntry {
  return { ...record, state: record.status === 'failed' ? 'failed' : 'sending', id: null, sentOn: -1 };
}

/** What the local store keeps of an entry. */
export function recordOf(entry: OutboxEntry): OutboxRecord {
  return {
    client_id: entry.client_id,
    room: entry.room,
    content: entry.content,
    created_at: entry.created_at,
    status: entry.state === 'failed' ? 'failed' : 'sending',
    ...(entry.error ? { error: entry.error } : {}),
  };
}

/**
 * The `messages` frames to send for `entries` on connection `connection`: those
 * not sent on it yet, in batches of at most `max_batch` (and the burst).
 */
export function batchesToSend(
  entries: readonly OutboxEntry[],
  connection: number,
  limits: WireLimits,
): OutboxEntry[][] {
  const pending = entries.filter((e) => e.sentOn !== connection);
  const size = Math.max(1, Math.min(limits.max_batch, limits.message_burst));
  const batches: OutboxEntry[][] = [];
  for (let i = 0; i < pending.length; i += size) batches.push(pending.slice(i, i + size));
  return batches;
}

/** The entries, keyed by `client_id`, mirrored into the local store. */
export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();
  private readonly store: LocalStore;

  constructor(store: LocalStore) {
    this.store = store;
  }

  get(clientId: string): OutboxEntry | undefined {
    return this.entries.get(clientId);
  }

  has(clientId: string): boolean {
    return this.entries.has(clientId);
  }

  /** In the order written. */
  values(): IterableIterator<OutboxEntry> {
    return this.entries.values();
  }

  /** Adds `entry`; `persist` also writes it to the local store (not needed when it came from there). */
  add(entry: OutboxEntry, persist = true): void {
    this.entries.set(entry.client_id, entry);
    if (persist) this.persist(entry);
  }

  /** Your stored message arrived: its optimistic copy is done (by `client_id` or, once acked, by id). */
  settle(clientId: string | null | undefined, id: string): void {
    const byClientId = clientId ? this.entries.get(clientId) : undefined;
    if (byClientId) this.drop(byClientId);
    for (const entry of this.entries.values()) if (entry.id === id) this.drop(entry);
  }

  /**
   * The server stored it as `id`. `arrived`: the stored message is already shown,
   * so the entry goes; otherwise it stays as `sent` until it arrives.
   */
  acknowledge(entry: OutboxEntry, id: string | null, arrived: boolean): void {
    void this.store.deleteOutbox(entry.client_id).catch(() => {});
    if (arrived) {
      this.entries.delete(entry.client_id);
    } else {
      entry.state = 'sent';
      entry.id = id;
    }
  }

  /** The server refused it, for `reason`. */
  refuse(entry: OutboxEntry, reason: string): void {
    entry.state = 'failed';
    entry.status = 'failed';
    entry.error = reason;
    this.persist(entry);
  }

  /** A failed entry goes back to `sending`, to be sent again with the same `client_id`. */
  retry(clientId: string): OutboxEntry | null {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state !== 'failed') return null;
    entry.state = 'sending';
    entry.status = 'sending';
    delete entry.error;
    entry.sentOn = -1;
    this.persist(entry);
    return entry;
  }

  /** Drops a failed entry; returns it, or `null` when there is none. */
  discard(clientId: string): OutboxEntry | null {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state !== 'failed') return null;
    this.drop(entry);
    return entry;
  }

  /** Forgets a record of an earlier visit that turned out to be stored already. */
  forgetRecord(clientId: string): void {
    void this.store.deleteOutbox(clientId).catch(() => {});
  }

  private drop(entry: OutboxEntry): void {
    this.entries.delete(entry.client_id);
    void this.store.deleteOutbox(entry.client_id).catch(() => {});
  }

  private persist(entry: OutboxEntry): void {
    void this.store.saveOutbox(recordOf(entry)).catch(() => {});
  }
}
