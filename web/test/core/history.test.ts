import { describe, expect, it, vi } from 'vitest';
import { ApiError, HistoryApi } from '../../src/core/history';
import { FakeHistory, message, ORIGIN } from '../helpers/fixtures';

describe('HistoryApi', () => {
  it('asks for the latest page, before_seq and after_seq pages', async () => {
    const history = new FakeHistory();
    history.add('lobby', ...Array.from({ length: 120 }, (_, i) => message('lobby', i + 1)));
    const api = new HistoryApi(ORIGIN, history.fetch as unknown as typeof fetch);

    const latest = await api.messages({ room: 'lobby' });
    expect(latest.data.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 71 + i));
    expect(latest.has_more).toBe(true);

    const older = await api.messages({ room: 'lobby', beforeSeq: 71, limit: 100 });
    expect(older.data[0]?.seq).toBe(1);
    expect(older.has_more).toBe(false);

    const newer = await api.messages({ room: 'lobby', afterSeq: 110, limit: 5 });
    expect(newer.data.map((m) => m.seq)).toEqual([111, 112, 113, 114, 115]);

    expect(history.requests.map((u) => u.search)).toEqual([
      '?room=lobby',
      '?room=lobby&before_seq=71&limit=100',
      '?room=lobby&after_seq=110&limit=5',
    ]);
  });

  it('pages the room directory by name with after and limit', async () => {
    const history = new FakeHistory();
    for (const name of ['zulu', 'acme/general', 'lobby']) history.add(name, message(name, 1));
    const api = new HistoryApi(ORIGIN, history.fetch as unknown as typeof fetch);

    const first = await api.rooms({ limit: 2 });
    expect(first.rooms.map((r) => r.name)).toEqual(['acme/general', 'lobby']);
    expect([first.has_more, first.next]).toEqual([true, 'lobby']);
    const rest = await api.rooms({ after: first.next ?? undefined, limit: 2 });
    expect(rest.rooms.map((r) => r.name)).toEqual(['zulu']);
    expect([rest.has_more, rest.next]).toEqual([false, null]);
    await api.rooms();

    expect(history.requests.map((u) => u.search)).toEqual(['?limit=2', '?after=lobby&limit=2', '']);
  });

  it('turns the server JSON error into an ApiError with its code', async () => {
    const fetchImpl = vi.fn(async () => ({
      ok: false,
      status: 400,
      json: async () => ({ error: { code: 'invalid_request', message: 'room: must not be empty' } }),
    }));
    const api = new HistoryApi(ORIGIN, fetchImpl as unknown as typeof fetch);
    const error = await api.messages({ room: '' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_request', message: 'room: must not be empty' });
  });

  it('reports a network failure as code "network", and the server as unreachable', async () => {
    const history = new FakeHistory();
    history.down = true;
    const api = new HistoryApi(ORIGIN, history.fetch as unknown as typeof fetch);
    await expect(api.rooms()).rejects.toMatchObject({ code: 'network' });
    await expect(api.reachable()).resolves.toBe(false);
  });
});
