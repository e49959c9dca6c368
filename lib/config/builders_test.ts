/**
 * The typed config builders (for `dev` and tests) and the parsers (for the commands) share one set of defaults:
 * built with only the required values, each equals what its parser makes of the same minimal input.
 * @module
 */
import assert from "node:assert/strict";
import { httpBrokerConfig, parseHttpBrokerArgs } from "./httpbroker.ts";
import { kclProxyConfig, parseKclProxyConfig } from "./kcl_proxy.ts";
import { loadRouterConfig, parseIntegrationList, routerConfig } from "./router.ts";

/** Equal as plain data: an absent field and one set to undefined are the same config. */
function sameConfig(a: unknown, b: unknown, what: string): void {
  assert.deepEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)), what);
}

Deno.test("kclProxyConfig: the parser's defaults", () => {
  const parsed = parseKclProxyConfig(
    [],
    { KCL_BOOTSTRAP_SERVERS: "k:9092", KCL_API_KEYS_FILE: "keys.json" },
    () => '{"keys":[]}',
  );
  sameConfig(kclProxyConfig({ bootstrapServers: ["k:9092"], apiKeysFile: "keys.json" }), parsed, "kcl-proxy");
  assert.equal(kclProxyConfig({ bootstrapServers: ["k:9092"], apiKeysFile: "x", port: 0 }).port, 0);
});

Deno.test("routerConfig: the parser's defaults (mock mode: static integrations, no SSE)", () => {
  const parsed = loadRouterConfig(["Segment:segment"], {
    ER_BOOTSTRAP_SERVERS: "k:9092",
    ER_KAFKA_GROUP_ID: "g",
    ER_KAFKA_INGESTION_TOPIC: "clicks",
  }, "mock");
  const built = routerConfig({
    bootstrapServers: ["k:9092"],
    groupId: "g",
    ingestionTopic: "clicks",
    source: { kind: "static", integrations: parseIntegrationList("Segment:segment") },
  });
  const { notices: _notices, ...withoutNotices } = parsed;
  sameConfig(built, withoutNotices, "router");
});

Deno.test("httpBrokerConfig: the parser's defaults", () => {
  const parsed = parseHttpBrokerArgs(["--server", "redis-host:6380"], {});
  assert.ok(parsed !== "version");
  sameConfig(httpBrokerConfig({ redis: { host: "redis-host", port: 6380, database: 0 } }), parsed, "httpbroker");
});
