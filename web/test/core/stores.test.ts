import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import type { LocalStore, OutboxRecord } from '../../src/core/store';
import {
  BrowserStores,
  MemoryStores,
  SingleStore,
  copyLocal,
  databaseName,
  type LocalStores,
} from '../../src/core/stores';
import { MemoryStore } from '../../src/core/store';
import { message } from '../helpers/fixtures';
import { attachment } from '../helpers/uploads';

const ADA = '00000000-0000-4000-8000-00000000000a';
const BOB = '00000000-0000-4000-8000-00000000000b';

function unsent(clientId: string, content: string): OutboxRecord {
  return { client_id: clientId, room: 'lobby', content, created_at: '2026-01-01T00:00:00.000Z', status: 'sending' };
}

/** What one person leaves behind: a cached room, a draft, an unsent message. */
async function fill(store: LocalStore, who: string) {
  await store.saveRoom({
    room: `room-${who}`,
    epoch: 1,
    contiguousSeq: 1,
    readSeq: 1,
    messages: [message(`room-${who}`, 1, { content: `${who}'s cache` })],
  });
  await store.saveDraft('lobby', `${who}'s draft`);
  await store.saveOutbox(unsent(`c-${who}`, `${who}'s unsent message`));
}

async function contents(store: LocalStore) {
  const local = await store.load();
  return {
    rooms: local.rooms.map((r) => r.room),
    drafts: local.drafts,
    outbox: local.outbox.map((o) => o.content),
  };
}

describe.each([
  ['IndexedDB', () => new BrowserStores(new IDBFactory())],
  ['memory', () => new MemoryStores()],
])('%s stores', (_name, make: () => LocalStores) => {
  it('keeps each person apart: the guest, and each account by user id', async () => {
    const stores = make();
    await fill(stores.open(null), 'guest');
    await fill(stores.open(ADA), 'ada');
    await fill(stores.open(BOB), 'bob');

    expect(await contents(stores.open(ADA))).toEqual({
      rooms: ['room-ada'],
      drafts: { lobby: "ada's draft" },
      outbox: ["ada's unsent message"],
    });
    expect(await contents(stores.open(BOB))).toEqual({
      rooms: ['room-bob'],
      drafts: { lobby: "bob's draft" },
      outbox: ["bob's unsent message"],
    });
    expect((await contents(stores.open(null))).drafts).toEqual({ lobby: "guest's draft" });
    // The same store each time: writes through one handle are read through the next.
    expect(stores.open(ADA)).toBe(stores.open(ADA));
  });

  it('removes one person entirely, and no one else', async () => {
    const stores = make();
    await fill(stores.open(null), 'guest');
    await fill(stores.open(ADA), 'ada');
    await fill(stores.open(BOB), 'bob');

    await stores.remove(ADA);
    expect(await contents(stores.open(ADA))).toEqual({ rooms: [], drafts: {}, outbox: [] });
    expect((await contents(stores.open(BOB))).outbox).toEqual(["bob's unsent message"]);
    expect((await contents(stores.open(null))).outbox).toEqual(["guest's unsent message"]);
  });

  it('copies a guest into the account it became', async () => {
    const stores = make();
    await fill(stores.open(null), 'guest');
    await copyLocal(stores.open(null), stores.open(ADA));
    await stores.remove(null);
    expect(await contents(stores.open(ADA))).toEqual({
      rooms: ['room-guest'],
      drafts: { lobby: "guest's draft" },
      outbox: ["guest's unsent message"],
    });
    expect(await contents(stores.open(null))).toEqual({ rooms: [], drafts: {}, outbox: [] });
  });

  it('copies the files of the drafts too, a draft of files alone included', async () => {
    const stores = make();
    const cat = attachment({ id: '01CAT' });
    await stores.open(null).saveDraft('lobby', 'caption', [cat]);
    await stores.open(null).saveDraft('random', '', [cat]);
    await copyLocal(stores.open(null), stores.open(ADA));
    const local = await stores.open(ADA).load();
    expect(local.drafts).toEqual({ lobby: 'caption' });
    expect(local.draftFiles).toEqual({ lobby: [cat], random: [cat] });
  });
});

describe('BrowserStores', () => {
  it('is one database per person: the guest keeps the old `whisperchat`, an account has its own', async () => {
    expect(databaseName(null)).toBe('whisperchat');
    expect(databaseName(ADA)).toBe(`whisperchat.${ADA}`);
    const factory = new IDBFactory();
    const stores = new BrowserStores(factory);
    await fill(stores.open(ADA), 'ada');
    await stores.open(null).saveDraft('lobby', 'guest');
    expect((await factory.databases()).map((d) => d.name).sort()).toEqual(['whisperchat', `whisperchat.${ADA}`]);

    // A reload: a new BrowserStores on the same browser reads the same databases.
    expect((await contents(new BrowserStores(factory).open(ADA))).drafts).toEqual({ lobby: "ada's draft" });

    await stores.remove(ADA);
    expect((await factory.databases()).map((d) => d.name)).toEqual(['whisperchat']);
    // A write through a handle taken before the removal does not bring the account back.
    const stale = stores.open(BOB);
    await stores.remove(BOB);
    await expect(stale.saveDraft('lobby', 'late')).rejects.toThrow();
    expect((await factory.databases()).map((d) => d.name)).toEqual(['whisperchat']);
  });
});

describe('SingleStore', () => {
  it('shares one store between everyone, and removing clears it', async () => {
    const store = new MemoryStore();
    const stores = new SingleStore(store);
    expect(stores.open()).toBe(store);
    await fill(store, 'anyone');
    await stores.remove();
    expect(await contents(store)).toEqual({ rooms: [], drafts: {}, outbox: [] });
  });
});
