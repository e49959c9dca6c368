/**
 * The real router program (`deno run main.ts mock ...`) as a subprocess on a free port, for tests of what only the
 * process shows: its exit code, its log lines, its port opening before Kafka answers.
 * @module
 */
import { freePort } from "./ports.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A running `event-router` process. */
export interface ServiceProcess extends AsyncDisposable {
  port: number;
  /** `http://127.0.0.1:<port>` (or https). */
  url: string;
  kill(signal?: Deno.Signal): void;
  /** Waits for the exit: its code and everything it wrote (stdout, then stderr). */
  exit(): Promise<{ code: number; text: string }>;
}

/** A running `event-router mock` process. */
export type MockRouterProcess = ServiceProcess;

/**
 * Starts `event-router <args>` with only `env` in its environment; `port` is where the test will reach it (the
 * caller puts it in `args` or `env` in the command's own way).
 *
 * @example
 * ```ts
 * const port = freePort();
 * const broker = spawnEventRouter(["receiver", "httpbroker", "--port", `127.0.0.1:${port}`], {}, { port });
 * ```
 */
export function spawnEventRouter(
  args: string[],
  env: Record<string, string>,
  where: { port: number; scheme?: "http" | "https" },
): ServiceProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const decoder = new TextDecoder();
  return {
    port: where.port,
    url: `${where.scheme ?? "http"}://127.0.0.1:${where.port}`,
    kill: (signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
    },
    exit: async () => {
      const { code, stdout, stderr } = await output;
      return { code, text: decoder.decode(stdout) + decoder.decode(stderr) };
    },
    // `await using proc = spawnEventRouter(...)`: stopped (SIGTERM, SIGKILL after 10 s) and reaped at scope end.
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        return void await output; // already exited: only reap it
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited meanwhile
        }
      }, 10_000);
      await output.finally(() => clearTimeout(timer));
    },
  };
}

/**
 * Starts `event-router mock <integrations>` with only `env` (plus `ER_SERVER_PORT`, `PATH`, `HOME` and `DENO_DIR`) in
 * its environment.
 *
 * @example
 * ```ts
 * const router = spawnMockRouter(`Segment:${topic}`, { ER_BOOTSTRAP_SERVERS: bootstrap, ... });
 * router.kill("SIGTERM");
 * const { code, text } = await router.exit();
 * ```
 */
export function spawnMockRouter(
  integrations: string,
  env: Record<string, string>,
  scheme: "http" | "https" = "http",
): MockRouterProcess {
  const port = freePort();
  return spawnEventRouter(["mock", integrations], { ...baseEnv(), ...env, ER_SERVER_PORT: String(port) }, {
    port,
    scheme,
  });
}

/** What a child deno needs from the test's environment to find its tools and module cache. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}
