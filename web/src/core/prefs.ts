/**
 * Small settings kept in `localStorage`: the guest identity (user id, server
 * token, display name), the account signed in to (its user id, name and email:
 * the session itself is an HttpOnly cookie), the rooms in the sidebar (the
 * guest's, and each account's), and the theme. Falls back to memory where
 * storage is refused.
 */
import type { Account } from './accounts';

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

/** Who this browser is to the server: a guest's (kept here), or an account's (from the account). */
export interface Identity {
  userId: string | null;
  token: string | null;
  name: string | null;
}

const IDENTITY_KEY = 'whisperchat.identity';
const ACCOUNT_KEY = 'whisperchat.account';
const ROOMS_KEY = 'whisperchat.rooms';

/** The room list's key: the guest's is the one there always was; an account's has its user id. */
function roomsKey(owner: string | null): string {
  return owner === null ? ROOMS_KEY : `${ROOMS_KEY}.${owner}`;
}

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

/** Forgets the guest identity (it became an account): the next guest is a new one. */
export function clearIdentity(kv: KeyValue): void {
  kv.set(IDENTITY_KEY, null);
}

/**
 * The account this browser was signed in to on its last visit: which local
 * store to read and how to connect while `GET /v1/me` has not answered (or,
 * offline, cannot).
 */
export function loadAccount(kv: KeyValue): Account | null {
  const raw = kv.get(ACCOUNT_KEY);
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<Account>;
    if (typeof v.userId !== 'string' || !v.userId) return null;
    return {
      userId: v.userId,
      name: typeof v.name === 'string' ? v.name : '',
      email: typeof v.email === 'string' ? v.email : '',
    };
  } catch {
    return null;
  }
}

export function saveAccount(kv: KeyValue, account: Account | null): void {
  kv.set(ACCOUNT_KEY, account ? JSON.stringify(account) : null);
}

/** The sidebar's rooms of `owner`: the guest (`null`) or an account's user id. */
export function loadRoomList(kv: KeyValue, owner: string | null = null): string[] | null {
  const raw = kv.get(roomsKey(owner));
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? v.filter((r): r is string => typeof r === 'string') : null;
  } catch {
    return null;
  }
}

/** Saves `owner`'s rooms; `null` forgets them. */
export function saveRoomList(kv: KeyValue, rooms: readonly string[] | null, owner: string | null = null): void {
  kv.set(roomsKey(owner), rooms ? JSON.stringify(rooms) : null);
}
