/**
 * JSON over HTTP to whisper-server: one request, and the server's error body
 * (`{"error":{"code","message"}}`, docs/protocol.md §11, or the flat
 * `{"error":"<code>","message","details"}` of the rooms API) as an `ApiError`,
 * so that `history.ts`, `accounts.ts` and `rooms-api.ts` read answers and
 * refusals the same way.
 */
import type { HttpError } from './protocol';

/** A refused or failed request, with the server's code when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** How long the server asked to wait before trying again (a 429's `Retry-After`), when it said. */
  readonly retryAfterMs: number | null;
  /** Each problem the server found (`members[1]: no such account`), when it listed them. */
  readonly details: readonly string[];

  constructor(
    status: number,
    code: string,
    message: string,
    retryAfterMs: number | null = null,
    details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
    this.details = details;
  }
}

export type Fetch = typeof fetch;

export interface JsonRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
  /** `same-origin` for the account API: the session cookie goes with it. */
  credentials?: RequestCredentials;
  cache?: RequestCache;
}

/**
 * Sends one request and reads the JSON it answers (`undefined` for a 204).
 * Throws `ApiError`: the server's code and sentence when it refused, `network`
 * when it could not be reached, `bad_response` when the answer is not JSON.
 */
export async function requestJson<T>(fetchImpl: Fetch, url: string, request: JsonRequest = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (request.body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetchImpl(url, {
      headers,
      ...(request.method && request.method !== 'GET' ? { method: request.method } : {}),
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
      ...(request.credentials ? { credentials: request.credentials } : {}),
      ...(request.cache ? { cache: request.cache } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : 'the server could not be reached');
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as unknown;
    const error = errorOf(body);
    throw new ApiError(
      res.status,
      error.code ?? 'http_error',
      error.message ?? `HTTP ${res.status}`,
      retryAfterMs(res.headers?.get('Retry-After') ?? null),
      error.details,
    );
  }
  if (res.status === 204) return undefined as T;
  try {
    return (await res.json()) as T;
  } catch {
    throw new ApiError(res.status, 'bad_response', 'the server did not answer with JSON');
  }
}

/** The code, sentence and details of an error body, nested (`{"error":{…}}`) or flat (`{"error":"code",…}`). */
export function errorOf(body: unknown): { code?: string; message?: string; details: string[] } {
  if (typeof body !== 'object' || body === null) return { details: [] };
  const outer = body as { error?: unknown; message?: unknown; details?: unknown };
  const nested =
    typeof outer.error === 'object' && outer.error !== null
      ? (outer.error as Partial<HttpError['error']> & { details?: unknown })
      : null;
  const code = nested ? nested.code : typeof outer.error === 'string' ? outer.error : undefined;
  const message = nested ? nested.message : outer.message;
  const details = nested ? nested.details : outer.details;
  return {
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof message === 'string' ? { message } : {}),
    details: Array.isArray(details) ? details.filter((d): d is string => typeof d === 'string') : [],
  };
}

/** A `Retry-After` header (seconds, or an HTTP date) in milliseconds from now. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
