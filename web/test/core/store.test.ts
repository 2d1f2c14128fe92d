import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { IndexedDbStore, MemoryStore, type LocalStore } from '../../src/core/store';
import { message } from '../helpers/fixtures';
import { attachment } from '../helpers/uploads';

async function roundTrip(make: () => Promise<LocalStore>) {
  const store = await make();
  await store.saveRoom({
    room: 'lobby',
    epoch: 7,
    contiguousSeq: 2,
    readSeq: 1,
    messages: [message('lobby', 1), message('lobby', 2)],
  });
  await store.saveDraft('lobby', 'half a thought');
  await store.saveDraft('other', 'x');
  await store.saveDraft('other', '');
  await store.saveOutbox({
    client_id: 'c2',
    room: 'lobby',
    content: 'b',
    created_at: '2026-01-01T00:00:02.000Z',
    status: 'sending',
  });
  await store.saveOutbox({
    client_id: 'c1',
    room: 'lobby',
    content: 'a',
    created_at: '2026-01-01T00:00:01.000Z',
    status: 'failed',
    error: 'nope',
  });
  await store.saveOutbox({
    client_id: 'c3',
    room: 'lobby',
    content: 'c',
    created_at: '2026-01-01T00:00:03.000Z',
    status: 'sending',
  });
  await store.deleteOutbox('c3');
  return store.load();
}

describe.each([
  ['IndexedDB', () => IndexedDbStore.open(new IDBFactory())],
  ['memory', () => Promise.resolve(new MemoryStore())],
])('%s store', (_name, make) => {
  it('keeps room caches, drafts and the outbox', async () => {
    const local = await roundTrip(make);
    expect(local.rooms).toHaveLength(1);
    expect(local.rooms[0]).toMatchObject({ room: 'lobby', epoch: 7, contiguousSeq: 2, readSeq: 1 });
    expect(local.rooms[0]?.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(local.drafts).toEqual({ lobby: 'half a thought' });
    expect(local.outbox.map((o) => o.client_id).sort()).toEqual(['c1', 'c2']);
    expect(local.outbox.find((o) => o.client_id === 'c1')).toMatchObject({ status: 'failed', error: 'nope' });
  });
});

describe.each([
  ['IndexedDB', () => IndexedDbStore.open(new IDBFactory())],
  ['memory', () => Promise.resolve(new MemoryStore())],
])('%s store, drafts with files', (_name, make) => {
  it('keeps the files uploaded for a draft, with or without text, and forgets them with it', async () => {
    const store = await make();
    const cat = attachment({ id: '01CAT' });
    const pdf = attachment({ id: '01PDF', name: 'notes.pdf', type: 'application/pdf', thumb: undefined });
    await store.saveDraft('lobby', 'see these', [cat, pdf]);
    await store.saveDraft('random', '', [cat]);
    await store.saveDraft('other', 'text only');
    let local = await store.load();
    expect(local.drafts).toEqual({ lobby: 'see these', other: 'text only' });
    expect(local.draftFiles).toEqual({ lobby: [cat, pdf], random: [cat] });

    await store.saveDraft('lobby', 'see these');
    await store.saveDraft('random', '', []);
    local = await store.load();
    expect(local.drafts).toEqual({ lobby: 'see these', other: 'text only' });
    expect(local.draftFiles ?? {}).toEqual({});
  });

  it('keeps the files of a message in the outbox', async () => {
    const store = await make();
    const cat = attachment({ id: '01CAT' });
    await store.saveOutbox({
      client_id: 'c1',
      room: 'lobby',
      content: '',
      created_at: '2026-01-01T00:00:01.000Z',
      status: 'sending',
      attachments: [cat],
    });
    expect((await store.load()).outbox[0]?.attachments).toEqual([cat]);
  });
});

describe('IndexedDbStore', () => {
  it('survives closing and reopening the database (a reload)', async () => {
    const factory = new IDBFactory();
    const first = await IndexedDbStore.open(factory);
    await first.saveDraft('lobby', 'still here');
    const second = await IndexedDbStore.open(factory);
    expect((await second.load()).drafts).toEqual({ lobby: 'still here' });
  });
});
