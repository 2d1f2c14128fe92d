import { describe, expect, it, vi } from 'vitest';
import { AccountsApi, PASSWORD_RULE, checkPassword } from '../../src/core/accounts';
import { describeAccountError, describeSignedOut } from '../../src/core/describe';
import { ApiError, retryAfterMs } from '../../src/core/http';
import { ORIGIN } from '../helpers/fixtures';

/** A `fetch` that answers each call with the next response, and keeps what it was asked. */
function fetchAnswering(...responses: (() => Response)[]) {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const fetchImpl = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), init });
    const next = responses.shift();
    if (!next) throw new Error('no more responses');
    return next();
  });
  return { api: new AccountsApi(ORIGIN, fetchImpl as unknown as typeof fetch), calls };
}

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}) {
  return () =>
    new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

function noContent() {
  return () => new Response(null, { status: 204 });
}

function refused(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return jsonResponse(status, { error: { code, message } }, headers);
}

const ADA = { user_id: '00000000-0000-4000-8000-000000000001', name: 'Ada', email: 'ada@example.com' };

describe('AccountsApi', () => {
  it('registers with a JSON body, the guest token and the cookie sent along, and answers typed', async () => {
    const { api, calls } = fetchAnswering(jsonResponse(201, { ...ADA, session_id: 's-1' }));
    const res = await api.register({
      email: 'ada@example.com',
      password: 'analytical engine',
      name: 'Ada',
      guest_token: 'guest-tok',
    });
    expect(res).toEqual({ ...ADA, session_id: 's-1' });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe(`${ORIGIN}/v1/auth/register`);
    expect(calls[0]?.init).toMatchObject({
      method: 'POST',
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    });
    expect(JSON.parse(String(calls[0]?.init?.body))).toEqual({
      email: 'ada@example.com',
      password: 'analytical engine',
      name: 'Ada',
      guest_token: 'guest-tok',
    });
  });

  it('turns each refusal into an ApiError with the status, the code and the server sentence', async () => {
    const { api } = fetchAnswering(
      refused(409, 'email_taken', 'an account with that email exists'),
      refused(409, 'name_taken', 'that name is taken'),
      refused(400, 'weak_password', 'the password needs at least 10 characters'),
      refused(400, 'invalid_request', 'email: at most 254 characters'),
      refused(401, 'invalid_credentials', 'the email or the password is wrong'),
    );
    const body = { email: 'ada@example.com', password: 'analytical engine', name: 'Ada' };
    await expect(api.register(body)).rejects.toMatchObject({ status: 409, code: 'email_taken' });
    await expect(api.register(body)).rejects.toMatchObject({ status: 409, code: 'name_taken' });
    await expect(api.register(body)).rejects.toMatchObject({ status: 400, code: 'weak_password' });
    await expect(api.register(body)).rejects.toMatchObject({
      status: 400,
      code: 'invalid_request',
      message: 'email: at most 254 characters',
    });
    const error = await api.login({ email: 'ada@example.com', password: 'nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: 'invalid_credentials', retryAfterMs: null });
  });

  it('reads Retry-After of a 429 as milliseconds', async () => {
    const { api } = fetchAnswering(refused(429, 'rate_limited', 'too many attempts', { 'Retry-After': '30' }));
    await expect(api.login({ email: 'a@b.c', password: 'whatever123' })).rejects.toMatchObject({
      status: 429,
      code: 'rate_limited',
      retryAfterMs: 30_000,
    });
    expect(retryAfterMs('Wed, 21 Oct 2026 07:28:30 GMT', Date.parse('Wed, 21 Oct 2026 07:28:00 GMT'))).toBe(30_000);
    expect(retryAfterMs('soon')).toBeNull();
  });

  it('logs in and out; logout answers 204 with nothing to read', async () => {
    const { api, calls } = fetchAnswering(jsonResponse(200, { ...ADA, session_id: 's-2' }), noContent());
    await expect(api.login({ email: 'ada@example.com', password: 'analytical engine' })).resolves.toMatchObject(ADA);
    await expect(api.logout()).resolves.toBeUndefined();
    expect(calls.map((c) => [c.init?.method, new URL(c.url).pathname])).toEqual([
      ['POST', '/v1/auth/login'],
      ['POST', '/v1/auth/logout'],
    ]);
    expect(calls[1]?.init?.body).toBeUndefined();
  });

  it('asks who is signed in, uncached: the account, or null for a guest (401)', async () => {
    const { api, calls } = fetchAnswering(
      jsonResponse(200, { ...ADA, created_at: 1_764_000_000_000 }),
      refused(401, 'unauthorized', 'not signed in'),
      refused(500, 'internal', 'oops'),
    );
    await expect(api.me()).resolves.toEqual({ ...ADA, created_at: 1_764_000_000_000 });
    await expect(api.me()).resolves.toBeNull();
    await expect(api.me()).rejects.toMatchObject({ status: 500, code: 'internal' });
    expect(calls[0]?.init).toMatchObject({ credentials: 'same-origin', cache: 'no-store' });
    expect(calls[0]?.init?.method).toBeUndefined(); // a GET
  });

  it('renames with PATCH /v1/me', async () => {
    const { api, calls } = fetchAnswering(
      jsonResponse(200, { ...ADA, name: 'Ada L', created_at: 1 }),
      refused(409, 'name_taken', 'that name is taken'),
    );
    await expect(api.updateMe({ name: 'Ada L' })).resolves.toMatchObject({ name: 'Ada L' });
    await expect(api.updateMe({ name: 'Bob' })).rejects.toMatchObject({ code: 'name_taken' });
    expect(calls[0]?.init?.method).toBe('PATCH');
    expect(JSON.parse(String(calls[0]?.init?.body))).toEqual({ name: 'Ada L' });
  });

  it('lists the devices signed in, and revokes one by id (404 when gone)', async () => {
    const session = {
      id: 'sess/1',
      created_at: 1,
      last_used_at: 2,
      expires_at: 3,
      user_agent: null,
      current: true,
    };
    const { api, calls } = fetchAnswering(
      jsonResponse(200, { sessions: [session] }),
      noContent(),
      refused(404, 'not_found', 'no such session'),
    );
    await expect(api.sessions()).resolves.toEqual([session]);
    await expect(api.revokeSession('sess/1')).resolves.toBeUndefined();
    await expect(api.revokeSession('gone')).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect(calls.map((c) => `${c.init?.method ?? 'GET'} ${new URL(c.url).pathname}`)).toEqual([
      'GET /v1/me/sessions',
      'DELETE /v1/me/sessions/sess%2F1',
      'DELETE /v1/me/sessions/gone',
    ]);
  });

  it('reports an unreachable server as code "network", and an answer it does not know as bad_response', async () => {
    const { api } = fetchAnswering(
      () => {
        throw new TypeError('Failed to fetch');
      },
      jsonResponse(200, { hello: 'world' }),
      () => new Response('<html>', { status: 200 }),
    );
    await expect(api.me()).rejects.toMatchObject({ status: 0, code: 'network' });
    await expect(api.me()).rejects.toMatchObject({ code: 'bad_response' });
    await expect(api.sessions()).rejects.toMatchObject({ code: 'bad_response' });
  });
});

describe('checkPassword', () => {
  it('holds a new password to the server rule: 10 characters, not the email or name', () => {
    expect(PASSWORD_RULE).toBe('At least 10 characters, and not your email or name.');
    const who = { email: 'ada@example.com', name: 'Ada Lovelace' };
    expect(checkPassword('short', who)).toBe('Use at least 10 characters.');
    expect(checkPassword('ADA@example.com', who)).toBe('Do not use your email as the password.');
    expect(checkPassword('ada lovelace', who)).toBe('Do not use your name as the password.');
    expect(checkPassword('analytical engine', who)).toBeNull();
    // Characters, not UTF-16 units: ten emoji are ten characters.
    expect(checkPassword('🔑'.repeat(9), who)).toBe('Use at least 10 characters.');
    expect(checkPassword('🔑'.repeat(10), who)).toBeNull();
  });
});

describe('describeAccountError', () => {
  it('shows the server sentence under the field it is about', () => {
    expect(describeAccountError(new ApiError(409, 'email_taken', 'an account with that email exists'))).toEqual({
      code: 'email_taken',
      field: 'email',
      message: 'An account with that email exists.',
    });
    expect(describeAccountError(new ApiError(409, 'name_taken', 'That name is taken.'))).toMatchObject({
      field: 'name',
      message: 'That name is taken.',
    });
    expect(describeAccountError(new ApiError(400, 'weak_password', 'too short'))).toMatchObject({ field: 'password' });
    expect(describeAccountError(new ApiError(400, 'invalid_request', 'password: at most 1024 bytes'))).toMatchObject({
      field: 'password',
    });
    expect(describeAccountError(new ApiError(400, 'invalid_request', 'guest_token: not valid'))).toMatchObject({
      field: null,
    });
    expect(describeAccountError(new ApiError(401, 'invalid_credentials', 'wrong email or password'))).toMatchObject({
      field: null,
      message: 'Wrong email or password.',
    });
  });

  it('says how long to wait after a 429, and what an unreachable server means', () => {
    expect(describeAccountError(new ApiError(429, 'rate_limited', 'too many attempts', 30_000)).message).toBe(
      'Too many attempts. Try again in 30 seconds.',
    );
    expect(describeAccountError(new ApiError(0, 'network', 'Failed to fetch')).message).toBe(
      'Could not reach the server. Check your connection and try again.',
    );
    expect(describeAccountError(new Error('?')).message).toBe('Something went wrong. Try again.');
  });

  it('says why you were signed out', () => {
    expect(describeSignedOut(null)).toBe('You were signed out.');
    expect(describeSignedOut('the session was revoked')).toBe('You were signed out: the session was revoked.');
  });
});
