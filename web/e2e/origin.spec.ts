/**
 * The WebSocket Origin check, in real Chromium: a page from another origin
 * cannot open a socket to whisper-server (403 before the upgrade), the very
 * same page served from whisper-server's own origin can, and so can the other
 * origin once it is given with `--allowed-origin`.
 *
 * The probe page is byte-for-byte the same wherever it is served from: a tiny
 * Node HTTP server on another port of 127.0.0.1 (a different port is a
 * different origin) and whisper-server itself (it serves the page as its
 * `--web-dir`). e2e/server.ts takes no extra arguments, so the servers are
 * spawned here the same way it does; this spec needs no `web/dist`.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, serverBin } from './server';

/** Opens `?ws=<url>` and records what happens on `window.probe`. */
/** The probe's script is a file of its own: the server's Content-Security-Policy
 * runs no inline script (which is also what keeps injected markup inert). */
const PROBE_JS = `
  window.probe = { events: [], messages: [] };
  const ws = new WebSocket(new URLSearchParams(location.search).get('ws'));
  ws.onopen = () => window.probe.events.push('open');
  ws.onerror = () => window.probe.events.push('error');
  ws.onclose = (e) => window.probe.events.push('close:' + e.code);
  ws.onmessage = (e) => window.probe.messages.push(String(e.data));
`;

const PROBE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>origin probe</title></head>
<body><p>origin probe</p>
<script src="/probe.js"></script>
</body></html>
`;

interface Probe {
  events: string[];
  messages: string[];
}

/** A whisper-server child process, spawned like e2e/server.ts does, with extra arguments. */
class Whisper {
  private log = '';
  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/chat/ws?room=lobby`;
  }

  static async start(webDir: string, extraArgs: string[] = []): Promise<Whisper> {
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'whisper-e2e-origin-'));
    const env: NodeJS.ProcessEnv = { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' };
    // Only the flags given here decide which origins are allowed.
    delete env.WHISPER_ALLOWED_ORIGINS;
    const child = spawn(
      serverBin,
      [
        '--bind',
        `127.0.0.1:${port}`,
        '--data-dir',
        dataDir,
        '--web-dir',
        webDir,
        '--shutdown-grace-secs',
        '1',
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env },
    );
    const server = new Whisper(port, dataDir, child);
    try {
      await server.waitUntilUp();
    } catch (e) {
      await server.stop();
      throw e;
    }
    return server;
  }

  private async waitUntilUp(): Promise<void> {
    for (let i = 0; i < 300; i++) {
      if (this.child.exitCode !== null)
        throw new Error(`whisper-server exited with ${this.child.exitCode}:\n${this.log}`);
      try {
        if ((await fetch(`${this.url}/readyz`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`whisper-server did not come up at ${this.url}:\n${this.log}`);
  }

  /** `whisper_connections_refused_total` from /metrics. */
  async refused(): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const match = /^whisper_connections_refused_total (\d+)$/m.exec(text);
    if (!match?.[1]) throw new Error(`no whisper_connections_refused_total in /metrics:\n${text}`);
    return Number(match[1]);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** The other origin: serves PROBE_HTML on 127.0.0.1 at a port the OS picks. */
async function startForeignOrigin(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (req.url === '/probe.js') {
      res
        .writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
        .end(PROBE_JS);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PROBE_HTML);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('the foreign origin server has no port');
  return { server, url: `http://127.0.0.1:${address.port}` };
}

interface Opened {
  context: BrowserContext;
  page: Page;
  /** Playwright's `socketerror` reports for the page's WebSockets (the handshake failure reason). */
  socketErrors: string[];
}

/** Opens the probe page at `origin`, aimed at `wsUrl`. */
async function openProbe(browser: Browser, origin: string, wsUrl: string): Promise<Opened> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const socketErrors: string[] = [];
  page.on('websocket', (ws) => ws.on('socketerror', (error) => socketErrors.push(error)));
  await page.goto(`${origin}/?ws=${encodeURIComponent(wsUrl)}`);
  expect(await page.evaluate(() => location.origin)).toBe(origin);
  return { context, page, socketErrors };
}

function probeOf(page: Page): Promise<Probe> {
  return page.evaluate(() => (window as unknown as { probe: Probe }).probe);
}

function isWelcome(frame: string): boolean {
  try {
    return (JSON.parse(frame) as { type?: unknown }).type === 'welcome';
  } catch {
    return false;
  }
}

/** Waits (at most `timeout` ms) for the socket to close and returns what the page saw. */
async function settled(page: Page, timeout = 5_000): Promise<Probe> {
  await expect
    .poll(async () => (await probeOf(page)).events.some((e) => e.startsWith('close:')), { timeout })
    .toBe(true);
  return probeOf(page);
}

/** Waits (at most `timeout` ms) for a `welcome` frame and returns what the page saw. */
async function welcomed(page: Page, timeout = 10_000): Promise<Probe> {
  await expect.poll(async () => (await probeOf(page)).messages.some(isWelcome), { timeout }).toBe(true);
  return probeOf(page);
}

/** A raw WebSocket upgrade request with `origin`: the status and body (101 gives an empty body). */
function rawUpgrade(url: string, origin: string): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}/v1/chat/ws?room=lobby`, {
      headers: {
        Origin: origin,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      },
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

let webDir: string;
let foreign: { server: Server; url: string } | undefined;
/** Started with the defaults: only its own origin may connect. */
let strict: Whisper | undefined;
/** Started with `--allowed-origin <foreign origin>`. */
let allowing: Whisper | undefined;

test.beforeAll(async () => {
  webDir = mkdtempSync(path.join(tmpdir(), 'whisper-e2e-origin-web-'));
  writeFileSync(path.join(webDir, 'index.html'), PROBE_HTML);
  writeFileSync(path.join(webDir, 'probe.js'), PROBE_JS);
  foreign = await startForeignOrigin();
  strict = await Whisper.start(webDir);
  allowing = await Whisper.start(webDir, ['--allowed-origin', foreign.url]);
});

test.afterAll(async () => {
  await Promise.all([strict?.stop(), allowing?.stop()]);
  if (foreign) {
    const server = foreign.server;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  if (webDir) rmSync(webDir, { recursive: true, force: true });
});

test('the server answers 403 forbidden to an upgrade from a foreign Origin, and 101 to its own', async () => {
  const refused = await rawUpgrade(strict!.url, 'http://evil.example');
  expect(refused.status).toBe(403);
  expect(refused.contentType).toContain('application/json');
  const body = JSON.parse(refused.body) as { error?: { code?: unknown; message?: unknown } };
  expect(body.error?.code).toBe('forbidden');
  expect(typeof body.error?.message).toBe('string');

  // The very same request from the server's own origin is upgraded: the Origin alone made the 403.
  expect((await rawUpgrade(strict!.url, strict!.url)).status).toBe(101);

  // The allow-list is exact: another origin is still refused by the server that allows one.
  const stillRefused = await rawUpgrade(allowing!.url, 'http://evil.example');
  expect(stillRefused.status).toBe(403);
  expect((JSON.parse(stillRefused.body) as { error?: { code?: unknown } }).error?.code).toBe('forbidden');
});

test('a page from another origin cannot open a WebSocket to the server', async ({ browser }) => {
  expect(foreign!.url).not.toBe(strict!.url);
  const refusedBefore = await strict!.refused();
  const { context, page, socketErrors } = await openProbe(browser, foreign!.url, strict!.wsUrl);
  try {
    const probe = await settled(page);
    expect(probe.events).not.toContain('open');
    expect(probe.events).toContain('error');
    // 1006: the connection failed before it was established.
    expect(probe.events).toContain('close:1006');
    expect(probe.messages).toEqual([]);
    // Chromium saw the server's 403, and the server counted one refusal.
    await expect.poll(() => socketErrors.join('\n'), { timeout: 5_000 }).toMatch(/\b403\b/);
    expect(await strict!.refused()).toBe(refusedBefore + 1);
  } finally {
    await context.close();
  }
});

/** The probe page from `pageOrigin` opens a socket to `server`, is welcomed, and nothing is refused. */
async function expectWelcomed(browser: Browser, pageOrigin: string, server: Whisper): Promise<void> {
  const refusedBefore = await server.refused();
  const { context, page, socketErrors } = await openProbe(browser, pageOrigin, server.wsUrl);
  try {
    const probe = await welcomed(page);
    expect(probe.events[0]).toBe('open');
    expect(probe.events).not.toContain('error');
    expect(probe.messages.filter(isWelcome)).toHaveLength(1);
    expect(socketErrors).toEqual([]);
    expect(await server.refused()).toBe(refusedBefore);
  } finally {
    await context.close();
  }
}

test('the same page served from the server’s own origin connects and is welcomed', async ({ browser }) => {
  await expectWelcomed(browser, strict!.url, strict!);
});

test('with --allowed-origin, the page from the other origin connects and is welcomed', async ({ browser }) => {
  await expectWelcomed(browser, foreign!.url, allowing!);
});
