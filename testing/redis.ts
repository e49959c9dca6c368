/**
 * A real redis-server per test (file), on a free port, without persistence; can be killed and restarted on the same
 * port to test reconnects. Fails with the install command when redis-server is missing.
 * @module
 */
import { freePort } from "./ports.ts";

/** The command that installs redis-server. */
export const REDIS_INSTALL_COMMAND = "apt-get install -y redis-server";

const START_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;

/** redis-server is not installed, or did not come up: `dev` runs without the broker then, and says why. */
export class RedisUnavailableError extends Error {
  override name = "RedisUnavailableError";
}

/** A running redis-server started by {@link startRedis}. */
export interface RedisServer extends AsyncDisposable {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Whether the process is running. */
  readonly running: boolean;
  /** SIGKILL: the server dies without closing client connections cleanly; the data is lost. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (killing it first if it still runs) and waits until it answers. */
  restart(): Promise<void>;
  /** Stops the server and removes its files. Safe to call more than once. */
  stop(): Promise<void>;
}

/** How {@link startRedis} configures the server. */
export interface RedisServerOptions {
  /** More redis-server arguments, e.g. `["--requirepass", "pw"]` or an ACL `--user` line. */
  args?: string[];
  /** Serve TLS only (`--port 0 --tls-port <port>`), with these PEM files; `ca` is the CA's PEM text. */
  tls?: { certFile: string; keyFile: string; caFile: string; ca: string };
}

/**
 * Spawns `redis-server --port <free> --bind 127.0.0.1 --save "" --appendonly no` and resolves once it answers PING.
 *
 * @example
 * ```ts
 * const redis = await startRedis();
 * try {
 *   const client = new Redis(redis.url);
 *   // ...
 * } finally {
 *   await redis.stop();
 * }
 * ```
 */
export async function startRedis(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "er-redis-" });
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const server = new RedisProcess(freePort(), dir, opts);
    try {
      await server.spawn();
      return server;
    } catch (err) {
      lastError = err;
      await server.stop({ keepDir: true });
      // Only a lost race for the port is worth another port; anything else will fail the same way again.
      if (!(err instanceof PortInUseError)) break;
    }
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  throw lastError;
}

class PortInUseError extends Error {}

class RedisProcess implements RedisServer {
  readonly port: number;
  readonly url: string;
  #dir: string;
  #child: Deno.ChildProcess | null = null;
  #status: Promise<Deno.CommandStatus> | null = null;
  #stopped = false;

  readonly #opts: RedisServerOptions;

  constructor(port: number, dir: string, opts: RedisServerOptions) {
    this.port = port;
    this.url = `${opts.tls ? "rediss" : "redis"}://127.0.0.1:${port}`;
    this.#dir = dir;
    this.#opts = opts;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  get #logFile(): string {
    return `${this.#dir}/redis-${this.port}.log`;
  }

  async spawn(): Promise<void> {
    const tls = this.#opts.tls;
    const listen = tls === undefined ? ["--port", String(this.port)] : [
      "--port",
      "0",
      "--tls-port",
      String(this.port),
      "--tls-cert-file",
      tls.certFile,
      "--tls-key-file",
      tls.keyFile,
      "--tls-ca-cert-file",
      tls.caFile,
      "--tls-auth-clients",
      "no",
    ];
    const args = [
      ...listen,
      ...(this.#opts.args ?? []),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      this.#dir,
      "--logfile",
      this.#logFile,
    ];
    let child: Deno.ChildProcess;
    try {
      // Logs go to a file rather than a pipe: nothing has to drain a pipe, and the file explains a failed start.
      child = new Deno.Command("redis-server", { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new RedisUnavailableError(`redis-server is not installed; install it with: ${REDIS_INSTALL_COMMAND}`);
      }
      throw err;
    }
    this.#child = child;
    const status = child.status;
    this.#status = status;
    // A holder object, because the compiler does not see the callback assign a plain local.
    const exit: { status: Deno.CommandStatus | null } = { status: null };
    status.then((s) => exit.status = s);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const exited = exit.status;
      if (exited !== null) {
        this.#child = null;
        const log = await Deno.readTextFile(this.#logFile).catch(() => "");
        const message = `redis-server on port ${this.port} exited with ${exited.code} during start: ${log.trim()}`;
        throw log.includes("Address already in use") ? new PortInUseError(message) : new Error(message);
      }
      if (await ping(this.port, tls?.ca)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new RedisUnavailableError(
      `redis-server on port ${this.port} did not answer PING within ${START_TIMEOUT_MS} ms`,
    );
  }

  async kill(): Promise<void> {
    await this.#signal("SIGKILL");
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new Error("redis-server was stopped; start a new one");
    await this.#signal("SIGKILL");
    await this.spawn();
  }

  /** `await using redis = await startRedis()` stops it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#signal("SIGTERM");
    if (!opts.keepDir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  async #signal(signal: Deno.Signal): Promise<void> {
    const child = this.#child;
    const status = this.#status;
    this.#child = null;
    this.#status = null;
    if (child === null || status === null) return;
    try {
      child.kill(signal);
    } catch {
      // Already exited; awaiting its status below still releases the process resource.
    }
    await status;
  }
}

/** Sends an inline PING and waits briefly for `+PONG` (or `-NOAUTH`: a server with a password answers too). */
async function ping(port: number, ca?: string): Promise<boolean> {
  let conn: Deno.Conn;
  try {
    conn = ca === undefined
      ? await Deno.connect({ hostname: "127.0.0.1", port })
      : await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] });
  } catch {
    return false;
  }
  try {
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return n !== null && /^(\+PONG|-NOAUTH)/.test(new TextDecoder().decode(buf.subarray(0, n)));
  } catch {
    return false;
  } finally {
    conn.close();
  }
}
