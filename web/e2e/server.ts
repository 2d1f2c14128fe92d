/**
 * Runs a real whisper-server for the end-to-end tests: a free port on
 * 127.0.0.1, a temporary data directory, the built client from `web/dist`.
 * `restart` brings it back on the same port and data directory (same secret,
 * so tokens stay valid, and same SQLite history).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
// `WHISPER_WEB_DIST` serves another build (two people running the suite in one checkout).
export const webDist = process.env.WHISPER_WEB_DIST
  ? path.resolve(process.env.WHISPER_WEB_DIST)
  : path.resolve(here, '..', 'dist');
// Where `cargo build -p whisper-server` put the binary (honouring CARGO_TARGET_DIR).
const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(repo, process.env.CARGO_TARGET_DIR)
  : path.join(repo, 'target');
export const serverBin = process.env.WHISPER_SERVER_BIN ?? path.join(targetDir, 'debug', 'whisper-server');

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

async function waitUntilUp(url: string, child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`whisper-server exited with ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`whisper-server did not come up at ${url}:\n${output()}`);
}

export class WhisperServer {
  readonly port: number;
  readonly dataDir: string;
  private child: ChildProcess | null = null;
  private log = '';
  private readonly args: readonly string[];
  /** The client it serves: `web/dist`, or a copy a test changes (a new version of the app). */
  readonly webDir: string;

  private constructor(port: number, dataDir: string, args: readonly string[], webDir: string) {
    this.port = port;
    this.dataDir = dataDir;
    this.args = args;
    this.webDir = webDir;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Starts one; `args` are more command-line options (`--allow-file-type application/pdf`);
   * `webDir` another directory of the client to serve than `web/dist` (read from disk at each request).
   */
  static async start(options: { args?: readonly string[]; webDir?: string } = {}): Promise<WhisperServer> {
    if (!existsSync(serverBin)) {
      throw new Error(`${serverBin} is missing: run \`cargo build -p whisper-server\` first (make web-e2e does).`);
    }
    if (!existsSync(path.join(webDist, 'index.html'))) {
      throw new Error(`${webDist} is missing: run \`npm run build\` first (make web-e2e does).`);
    }
    const server = new WhisperServer(
      await freePort(),
      mkdtempSync(path.join(tmpdir(), 'whisper-e2e-')),
      options.args ?? [],
      options.webDir ?? webDist,
    );
    await server.spawn();
    return server;
  }

  private async spawn(): Promise<void> {
    const child = spawn(
      serverBin,
      [
        '--bind',
        `127.0.0.1:${this.port}`,
        '--data-dir',
        this.dataDir,
        '--web-dir',
        this.webDir,
        '--shutdown-grace-secs',
        '1',
        ...this.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
    );
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    await waitUntilUp(this.url, child, () => this.log);
  }

  /** Kills the process outright (SIGKILL): no close frames, like a crash. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /**
   * Freezes the process (SIGSTOP): its sockets stay open and answer nothing, like
   * a server that hangs or a network that drops everything. `resume` thaws it
   * (`kill` works on a paused one too).
   */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Starts it again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.kill();
    await this.spawn();
  }

  /** Stops it and removes the data directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
