/**
 * The kcl-proxy's exit code tells whether a SIGTERM drain delivered everything it accepted: 0 when every event
 * reached Kafka, 3 (documented in --help) when some could only be reported (Kafka down past --shutdown-timeout).
 * @module
 */
import assert from "node:assert/strict";
import { apiKeyEntry, apiKeysFile } from "../testing/kcl.ts";
import {
  baseEnv,
  freePort,
  spawnEventRouter,
  startKafka,
  uniqueTopic,
  waitForHttpOk,
  withTimeout,
} from "../testing/harness.ts";

const API_KEY = "k-exit-code-test-0123456789";

for (const kafkaUp of [true, false]) {
  Deno.test({
    name: `kcl-proxy SIGTERM with Kafka ${kafkaUp ? "up exits 0" : "down past the shutdown timeout exits 3"}`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      using kafka = startKafka(1);
      const topic = uniqueTopic("exit");
      kafka.createTopic(topic, 1);
      const dir = await Deno.makeTempDir({ prefix: "kcl-exit-" });
      const keysFile = `${dir}/keys.json`;
      await Deno.writeTextFile(
        keysFile,
        apiKeysFile(apiKeyEntry(API_KEY, { id: "x", clientId: "X", topics: ["exit-*"] })),
      );
      const port = freePort();
      const proxy = spawnEventRouter(["kcl-proxy"], {
        ...baseEnv(),
        KCL_BOOTSTRAP_SERVERS: kafka.bootstrapServers,
        KCL_HOST: "127.0.0.1",
        KCL_PORT: String(port),
        KCL_API_KEYS_FILE: keysFile,
        KCL_SHUTDOWN_TIMEOUT: "2s",
      }, { port });
      try {
        // Ready: started (the port opens before the proxy is) and Kafka accepts it.
        await waitForHttpOk(`${proxy.url}/ready`, 60_000, "the proxy to be ready");
        if (!kafkaUp) kafka.setBrokerDown(-1);
        const res = await fetch(`${proxy.url}/events`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-api-key": API_KEY,
            "x-app-id": "X",
            "x-realm": "prod",
            "kcl-topic": topic,
          },
          body: JSON.stringify(
            Array.from({ length: 20 }, (_, i) => ({
              sourceSystem: "s",
              sourceSystemId: "i",
              authId: i,
              priority: 15,
              data: {},
            })),
          ),
        });
        assert.equal(res.status, 202, await res.text());
      } finally {
        proxy.kill("SIGTERM");
      }
      const { code, text } = await withTimeout(proxy.exit(), 60_000, "the proxy to exit");
      kafka.setBrokerUp(-1);
      await Deno.remove(dir, { recursive: true });
      if (kafkaUp) {
        assert.equal(code, 0, text.slice(-2000));
      } else {
        assert.equal(code, 3, text.slice(-2000));
        assert.match(text, /shutdown timeout: events not produced.*"events":20/);
      }
    },
  });
}
