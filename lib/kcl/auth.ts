/**
 * Request authorisation from the proxy's headers: API key (401), app id, realm and topic (403), and the failure
 * webhook URL (400 unless http(s) and an allowed host).
 * @module
 */
import { HttpError } from "../http/errors.ts";
import type { ApiKey, ApiKeys } from "./api_keys.ts";
import { topicAllowed } from "./api_keys.ts";

/** Who is sending, where to, and where failures go. */
export interface RequestContext {
  key: ApiKey;
  clientId: string;
  realm: string;
  topic: string;
  /** Normalised webhook URL from `KCL-WEBHOOK-URL`, when given. */
  webhookUrl?: string;
}

/** Webhook host rule: undefined allows any http(s) host; otherwise `host` or `host:port` entries. */
export type WebhookHostPolicy = ReadonlySet<string> | undefined;

/** Distinct webhook URLs remembered as checked; a client sends the same one with every request. */
const WEBHOOK_CACHE_SIZE = 1024;

/**
 * {@link checkWebhookUrl} under one host policy, remembering URLs that passed: parsing a URL costs about as much as
 * the rest of the authorisation. Refused URLs are checked again every time (and not remembered).
 */
export class WebhookUrls {
  readonly #hosts: WebhookHostPolicy;
  /** Header value -> normalised URL. Bounded: starts over when full, so random values cannot grow it. */
  readonly #checked = new Map<string, string>();

  constructor(hosts: WebhookHostPolicy) {
    this.#hosts = hosts;
  }

  /** The normalised URL, or throws the {@link HttpError} of {@link checkWebhookUrl}. */
  check(value: string): string {
    let url = this.#checked.get(value);
    if (url === undefined) {
      url = checkWebhookUrl(value, this.#hosts);
      if (this.#checked.size >= WEBHOOK_CACHE_SIZE) this.#checked.clear();
      this.#checked.set(value, url);
    }
    return url;
  }
}

/**
 * Checks the headers of a request against the key set. Throws {@link HttpError}: 401 missing (…01) or unknown
 * (…02) key; 400 missing headers (…01) or bad webhook URL (…02/…03); 403 app id (…01), realm (…02), topic (…03).
 */
export function authorize(headers: Headers, keys: ApiKeys, webhooks: WebhookUrls): RequestContext {
  const presented = headers.get("x-api-key");
  if (presented === null || presented === "") {
    throw new HttpError(401, "missing X-API-KEY header", {
      details: [{ path: "X-API-KEY", message: "is required" }],
      subcode: 1,
    });
  }
  const key = keys.find(presented);
  if (key === undefined) {
    throw new HttpError(401, "unknown API key", {
      details: [{ path: "X-API-KEY", message: "is not a known key" }],
      subcode: 2,
    });
  }
  const appId = headers.get("x-app-id");
  const realm = headers.get("x-realm");
  const topic = headers.get("kcl-topic");
  if (!appId || !realm || !topic) throw missingHeaders(appId, realm, topic);
  if (appId !== key.clientId) {
    throw new HttpError(403, `X-APP-ID ${JSON.stringify(appId)} is not the client of this API key`, {
      details: [{ path: "X-APP-ID", message: "does not match the key's client id" }],
      subcode: 1,
    });
  }
  if (!key.realms.has(realm)) {
    throw new HttpError(403, `realm ${JSON.stringify(realm)} is not allowed for client ${key.clientId}`, {
      details: [{ path: "X-REALM", message: "not allowed for this key" }],
      subcode: 2,
    });
  }
  if (!topicAllowed(key, topic)) {
    throw new HttpError(403, `topic ${JSON.stringify(topic)} is not allowed for client ${key.clientId}`, {
      details: [{ path: "KCL-TOPIC", message: "not allowed for this key" }],
      subcode: 3,
    });
  }
  const ctx: RequestContext = { key, clientId: key.clientId, realm, topic };
  const webhook = headers.get("kcl-webhook-url");
  if (webhook !== null && webhook !== "") ctx.webhookUrl = webhooks.check(webhook);
  return ctx;
}

/** The 400 naming every missing (or empty) header of the three. */
function missingHeaders(appId: string | null, realm: string | null, topic: string | null): HttpError {
  const missing = [["X-APP-ID", appId], ["X-REALM", realm], ["KCL-TOPIC", topic]]
    .filter(([, v]) => v === null || v === "")
    .map(([name]) => ({ path: name as string, message: "is required" }));
  return new HttpError(
    400,
    `missing header${missing.length > 1 ? "s" : ""}: ${missing.map((m) => m.path).join(", ")}`,
    { details: missing, subcode: 1 },
  );
}

/** Validates a webhook URL: absolute http(s), host allowed by the policy. Returns it normalised. */
export function checkWebhookUrl(value: string, hosts: WebhookHostPolicy): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new HttpError(400, "KCL-WEBHOOK-URL is not an absolute URL", {
      details: [{
        path: "KCL-WEBHOOK-URL",
        message: "must be an absolute http(s) URL",
      }],
      subcode: 2,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HttpError(400, `KCL-WEBHOOK-URL scheme ${url.protocol} is not allowed`, {
      details: [{
        path: "KCL-WEBHOOK-URL",
        message: "scheme must be http or https",
      }],
      subcode: 2,
    });
  }
  // Credentials in the URL would be sent to the host (and logged with it), and fetch refuses such URLs anyway, so
  // every report would fail; userinfo also makes `http://allowed@evil` read like an allowed host.
  if (url.username !== "" || url.password !== "") {
    throw new HttpError(400, "KCL-WEBHOOK-URL must not contain a user name or password", {
      details: [{
        path: "KCL-WEBHOOK-URL",
        message: "must not contain credentials",
      }],
      subcode: 2,
    });
  }
  if (hosts !== undefined && !hosts.has(url.hostname.toLowerCase()) && !hosts.has(url.host.toLowerCase())) {
    throw new HttpError(400, `KCL-WEBHOOK-URL host ${url.host} is not allowed`, {
      details: [{
        path: "KCL-WEBHOOK-URL",
        message: "host not in KCL_WEBHOOK_ALLOWED_HOSTS",
      }],
      subcode: 3,
    });
  }
  return url.toString();
}
