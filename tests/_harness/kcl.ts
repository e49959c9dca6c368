/**
 * The kcl-proxy config the tests start the service with: port 0 on 127.0.0.1, keys given inline, the spec's
 * defaults otherwise; each test overrides what it is about.
 * @module
 */
import type { KclProxyConfig } from "../../lib/config/kcl_proxy.ts";

/** A config for a proxy producing to `bootstrapServers`, with `overrides` applied. */
export function kclTestConfig(bootstrapServers: string[], overrides: Partial<KclProxyConfig> = {}): KclProxyConfig {
  return {
    bootstrapServers,
    port: 0,
    hostname: "127.0.0.1",
    apiKeysFile: "(inline)",
    maxBodyBytes: 1_048_576,
    dedupWindowMs: 600_000,
    shutdownTimeoutMs: 10_000,
    debug: false,
    lowBuffer: 10_000,
    normalBuffer: 50_000,
    compression: "none",
    kafkaSecurity: { protocol: "PLAINTEXT" },
    requestTimeoutMs: 30_000,
    logFormat: "json",
    ...overrides,
  };
}

/** Who a test request comes from: the headers every kcl-proxy request carries. */
export interface KclSender {
  apiKey: string;
  appId: string;
  realm: string;
  topic: string;
}

/**
 * `POST /events` with `body` as JSON from `sender`, straight to a proxy's handler (no socket).
 *
 * @example
 * ```ts
 * const res = await postEvents(proxy.handler, { apiKey, appId: "APP", realm: "prod", topic }, [event]);
 * ```
 */
export function postEvents(
  handler: (req: Request) => Promise<Response>,
  sender: KclSender,
  body: unknown,
): Promise<Response> {
  return handler(
    new Request("http://proxy/events", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": sender.apiKey,
        "x-app-id": sender.appId,
        "x-realm": sender.realm,
        "kcl-topic": sender.topic,
      },
      body: JSON.stringify(body),
    }),
  );
}
