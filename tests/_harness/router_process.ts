/**
 * The real router program (`deno run main.ts mock ...`) as a subprocess on a free port, for tests of what only the
 * process shows: its exit code, its log lines, its port opening before Kafka answers.
 * @module
 */
import { freePort } from "./ports.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running `event-router mock` process. */
export interface MockRouterProcess {
  port: number;
  url: string;
  kill(signal?: Deno.Signal): void;
  /** Waits for the exit: its code and everything it wrote (stdout, then stderr). */
  exit(): Promise<{ code: number; text: string }>;
}

/**
 * Starts `event-router mock <integrations>` with only `env` (plus `ER_SERVER_PORT`) in its environment.
 *
 * @example
 * ```ts
 * const router = spawnMockRouter(`Segment:${topic}`, { ER_BOOTSTRAP_SERVERS: bootstrap, ... });
 * router.kill("SIGTERM");
 * const { code, text } = await router.exit();
 * ```
 */
export function spawnMockRouter(integrations: string, env: Record<string, string>): MockRouterProcess {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "mock", integrations],
    env: { ...env, ER_SERVER_PORT: String(port) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const decoder = new TextDecoder();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
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
  };
}
