/**
 * The kcl-proxy config the tests start the service with: port 0 on 127.0.0.1, keys given inline, the spec's
 * defaults otherwise; each test overrides what it is about.
 * @module
 */
import { createHash } from "node:crypto";
import { type KclProxyConfig, kclProxyConfig } from "../lib/config/kcl_proxy.ts";

/** A config for a proxy producing to `bootstrapServers`, with `overrides` applied. */
export function kclTestConfig(bootstrapServers: string[], overrides: Partial<KclProxyConfig> = {}): KclProxyConfig {
  return kclProxyConfig({ bootstrapServers, port: 0, hostname: "127.0.0.1", apiKeysFile: "(inline)", ...overrides });
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

/** What an API key may do: its id, the client it sends as, its realms (default `prod`) and topics. */
export interface KeyGrant {
  id: string;
  clientId: string;
  topics: string[];
  realms?: string[];
  webhookSecret?: string;
}

/**
 * One entry of an API keys file for `key`, stored as its sha-256 (as operators are told to).
 *
 * @example
 * ```ts
 * const text = apiKeysFile(apiKeyEntry("k-0123456789", { id: "a", clientId: "A", topics: ["a-*"] }));
 * ```
 */
export function apiKeyEntry(key: string, grant: KeyGrant): Record<string, unknown> {
  const { id, clientId, topics, realms = ["prod"], webhookSecret } = grant;
  const entry: Record<string, unknown> = {
    id,
    sha256: createHash("sha256").update(key).digest("hex"),
    clientId,
    realms,
    topics,
  };
  if (webhookSecret !== undefined) entry.webhookSecret = webhookSecret;
  return entry;
}

/** The text of an API keys file holding `entries`. */
export function apiKeysFile(...entries: Record<string, unknown>[]): string {
  return JSON.stringify({ keys: entries });
}
