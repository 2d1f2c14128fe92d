/**
 * The outbox: what you wrote — messages, and changes to stored messages (edits,
 * deletes, reactions) — from the moment you wrote it until the server has
 * stored it (docs/protocol.md §6–7, §13). Each entry has a `client_id`; it stays
 * here, persisted in the local store, until its ack (`message_ids` for a message,
 * `ack` for a change) — and, once acked, until what was stored arrives (the
 * message, or the event), so it never shows twice or not at all. A refusal marks
 * it `failed` with the reason; a retry (by hand, or by itself when the reason may
 * pass: `retries.ts`) resends it with the same `client_id`, which the server
 * stores once however often it arrives, so everything pending is simply sent
 * again after a reconnect or a reload.
 */
import type { Attachment, ClientFrameOf, Draft, WireLimits } from './protocol';
import type { ChangeKind, LocalStore, OutboxRecord } from './store';

export type SendStatus = 'sending' | 'sent' | 'failed';
export type { ChangeKind } from './store';

export interface OutboxEntry extends OutboxRecord {
  /** `sent`: acked, waiting for the stored message (or event) to arrive. */
  state: SendStatus;
  /** A message's id, once acked. */
  id: string | null;
  /** A change's event seq, once acked. */
  seq: number | null;
  /** The connection it was last sent on, so a flush does not send it twice. */
  sentOn: number;
}

/** An entry that changes a stored message. */
export type ChangeEntry = OutboxEntry & { kind: ChangeKind; target: string };

/** What a change asks for. */
export type ChangeRequest =
  | { kind: 'edit'; target: string; content: string }
  | { kind: 'delete'; target: string }
  | { kind: 'react'; target: string; emoji: string; on: boolean };

/** A message just written, not sent yet: its text, the message it answers, the files it carries. */
export function newEntry(
  clientId: string,
  room: string,
  content: string,
  createdAt: string,
  replyTo?: string,
  attachments: readonly Attachment[] = [],
): OutboxEntry {
  return {
    client_id: clientId,
    room,
    content,
    created_at: createdAt,
    status: 'sending',
    state: 'sending',
    id: null,
    seq: null,
    sentOn: -1,
    ...(replyTo ? { reply_to: replyTo } : {}),
    ...(attachments.length ? { attachments: [...attachments] } : {}),
  };
}

/** The draft of a `messages` frame that sends message `entry` (its files by id). */
export function draftOf(entry: OutboxEntry): Draft {
  return {
    content: entry.content,
    client_id: entry.client_id,
    room: entry.room,
    ...(entry.reply_to ? { reply_to: entry.reply_to } : {}),
    ...(entry.attachments?.length ? { attachments: entry.attachments.map((a) => a.id) } : {}),
  };
}

/** A change just made, not sent yet. */
export function newChange(clientId: string, room: string, change: ChangeRequest, createdAt: string): ChangeEntry {
  const entry = newEntry(clientId, room, change.kind === 'edit' ? change.content : '', createdAt);
  if (change.kind === 'react')
    return { ...entry, kind: 'react', target: change.target, emoji: change.emoji, on: change.on };
  return { ...entry, kind: change.kind, target: change.target };
}

export function isChange(entry: OutboxEntry): entry is ChangeEntry {
  return entry.kind !== undefined && entry.target !== undefined;
}

/** The frame that sends a change. */
export function changeFrame(entry: ChangeEntry): ClientFrameOf<'edit' | 'delete' | 'react'> {
  const { room, target: id, client_id } = entry;
  switch (entry.kind) {
    case 'edit':
      return { type: 'edit', room, id, content: entry.content, client_id };
    case 'delete':
      return { type: 'delete', room, id, client_id };
    case 'react':
      return { type: 'react', room, id, emoji: entry.emoji ?? '', on: entry.on ?? true, client_id };
  }
}

/** An entry read back from the local store (an earlier visit). */
export function entryFromRecord(record: OutboxRecord): OutboxEntry {
  return { ...record, state: record.status === 'failed' ? 'failed' : 'sending', id: null, seq: null, sentOn: -1 };
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
    ...(entry.retryable ? { retryable: true } : {}),
    ...(entry.kind ? { kind: entry.kind } : {}),
    ...(entry.target ? { target: entry.target } : {}),
    ...(entry.emoji !== undefined ? { emoji: entry.emoji } : {}),
    ...(entry.on !== undefined ? { on: entry.on } : {}),
    ...(entry.reply_to ? { reply_to: entry.reply_to } : {}),
    ...(entry.attachments?.length ? { attachments: entry.attachments } : {}),
  };
}

/**
 * The `messages` frames to send for the messages among `entries` on connection
 * `connection`: those not sent on it yet, in batches of at most `max_batch` (and
 * the burst). Changes go one frame each (`changeFrame`).
 */
export function batchesToSend(
  entries: readonly OutboxEntry[],
  connection: number,
  limits: WireLimits,
): OutboxEntry[][] {
  const pending = entries.filter((e) => !e.kind && e.sentOn !== connection);
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

  /** The changes pending in `room`, by the message they change, each list in the order made. */
  changesIn(room: string): Map<string, ChangeEntry[]> {
    const byTarget = new Map<string, ChangeEntry[]>();
    for (const entry of this.entries.values()) {
      if (entry.room !== room || !isChange(entry)) continue;
      const list = byTarget.get(entry.target);
      if (list) list.push(entry);
      else byTarget.set(entry.target, [entry]);
    }
    return byTarget;
  }

  /** Adds `entry`; `persist` also writes it to the local store (not needed when it came from there). */
  add(entry: OutboxEntry, persist = true): void {
    this.entries.set(entry.client_id, entry);
    if (persist) this.persist(entry);
  }

  /** Your stored message arrived: its optimistic copy is done (by `client_id` or, once acked, by id). */
  settle(clientId: string | null | undefined, id: string): void {
    const byClientId = clientId ? this.entries.get(clientId) : undefined;
    if (byClientId && !byClientId.kind) this.drop(byClientId);
    for (const entry of this.entries.values()) if (!entry.kind && entry.id === id) this.drop(entry);
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

  /**
   * The server took a change: stored as the event at `seq`, or (`seq` null)
   * nothing to store, the message being so already. `shown`: the event has been
   * applied already (or never will be: its message is not held), so the entry
   * goes; otherwise it stays as `sent`, its optimistic effect still shown, until
   * the event arrives.
   */
  acknowledgeChange(entry: OutboxEntry, seq: number | null, shown: boolean): void {
    void this.store.deleteOutbox(entry.client_id).catch(() => {});
    if (seq === null || shown) {
      this.entries.delete(entry.client_id);
    } else {
      entry.state = 'sent';
      entry.seq = seq;
    }
  }

  /** Your change's event arrived (its `client_id`): its optimistic copy is done. */
  settleChange(clientId: string): void {
    const entry = this.entries.get(clientId);
    if (entry?.kind) this.drop(entry);
  }

  /** History up to `seq` of `room` is accounted for: acked changes at or below it are in it. */
  settleCovered(room: string, seq: number): boolean {
    let settled = false;
    for (const entry of this.entries.values()) {
      if (entry.room === room && entry.kind && entry.state === 'sent' && entry.seq !== null && entry.seq <= seq) {
        this.drop(entry);
        settled = true;
      }
    }
    return settled;
  }

  /** The server refused it, for `reason`; `retryable`: the same entry may pass later. */
  refuse(entry: OutboxEntry, reason: string, retryable = false): void {
    entry.state = 'failed';
    entry.status = 'failed';
    entry.error = reason;
    if (retryable) entry.retryable = true;
    else delete entry.retryable;
    this.persist(entry);
  }

  /** A failed entry goes back to `sending`, to be sent again with the same `client_id`. */
  retry(clientId: string): OutboxEntry | null {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state !== 'failed') return null;
    entry.state = 'sending';
    entry.status = 'sending';
    delete entry.error;
    delete entry.retryable;
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

  /** Drops an entry whatever its state: a change refused for good, or one of a room left. */
  remove(entry: OutboxEntry): void {
    this.drop(entry);
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
