/**
 * The real program (`deno run main.ts mock ...`) killed mid-stream, with SIGTERM and with SIGKILL, and restarted:
 * every input message still reaches every integration topic at least once.
 * @module
 */
import assert from "node:assert/strict";
import {
  freePort,
  kcatProduce,
  kcatRead,
  startKafka,
  uniqueTopic,
  waitForHttpOk,
  waitUntil,
} from "../testing/harness.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A running `event-router mock` subprocess whose stderr is collected. */
class RouterProcess {
  readonly #child: Deno.ChildProcess;
  readonly #stderr: Promise<string>;
  readonly port: number;

  constructor(env: Record<string, string>, integrations: string) {
    this.port = freePort();
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "mock", integrations],
      env: { ...env, ER_SERVER_PORT: String(this.port) },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#stderr = new Response(this.#child.stderr).text();
  }

  async waitReady(): Promise<void> {
    await waitForHttpOk(`http://127.0.0.1:${this.port}/ready`, 60_000, "the router process to be ready");
  }

  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  async exit(): Promise<{ code: number; stderr: string }> {
    const status = await this.#child.status;
    return { code: status.code, stderr: await this.#stderr };
  }
}

Deno.test({
  name: "router killed mid-stream (SIGTERM, then SIGKILL) and restarted delivers every message to every topic",
  // kcat and the cluster's threads are outside Deno's sanitizers' view; the subprocesses are awaited explicitly.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const kafka = startKafka();
    try {
      const ingest = uniqueTopic("ingest");
      const seg = uniqueTopic("seg");
      const amp = uniqueTopic("amp");
      kafka.createTopic(ingest, 3);
      kafka.createTopic(seg, 2);
      kafka.createTopic(amp, 2);
      const env = {
        ER_BOOTSTRAP_SERVERS: kafka.bootstrapServers,
        ER_KAFKA_GROUP_ID: uniqueTopic("group"),
        ER_KAFKA_INGESTION_TOPIC: ingest,
        ER_KAFKA_PRODUCER_FLUSH_TIMEOUT_MS: "3000",
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "/root",
        DENO_DIR: Deno.env.get("DENO_DIR") ?? "",
      };
      const integrations = `Segment:${seg},Amplitude:${amp}`;
      const total = 900;
      const ids = Array.from({ length: total }, (_, i) => `m${i}`);
      const chunk = (from: number, to: number) =>
        kcatProduce(
          kafka.bootstrapServers,
          ingest,
          ids.slice(from, to).map((id, i) => ({
            key: id,
            value: JSON.stringify({ appId: `app-${i % 7}`, messageId: id, pad: "x".repeat(200) }),
          })),
        );

      // 1. Graceful stop in the middle of a stream.
      let router = new RouterProcess(env, integrations);
      await router.waitReady();
      await chunk(0, 150);
      const producing = chunk(150, 300);
      router.kill("SIGTERM");
      await producing;
      const first = await router.exit();
      assert.equal(first.code, 0, first.stderr.slice(-2000));
      assert.match(first.stderr, /router stopped/);

      // 2. Restart, then a hard kill in the middle of a stream.
      router = new RouterProcess(env, integrations);
      await router.waitReady();
      await chunk(300, 450);
      const producing2 = chunk(450, 600);
      router.kill("SIGKILL");
      await producing2;
      const second = await router.exit();
      assert.notEqual(second.code, 0);

      // 3. Restart and finish.
      router = new RouterProcess(env, integrations);
      await router.waitReady();
      await chunk(600, total);
      try {
        for (const topic of [seg, amp]) {
          await waitUntil(
            async () => {
              const got = await kcatRead(kafka.bootstrapServers, topic, { timeoutMs: 15_000 });
              return ids.every((id) => got.some((m) => m.key === id));
            },
            120_000,
            `every message on ${topic}`,
            1000,
          );
        }
      } finally {
        router.kill("SIGTERM");
        const third = await router.exit();
        assert.equal(third.code, 0, third.stderr.slice(-2000));
      }
    } finally {
      kafka.close();
    }
  },
});
