import { describe, expect, it } from 'vitest';
import { Outbox, batchesToSend, entryFromRecord, newEntry, recordOf } from '../../src/core/outbox';
import { DEFAULT_LIMITS } from '../../src/core/protocol';
import { MemoryStore } from '../../src/core/store';

const AT = '2026-01-01T00:00:00.000Z';

describe('outbox entries', () => {
  it('round-trips through the record the local store keeps', () => {
    const entry = newEntry('c1', 'lobby', 'hi', AT);
    expect(entry).toMatchObject({ state: 'sending', status: 'sending', id: null, sentOn: -1 });
    expect(recordOf(entry)).toEqual({
      client_id: 'c1',
      room: 'lobby',
      content: 'hi',
      created_at: AT,
      status: 'sending',
    });
    const failed = entryFromRecord({ ...recordOf(entry), status: 'failed', error: 'nope' });
    expect(failed).toMatchObject({ state: 'failed', error: 'nope', sentOn: -1 });
    expect(recordOf(failed)).toMatchObject({ status: 'failed', error: 'nope' });
  });

  it('batches what was not sent on this connection yet', () => {
    const entries = ['a', 'b', 'c', 'd', 'e'].map((id) => newEntry(id, 'lobby', id, AT));
    entries[1]!.sentOn = 3;
    const limits = { ...DEFAULT_LIMITS, max_batch: 2, message_burst: 10 };
    expect(batchesToSend(entries, 3, limits).map((b) => b.map((e) => e.client_id))).toEqual([
      ['a', 'c'],
      ['d', 'e'],
    ]);
    expect(batchesToSend(entries, 4, { ...limits, message_burst: 0 })).toHaveLength(5);
  });
});

describe('Outbox', () => {
  it('persists, refuses, retries with the same client_id and discards', () => {
    const store = new MemoryStore();
    const outbox = new Outbox(store);
    outbox.add(newEntry('c1', 'lobby', 'hi', AT));
    expect(store.outbox.get('c1')?.status).toBe('sending');
    const entry = outbox.get('c1')!;
    outbox.refuse(entry, 'Too fast.');
    expect(store.outbox.get('c1')).toMatchObject({ status: 'failed', error: 'Too fast.' });
    expect(outbox.retry('c1')).toBe(entry);
    expect(entry).toMatchObject({ state: 'sending', client_id: 'c1', sentOn: -1 });
    expect(entry.error).toBeUndefined();
    expect(outbox.retry('c1')).toBeNull();
    expect(outbox.discard('c1')).toBeNull();
    outbox.refuse(entry, 'again');
    expect(outbox.discard('c1')).toBe(entry);
    expect(outbox.has('c1')).toBe(false);
    expect(store.outbox.has('c1')).toBe(false);
  });

  it('keeps an acked entry as sent until the stored message arrives, by client_id or id', () => {
    const store = new MemoryStore();
    const outbox = new Outbox(store);
    outbox.add(newEntry('c1', 'lobby', 'a', AT));
    outbox.add(newEntry('c2', 'lobby', 'b', AT));
    outbox.add(newEntry('c3', 'lobby', 'c', AT));
    outbox.acknowledge(outbox.get('c1')!, 'id1', false);
    expect(outbox.get('c1')).toMatchObject({ state: 'sent', id: 'id1' });
    expect(store.outbox.has('c1')).toBe(false);
    outbox.acknowledge(outbox.get('c2')!, 'id2', true);
    expect(outbox.has('c2')).toBe(false);
    outbox.settle(undefined, 'id1');
    expect(outbox.has('c1')).toBe(false);
    outbox.settle('c3', 'other');
    expect([...outbox.values()]).toEqual([]);
  });
});
