/**
 * Runs a server under test in its own process (so it does not share a JS thread with the load generator) and reports
 * its address, output tail and memory.
 * @module
 */
import { processPeakRss, processRss, TimeBudget } from "./_lib.ts";

/** The repository root (bench/..), the working directory of spawned servers. */
export const REPO_ROOT: string = new URL("..", import.meta.url).pathname;

/** Options of {@link spawnServer}. */
export interface SpawnServerOptions {
  /** Arguments after the executable, e.g. `["run", "-A", "main.ts", "kcl-proxy", "--port", "8081"]`. */
  args: string[];
  /** Executable; default the running Deno. */
  command?: string;
  /** Extra environment variables (added to the inherited environment). */
  env?: Record<string, string>;
  /** Working directory; default {@link REPO_ROOT}. */
  cwd?: string;
  /**
   * How to tell the server is up, one of:
   * - `readyUrl`: polled until it answers 2xx; `url` of the result is its origin.
   * - `readyLine`: a regular expression matched against each output line; its first group is the port.
   */
  readyUrl?: string;
  readyLine?: RegExp;
  /** With `readyLine`: also poll this path on the announced port until it answers 2xx (the port opens first). */
  readyPath?: string;
  /** The server speaks HTTPS with a certificate signed by this CA (PEM): the readiness check trusts it. */
  readyCa?: string;
  /** How long start-up may take; default 30 s. */
  timeoutMs?: number;
}

/** A running server process. */
export interface ServerProcess {
  readonly pid: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The last lines the process wrote (stdout and stderr), for error messages. */
  output(): string;
  /** Current RSS of the process, bytes (null when unavailable). */
  rssBytes(): number | null;
  /** Peak RSS since start (VmHWM), bytes (null when unavailable). */
  peakRssBytes(): number | null;
  /** Sends `signal` (default SIGTERM), waits up to `timeoutMs` (default 10 s), then SIGKILL. Resolves the exit code. */
  stop(signal?: Deno.Signal, timeoutMs?: number): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

const OUTPUT_LINES_KEPT = 60;

/**
 * Starts a server process and waits until it is ready. Output is drained continuously (a full pipe would block the
 * server) and its tail kept for error messages.
 *
 * @example
 * ```ts
 * const port = await freePort();
 * await using server = await spawnServer({
 *   args: ["run", "-A", "main.ts", "receiver", "httpbroker", "--port", String(port)],
 *   readyUrl: `http://127.0.0.1:${port}/health`,
 * });
 * const load = await loadHttp({ url: `${server.url}/state`, ... });
 * ```
 */
export async function spawnServer(opts: SpawnServerOptions): Promise<ServerProcess> {
  if ((opts.readyUrl === undefined) === (opts.readyLine === undefined)) {
    throw new Error("spawnServer needs exactly one of readyUrl and readyLine");
  }
  const child = new Deno.Command(opts.command ?? Deno.execPath(), {
    args: opts.args,
    cwd: opts.cwd ?? REPO_ROOT,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const tail: string[] = [];
  let announcedPort: number | null = null;
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > OUTPUT_LINES_KEPT) tail.shift();
    if (announcedPort === null && opts.readyLine !== undefined) {
      const m = opts.readyLine.exec(line);
      if (m?.[1] !== undefined) announcedPort = Number(m[1]);
    }
  };
  const drained = Promise.all([drainLines(child.stdout, onLine), drainLines(child.stderr, onLine)]);
  let exit: Deno.CommandStatus | null = null;
  const statusPromise = child.status.then((s) => {
    exit = s;
    return s;
  });

  const output = () => tail.join("\n");
  const stop = async (signal: Deno.Signal = "SIGTERM", timeoutMs = 10_000): Promise<number> => {
    if (exit === null) {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already exited
          }
          resolve();
        }, timeoutMs);
      });
      await Promise.race([statusPromise, killed]);
      clearTimeout(timer);
    }
    const status = await statusPromise;
    await drained;
    return status.code;
  };

  const budget = new TimeBudget(opts.timeoutMs ?? 30_000);
  let url: string | null = null;
  try {
    while (url === null) {
      if (exit !== null) {
        throw new Error(`server exited with code ${(exit as Deno.CommandStatus).code} during start-up`);
      }
      if (budget.expired) throw new Error(`server not ready within ${opts.timeoutMs ?? 30_000} ms`);
      if (opts.readyUrl !== undefined) {
        if (await answers(opts.readyUrl, opts.readyCa)) url = new URL(opts.readyUrl).origin;
      } else if (announcedPort !== null) {
        const origin = `${opts.readyCa === undefined ? "http" : "https"}://127.0.0.1:${announcedPort}`;
        if (opts.readyPath === undefined || await answers(origin + opts.readyPath, opts.readyCa)) url = origin;
      }
      if (url === null) await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stop("SIGKILL", 1_000);
    throw new Error(
      `${(err as Error).message}: ${[opts.command ?? "deno", ...opts.args].join(" ")}\n--- output ---\n${output()}`,
    );
  }

  const pid = child.pid;
  const readyUrl = url;
  return {
    pid,
    url: readyUrl,
    output,
    rssBytes: () => processRss(pid),
    peakRssBytes: () => processPeakRss(pid),
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

async function answers(url: string, ca?: string): Promise<boolean> {
  using client = Deno.createHttpClient(ca === undefined ? {} : { caCerts: [ca] });
  try {
    const res = await fetch(url, { client, signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

async function drainLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) !== -1) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
    // A server that logs without newlines must not grow this buffer without bound.
    if (pending.length > 64 * 1024) pending = pending.slice(-4096);
  }
  if (pending.length > 0) onLine(pending);
}

/** A TCP port on 127.0.0.1 that was free a moment ago (another process could take it before use). */
export { freePort } from "../testing/ports.ts";

/** Where `bench/_servers.ts` lives, for `spawnServer({ args: ["run", "-A", BENCH_SERVERS, kind] })`. */
export const BENCH_SERVERS: string = new URL("./_servers.ts", import.meta.url).pathname;

/** Starts one of the bare servers of `bench/_servers.ts` (e.g. `"echo"`) in its own process. */
export function spawnBenchServer(
  kind: string,
  tls?: { certFile: string; keyFile: string; ca: string },
): Promise<ServerProcess> {
  return spawnServer({
    args: ["run", "-A", BENCH_SERVERS, kind, ...(tls === undefined ? [] : [tls.certFile, tls.keyFile])],
    readyLine: /^bench-server listening on (\d+)$/,
    readyCa: tls?.ca,
  });
}
