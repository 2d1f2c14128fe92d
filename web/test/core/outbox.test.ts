import { describe, expect, it } from 'vitest';
import {
  Outbox,
  batchesToSend,
  changeFrame,
  draftOf,
  entryFromRecord,
  isChange,
  newChange,
  newEntry,
  recordOf,
} from '../../src/core/outbox';
import { DEFAULT_LIMITS } from '../../src/core/protocol';
import { MemoryStore } from '../../src/core/store';
import { attachment } from '../helpers/uploads';

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

  it('keeps the files of a message whole, and sends them by id', () => {
    const cat = attachment({ id: '01CAT' });
    const entry = newEntry('c1', 'lobby', '', AT, undefined, [cat]);
    expect(recordOf(entry)).toMatchObject({ content: '', attachments: [cat] });
    expect(entryFromRecord(recordOf(entry)).attachments).toEqual([cat]);
    expect(draftOf(entry)).toEqual({ content: '', client_id: 'c1', room: 'lobby', attachments: ['01CAT'] });
    // None: the draft says nothing of files, as before there were any.
    expect(draftOf(newEntry('c2', 'lobby', 'hi', AT, 'R1'))).toEqual({
      content: 'hi',
      client_id: 'c2',
      room: 'lobby',
      reply_to: 'R1',
    });
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

  it('remembers, across a reload, that a refusal may pass, until the entry is sent again', () => {
    const store = new MemoryStore();
    const outbox = new Outbox(store);
    outbox.add(newEntry('c1', 'lobby', 'hi', AT));
    const entry = outbox.get('c1')!;
    outbox.refuse(entry, 'Busy.', true);
    expect(store.outbox.get('c1')).toMatchObject({ status: 'failed', retryable: true });
    expect(entryFromRecord(store.outbox.get('c1')!)).toMatchObject({ state: 'failed', retryable: true });
    outbox.retry('c1');
    expect(store.outbox.get('c1')?.retryable).toBeUndefined();
    outbox.refuse(entry, 'Too large.');
    expect(store.outbox.get('c1')?.retryable).toBeUndefined();
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

describe('outbox changes', () => {
  it('keeps edits, deletes and reactions through the local store and sends each as its own frame', () => {
    const edit = newChange('e1', 'lobby', { kind: 'edit', target: 'M1', content: 'new text' }, AT);
    const del = newChange('d1', 'lobby', { kind: 'delete', target: 'M1' }, AT);
    const react = newChange('r1', 'lobby', { kind: 'react', target: 'M2', emoji: '👍', on: false }, AT);
    for (const change of [edit, del, react]) {
      const back = entryFromRecord(recordOf(change));
      expect(isChange(back)).toBe(true);
      expect(back).toEqual(change);
    }
    expect(recordOf(react)).toEqual({
      client_id: 'r1',
      room: 'lobby',
      content: '',
      created_at: AT,
      status: 'sending',
      kind: 'react',
      target: 'M2',
      emoji: '👍',
      on: false,
    });
    expect(changeFrame(edit)).toEqual({ type: 'edit', room: 'lobby', id: 'M1', content: 'new text', client_id: 'e1' });
    expect(changeFrame(del)).toEqual({ type: 'delete', room: 'lobby', id: 'M1', client_id: 'd1' });
    expect(changeFrame(react)).toEqual({
      type: 'react',
      room: 'lobby',
      id: 'M2',
      emoji: '👍',
      on: false,
      client_id: 'r1',
    });
    // A reply is a message: its reply_to is kept too.
    expect(recordOf(newEntry('m1', 'lobby', 'yes', AT, 'M1'))).toMatchObject({ reply_to: 'M1' });
    expect(batchesToSend([edit, newEntry('m1', 'lobby', 'hi', AT), react], 1, DEFAULT_LIMITS)).toEqual([
      [expect.objectContaining({ client_id: 'm1' })],
    ]);
  });

  it('keeps an acked change as sent until its event arrives or history covers its seq', () => {
    const store = new MemoryStore();
    const outbox = new Outbox(store);
    for (const id of ['a', 'b', 'c', 'd']) {
      outbox.add(newChange(id, 'lobby', { kind: 'react', target: 'M1', emoji: '👍', on: true }, AT));
    }
    expect([...outbox.changesIn('lobby').get('M1')!].map((e) => e.client_id)).toEqual(['a', 'b', 'c', 'd']);
    outbox.acknowledgeChange(outbox.get('a')!, 7, false);
    outbox.acknowledgeChange(outbox.get('b')!, 8, false);
    outbox.acknowledgeChange(outbox.get('c')!, null, false); // already so: nothing stored
    expect(outbox.get('a')).toMatchObject({ state: 'sent', seq: 7 });
    expect(outbox.has('c')).toBe(false);
    expect([...store.outbox.keys()]).toEqual(['d']);
    outbox.settleChange('a');
    expect(outbox.has('a')).toBe(false);
    expect(outbox.settleCovered('lobby', 7)).toBe(false);
    expect(outbox.settleCovered('lobby', 8)).toBe(true);
    expect(outbox.has('b')).toBe(false);
    // A message's settle does not touch changes, nor a change's a message.
    outbox.add(newEntry('m', 'lobby', 'hi', AT));
    outbox.settle('d', 'x');
    outbox.settleChange('m');
    expect([...outbox.values()].map((e) => e.client_id)).toEqual(['d', 'm']);
    outbox.remove(outbox.get('d')!);
    expect(store.outbox.has('d')).toBe(false);
  });
});
