/**
 * The account API: sign up and sign in (`/v1/auth/*`), the profile (`/v1/me`)
 * and the devices signed in (`/v1/me/sessions`), with the rules the server
 * holds a password to, so a form can say "no" before sending.
 *
 * The session is an HttpOnly cookie (`whisper_session`) that the server sets
 * and the browser keeps: the client never sees it, it only sends every request
 * with `credentials: 'same-origin'` (and the WebSocket upgrade carries it by
 * itself). The wire types are defined here, not generated from Rust.
 */
import { ApiError, requestJson, type Fetch } from './http';

/** `POST /v1/auth/register`. */
export interface RegisterRequest {
  email: string;
  password: string;
  name: string;
  /** The guest's token: the account keeps the guest's user id, and so everything it posted. */
  guest_token?: string;
}

/** `POST /v1/auth/login`. */
export interface LoginRequest {
  email: string;
  password: string;
}

/** What register and login answer (the session itself is in the cookie). */
export interface AuthResponse {
  user_id: string;
  name: string;
  email: string;
  session_id: string;
}

/** `GET /v1/me` and `PATCH /v1/me`. */
export interface MeResponse {
  user_id: string;
  name: string;
  email: string;
  /** Ms since the epoch. */
  created_at: number;
}

/** One device signed in to the account (`GET /v1/me/sessions`); times in ms since the epoch. */
export interface DeviceSession {
  id: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  user_agent: string | null;
  /** The session of the request: this device. */
  current: boolean;
}

export interface SessionList {
  sessions: DeviceSession[];
}

/** The codes the account API refuses with, beyond the generic ones (`network`, `internal`…). */
export type AccountErrorCode =
  | 'invalid_request'
  | 'weak_password'
  | 'email_taken'
  | 'name_taken'
  | 'invalid_credentials'
  | 'rate_limited'
  | 'unauthorized'
  | 'not_found';

/** An account as the client keeps it between visits and shows it. */
export interface Account {
  userId: string;
  name: string;
  email: string;
}

export function accountOf(wire: { user_id: string; name: string; email: string }): Account {
  return { userId: wire.user_id, name: wire.name, email: wire.email };
}

/** The server's password rule: at least this many characters. */
export const PASSWORD_MIN_CHARS = 10;

/** The rule as people read it, under the password field. */
export const PASSWORD_RULE = `At least ${PASSWORD_MIN_CHARS} characters, and not your email or name.`;

/**
 * Checks a new password as the server will (`weak_password`): at least 10
 * characters, and not the email or the name. Returns why not, or `null`.
 */
export function checkPassword(password: string, others: { email: string; name: string }): string | null {
  if ([...password].length < PASSWORD_MIN_CHARS) return `Use at least ${PASSWORD_MIN_CHARS} characters.`;
  const same = (other: string) => other.trim() !== '' && password.trim().toLowerCase() === other.trim().toLowerCase();
  if (same(others.email)) return 'Do not use your email as the password.';
  if (same(others.name)) return 'Do not use your name as the password.';
  return null;
}

export class AccountsApi {
  private readonly baseUrl: string;
  private readonly fetchImpl: Fetch;

  /** `baseUrl` is the server's origin (`http://127.0.0.1:8080`), or `''` for the page's own. */
  constructor(baseUrl = '', fetchImpl?: Fetch) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    // Looked up per call, so tests can stub the global after construction.
    this.fetchImpl = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Creates an account and signs this browser in to it (201, the cookie set). */
  async register(request: RegisterRequest): Promise<AuthResponse> {
    return checked(await this.call<AuthResponse>('POST', '/v1/auth/register', request));
  }

  /** Signs this browser in (the cookie set). A wrong password and an unknown email are the same 401. */
  async login(request: LoginRequest): Promise<AuthResponse> {
    return checked(await this.call<AuthResponse>('POST', '/v1/auth/login', request));
  }

  /** Signs this browser out: the session is revoked and the cookie cleared (204). */
  async logout(): Promise<void> {
    await this.call<void>('POST', '/v1/auth/logout');
  }

  /** The account this browser is signed in to, or `null` for a guest (401). */
  async me(signal?: AbortSignal): Promise<MeResponse | null> {
    try {
      return checked(await this.call<MeResponse>('GET', '/v1/me', undefined, signal));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return null;
      throw e;
    }
  }

  /** Renames the account; the server renames its live connections itself. */
  async updateMe(change: { name: string }): Promise<MeResponse> {
    return checked(await this.call<MeResponse>('PATCH', '/v1/me', change));
  }

  /** Every device signed in to the account, this one marked `current`. */
  async sessions(): Promise<DeviceSession[]> {
    const list = await this.call<SessionList>('GET', '/v1/me/sessions');
    if (!Array.isArray(list?.sessions)) throw new ApiError(0, 'bad_response', 'the session list has no sessions');
    return list.sessions;
  }

  /** Signs the device of session `id` out (its WebSockets close with 4001). */
  async revokeSession(id: string): Promise<void> {
    await this.call<void>('DELETE', `/v1/me/sessions/${encodeURIComponent(id)}`);
  }

  private call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal) {
    return requestJson<T>(this.fetchImpl, `${this.baseUrl}${path}`, {
      method,
      credentials: 'same-origin',
      ...(method === 'GET' ? { cache: 'no-store' as const } : {}),
      ...(body !== undefined ? { body } : {}),
      ...(signal ? { signal } : {}),
    });
  }
}

/** An account answer must name the user: anything else is not the API this client knows. */
function checked<T extends { user_id: string }>(value: T): T {
  if (typeof value?.user_id !== 'string') throw new ApiError(0, 'bad_response', 'the answer has no user id');
  return value;
}
