/**
 * Small settings kept in `localStorage`: the identity (user id, server token,
 * display name), the rooms in the sidebar, and the theme. Falls back to memory
 * where storage is refused.
 */
export interface KeyValue {
  get(key: string): string | null;
  set(key: string, value: string | null): void;
}

export class MemoryKeyValue implements KeyValue {
  private readonly map = new Map<string, string>();

  get(key: string): string | null {
    return this.map.get(key) ?? null;
  }

  set(key: string, value: string | null): void {
    if (value === null) this.map.delete(key);
    else this.map.set(key, value);
  }
}

export class LocalStorageKeyValue implements KeyValue {
  private readonly storage: Storage;
  private readonly fallback = new MemoryKeyValue();

  constructor(storage: Storage) {
    this.storage = storage;
  }

  get(key: string): string | null {
    try {
      return this.storage.getItem(key);
    } catch {
      return this.fallback.get(key);
    }
  }

  set(key: string, value: string | null): void {
    try {
      if (value === null) this.storage.removeItem(key);
      else this.storage.setItem(key, value);
    } catch {
      this.fallback.set(key, value);
    }
  }
}

/** `localStorage` when there is one, memory otherwise. */
export function browserKeyValue(): KeyValue {
  try {
    if (typeof localStorage !== 'undefined') return new LocalStorageKeyValue(localStorage);
  } catch {
    // Some privacy settings throw on the mere access.
  }
  return new MemoryKeyValue();
}

/** Who this browser is to the server. */
export interface Identity {
  userId: string | null;
  token: string | null;
  name: string | null;
}

const IDENTITY_KEY = 'whisperchat.identity';
const ROOMS_KEY = 'whisperchat.rooms';

export function loadIdentity(kv: KeyValue): Identity {
  const empty: Identity = { userId: null, token: null, name: null };
  const raw = kv.get(IDENTITY_KEY);
  if (!raw) return empty;
  try {
    const v = JSON.parse(raw) as Partial<Identity>;
    return {
      userId: typeof v.userId === 'string' ? v.userId : null,
      token: typeof v.token === 'string' ? v.token : null,
      name: typeof v.name === 'string' ? v.name : null,
    };
  } catch {
    return empty;
  }
}

export function saveIdentity(kv: KeyValue, identity: Identity): void {
  kv.set(IDENTITY_KEY, JSON.stringify(identity));
}

export function loadRoomList(kv: KeyValue): string[] | null {
  const raw = kv.get(ROOMS_KEY);
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? v.filter((r): r is string => typeof r === 'string') : null;
  } catch {
    return null;
  }
}

export function saveRoomList(kv: KeyValue, rooms: readonly string[]): void {
  kv.set(ROOMS_KEY, JSON.stringify(rooms));
}
