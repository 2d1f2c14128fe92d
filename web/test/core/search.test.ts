import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/core/http';
import type { SearchResults } from '../../src/core/protocol';
import { guessMeta } from '../../src/core/rooms';
import {
  SearchApi,
  SearchSession,
  describeSearchError,
  excerpt,
  markText,
  resultRoomLabel,
  searchPath,
  type TextPart,
} from '../../src/core/search';
import { ORIGIN, message } from '../helpers/fixtures';

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

const joined = (parts: TextPart[]) => parts.map((p) => p.text).join('');
const marked = (parts: TextPart[]) => parts.filter((p) => p.marked).map((p) => p.text);

describe('searchPath', () => {
  it('asks for q, and room, limit and before only when given, encoded so the server reads them back', () => {
    expect(searchPath({ q: 'deploy' })).toBe('/v1/search?q=deploy');
    const path = searchPath({ q: '"dry run" -staging a+b', room: 'acme/general', limit: 20, before: '1234' });
    const params = new URL(path, ORIGIN).searchParams;
    expect(params.get('q')).toBe('"dry run" -staging a+b');
    expect(params.get('room')).toBe('acme/general');
    expect(params.get('limit')).toBe('20');
    expect(params.get('before')).toBe('1234');
    // A space is `+`, a `+` is escaped: the server decodes `+` as a space (query.rs).
    expect(path).toContain('q=%22dry+run%22+-staging+a%2Bb');
    expect(searchPath({ q: 'x', room: null, before: null })).toBe('/v1/search?q=x');
  });
});

describe('SearchApi', () => {
  it('sends the sign-in, asks fresh, and reads the answer', async () => {
    const answer: SearchResults = { results: [{ message: message('lobby', 4), marks: [] }], next: null };
    const fetch = vi.fn(async () => json(200, answer));
    const api = new SearchApi(ORIGIN, fetch as unknown as typeof globalThis.fetch);
    await expect(api.search({ q: 'message', room: 'lobby' })).resolves.toEqual(answer);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe(`${ORIGIN}/v1/search?q=message&room=lobby`);
    expect(init.credentials).toBe('same-origin');
    expect(init.cache).toBe('no-store');
  });

  it('throws the server’s refusal as an ApiError', async () => {
    const fetch = vi.fn(async () =>
      json(400, { error: { code: 'invalid_request', message: 'q: a quoted phrase is not closed: add the closing "' } }),
    );
    const api = new SearchApi(ORIGIN, fetch as unknown as typeof globalThis.fetch);
    const error = await api.search({ q: '"open' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(describeSearchError(error)).toBe('A quoted phrase is not closed: add the closing "');
  });

  it('refuses an answer without results', async () => {
    const api = new SearchApi(ORIGIN, (async () => json(200, { hits: [] })) as unknown as typeof fetch);
    await expect(api.search({ q: 'x' })).rejects.toMatchObject({ code: 'bad_response' });
  });
});

describe('describeSearchError', () => {
  it('says the server’s sentence for a bad query or a room you may not read, and plain words otherwise', () => {
    expect(describeSearchError(new ApiError(400, 'invalid_request', 'q: type a word to search for'))).toBe(
      'Type a word to search for.',
    );
    expect(describeSearchError(new ApiError(403, 'forbidden', 'not a member of room p/abc'))).toBe(
      'Not a member of room p/abc.',
    );
    expect(describeSearchError(new ApiError(0, 'network', 'Failed to fetch'))).toMatch(/Could not reach the server/);
    expect(describeSearchError(new ApiError(429, 'rate_limited', 'slow down', 2500))).toBe(
      'Too many searches at once. Try again in 3 s.',
    );
    expect(describeSearchError(new ApiError(500, 'internal', 'panic at store.rs:12'))).toBe(
      'Search failed. Try again.',
    );
  });
});

describe('markText', () => {
  it('cuts the text at the marks, in UTF-16 code units', () => {
    const parts = markText('deploy again, DEPLOY!', [
      { start: 0, end: 6 },
      { start: 14, end: 20 },
    ]);
    expect(parts).toEqual([
      { text: 'deploy', marked: true },
      { text: ' again, ', marked: false },
      { text: 'DEPLOY', marked: true },
      { text: '!', marked: false },
    ]);
  });

  it('counts an emoji before the mark as two code units, as the server does', () => {
    // 🚀 is U+1F680: one character, two UTF-16 code units. "🚀 ship" → ship at [3, 7).
    const text = '🚀 ship it, 👩‍💻 ship';
    const first = text.indexOf('ship');
    const second = text.lastIndexOf('ship');
    expect(first).toBe(3);
    const parts = markText(text, [
      { start: first, end: first + 4 },
      { start: second, end: second + 4 },
    ]);
    expect(marked(parts)).toEqual(['ship', 'ship']);
    expect(parts[0]).toEqual({ text: '🚀 ', marked: false });
    expect(joined(parts)).toBe(text);
  });

  it('merges overlapping and touching marks, sorts them, and drops empty ones', () => {
    const parts = markText('abcdefgh', [
      { start: 4, end: 6 },
      { start: 1, end: 3 },
      { start: 2, end: 4 },
      { start: 7, end: 7 },
    ]);
    expect(parts).toEqual([
      { text: 'a', marked: false },
      { text: 'bcdef', marked: true },
      { text: 'gh', marked: false },
    ]);
  });

  it('keeps the text whole whatever the marks say: past its end, negative, or inside an emoji', () => {
    expect(markText('short', [{ start: 2, end: 99 }])).toEqual([
      { text: 'sh', marked: false },
      { text: 'ort', marked: true },
    ]);
    expect(markText('short', [{ start: -3, end: 2 }])).toEqual([
      { text: 'sh', marked: true },
      { text: 'ort', marked: false },
    ]);
    // A mark that would cut 🚀 in half takes it whole: no lone surrogate is ever rendered.
    const parts = markText('a🚀b', [{ start: 2, end: 3 }]);
    expect(parts).toEqual([
      { text: 'a', marked: false },
      { text: '🚀', marked: true },
      { text: 'b', marked: false },
    ]);
    expect(markText('plain', [])).toEqual([{ text: 'plain', marked: false }]);
    expect(markText('', [{ start: 0, end: 3 }])).toEqual([]);
  });
});

describe('excerpt', () => {
  it('keeps a short text whole', () => {
    expect(excerpt('deploy now', [{ start: 0, end: 6 }])).toEqual({
      text: 'deploy now',
      marks: [{ start: 0, end: 6 }],
    });
  });

  it('shows a long text from a word shortly before the first mark, its marks moved with it', () => {
    const text = `${'lorem ipsum '.repeat(30)}🚀 deploy friday ${'dolor sit '.repeat(30)}`;
    const at = text.indexOf('deploy');
    const cut = excerpt(text, [{ start: at, end: at + 6 }], 100, 20);
    expect(cut.text.startsWith('…')).toBe(true);
    expect(cut.text.endsWith('…')).toBe(true);
    expect(cut.text.length).toBeLessThanOrEqual(102);
    // Cut at a word's start, never inside one, and shortly before the mark.
    const from = text.indexOf(cut.text.slice(1, -1));
    expect(text[from - 1]).toBe(' ');
    expect(at - from).toBeLessThanOrEqual(20);
    const parts = markText(cut.text, cut.marks);
    expect(parts.filter((p) => p.marked).map((p) => p.text)).toEqual(['deploy']);
  });

  it('drops the marks it cuts off', () => {
    const text = `deploy ${'x '.repeat(200)}deploy`;
    const cut = excerpt(text, [
      { start: 0, end: 6 },
      { start: text.length - 6, end: text.length },
    ]);
    expect(cut.marks).toEqual([{ start: 0, end: 6 }]);
    expect(cut.text.endsWith('…')).toBe(true);
  });
});

describe('resultRoomLabel', () => {
  it('names a room by its title, a direct one by the other person, else #name', () => {
    expect(resultRoomLabel('acme/general', undefined)).toBe('#acme/general');
    expect(resultRoomLabel('plans', { ...guessMeta('plans'), title: 'Launch plans' })).toBe('Launch plans');
    expect(resultRoomLabel('p/abc', { ...guessMeta('p/abc'), title: 'Secret' })).toBe('Secret');
    expect(resultRoomLabel('p/abc', undefined)).toBe('Private room');
    expect(resultRoomLabel('dm/abc', { ...guessMeta('dm/abc'), peer: { user_id: 'u', name: 'Bob' } })).toBe('Bob');
  });
});

/** A fetch whose answers the test gives, one pending request at a time. */
function controlledFetch() {
  const calls: { url: URL; signal: AbortSignal | undefined; answer: (r: Response) => void }[] = [];
  const fetch = vi.fn(
    (input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((resolve, reject) => {
        const signal = init?.signal ?? undefined;
        signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        calls.push({ url: new URL(String(input), ORIGIN), signal, answer: resolve });
      }),
  );
  return { calls, api: new SearchApi(ORIGIN, fetch as unknown as typeof globalThis.fetch) };
}

function results(...contents: string[]): SearchResults {
  return {
    results: contents.map((content, i) => ({ message: message('lobby', i + 1, { content }), marks: [] })),
    next: null,
  };
}

describe('SearchSession', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks once typing pauses for 250 ms, with the query trimmed', async () => {
    vi.useFakeTimers();
    const { calls, api } = controlledFetch();
    const search = new SearchSession(api);
    search.setQuery('d');
    search.setQuery('de');
    await vi.advanceTimersByTimeAsync(200);
    search.setQuery('deploy ');
    expect(search.getSnapshot().status).toBe('loading');
    await vi.advanceTimersByTimeAsync(249);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url.searchParams.get('q')).toBe('deploy');
    expect(calls[0]!.url.searchParams.get('limit')).toBe('20');
    calls[0]!.answer(json(200, results('deploy now')));
    await vi.waitFor(() => expect(search.getSnapshot().status).toBe('ready'));
    expect(search.getSnapshot()).toMatchObject({ answered: 'deploy', hasMore: false, error: null });
    expect(search.getSnapshot().hits.map((h) => h.message.content)).toEqual(['deploy now']);
    search.dispose();
  });

  it('cancels the request of an older query, and never shows its answer over a newer one', async () => {
    vi.useFakeTimers();
    const { calls, api } = controlledFetch();
    const search = new SearchSession(api);
    search.setQuery('dep');
    await vi.advanceTimersByTimeAsync(250);
    search.setQuery('deploy');
    // The request in flight is aborted at once, not when the next one goes.
    expect(calls[0]!.signal?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(250);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.signal?.aborted).toBe(false);
    calls[1]!.answer(json(200, results('deploy it')));
    // The older answer, arriving late (a server that ignored the abort), changes nothing.
    calls[0]!.answer(json(200, results('dep')));
    await vi.waitFor(() => expect(search.getSnapshot().status).toBe('ready'));
    await vi.advanceTimersByTimeAsync(10);
    expect(search.getSnapshot().answered).toBe('deploy');
    expect(search.getSnapshot().hits.map((h) => h.message.content)).toEqual(['deploy it']);
    search.dispose();
  });

  it('an emptied box stops searching and asks nothing', async () => {
    vi.useFakeTimers();
    const { calls, api } = controlledFetch();
    const search = new SearchSession(api);
    search.setQuery('deploy');
    await vi.advanceTimersByTimeAsync(250);
    search.setQuery('   ');
    expect(calls[0]!.signal?.aborted).toBe(true);
    expect(search.getSnapshot()).toMatchObject({ status: 'idle', hits: [], error: null });
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(1);
    search.dispose();
  });

  it('keeps to one room when asked, at once', async () => {
    vi.useFakeTimers();
    const { calls, api } = controlledFetch();
    const search = new SearchSession(api);
    search.setQuery('deploy');
    await vi.advanceTimersByTimeAsync(250);
    search.setRoom('acme/dev');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.signal?.aborted).toBe(true);
    expect(calls[1]!.url.searchParams.get('room')).toBe('acme/dev');
    search.dispose();
  });

  it('shows why a query is refused, in the server’s words', async () => {
    vi.useFakeTimers();
    const { calls, api } = controlledFetch();
    const search = new SearchSession(api);
    search.setQuery('"friday night');
    await vi.advanceTimersByTimeAsync(250);
    calls[0]!.answer(
      json(400, { error: { code: 'invalid_request', message: 'q: a quoted phrase is not closed: add the closing "' } }),
    );
    await vi.waitFor(() => expect(search.getSnapshot().status).toBe('error'));
    expect(search.getSnapshot().error).toBe('A quoted phrase is not closed: add the closing "');
    search.retry();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(2);
    search.dispose();
  });

  it('reads older pages with `next` as `before`, without repeating a result', async () => {
    vi.useFakeTimers();
    const { calls, api } = controlledFetch();
    const search = new SearchSession(api, { pageSize: 2 });
    search.setQuery('x');
    await vi.advanceTimersByTimeAsync(250);
    const first = results('x 1', 'x 2');
    calls[0]!.answer(json(200, { ...first, next: '77' }));
    await vi.waitFor(() => expect(search.getSnapshot().hasMore).toBe(true));
    const more = search.loadMore();
    expect(search.getSnapshot().loadingMore).toBe(true);
    expect(calls[1]!.url.searchParams.get('before')).toBe('77');
    calls[1]!.answer(json(200, { results: [first.results[1], results('', '', 'x 3').results[2]], next: null }));
    await more;
    expect(search.getSnapshot().hits.map((h) => h.message.content)).toEqual(['x 1', 'x 2', 'x 3']);
    expect(search.getSnapshot()).toMatchObject({ hasMore: false, loadingMore: false });
    search.dispose();
  });

  it('a next page asked for an older query is dropped when a new query comes', async () => {
    vi.useFakeTimers();
    const { calls, api } = controlledFetch();
    const search = new SearchSession(api);
    search.setQuery('x');
    await vi.advanceTimersByTimeAsync(250);
    calls[0]!.answer(json(200, { ...results('x 1'), next: '5' }));
    await vi.waitFor(() => expect(search.getSnapshot().hasMore).toBe(true));
    const more = search.loadMore();
    search.setQuery('y');
    expect(calls[1]!.signal?.aborted).toBe(true);
    await more;
    expect(search.getSnapshot()).toMatchObject({ status: 'loading', loadingMore: false, error: null });
    search.dispose();
  });

  it('dispose aborts what is in flight and asks nothing more', async () => {
    vi.useFakeTimers();
    const { calls, api } = controlledFetch();
    const search = new SearchSession(api);
    search.setQuery('x');
    await vi.advanceTimersByTimeAsync(250);
    search.setQuery('xy');
    search.dispose();
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.signal?.aborted).toBe(true);
  });
});
