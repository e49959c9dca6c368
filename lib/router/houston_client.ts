/**
 * Houston's GraphQL API as the router uses it: look up an app's clickstream integrations, and obtain the token
 * that authorises it (a fixed API key, or a `createToken` login cached until shortly before its JWT expiry).
 * @module
 */
import { z } from "zod";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { readBodyBytes } from "../http/body.ts";
import { HttpError } from "../http/errors.ts";

/** An enabled integration of an app: events go to `topic` unless they opt out of `name`. */
export interface Integration {
  /** The integration's name, as events name it to opt out. */
  name: string;
  /** The Kafka topic its events go to. */
  topic: string;
}

/** Anything that can tell which integrations an app has enabled (Houston, or `mock`'s fixed list). */
export interface IntegrationSource {
  /** Resolves to the enabled integrations (empty for an unknown app); rejects with {@link HoustonError}. */
  lookup(appId: string, signal?: AbortSignal): Promise<Integration[]>;
}

/** A failed Houston call, with what went wrong. */
export class HoustonError extends Error {
  constructor(message: string, readonly unauthorized = false) {
    super(message);
    this.name = "HoustonError";
  }
}

/** The `fetch` shape the client needs (tests pass the global one). */
export type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/** Supplies the `authorization` header value for Houston calls. */
export interface TokenProvider {
  /** The current token, logging in first when needed. */
  token(signal?: AbortSignal): Promise<string>;
  /** Tells the provider Houston rejected `token`, so the next {@link token} call gets a new one. */
  rejected(token: string): void;
}

/** A fixed API key: Houston's `ER_HOUSTON_API_KEY`. */
export class ApiKeyToken implements TokenProvider {
  constructor(private readonly key: string) {}
  token(): Promise<string> {
    return Promise.resolve(this.key);
  }
  rejected(): void {}
}

const graphqlErrors = z.array(z.object({ message: z.string().optional() }).passthrough()).optional().nullable();

const createTokenResponse = z.object({
  data: z.object({
    createToken: z.object({
      success: z.boolean().optional().nullable(),
      message: z.string().optional().nullable(),
      token: z.union([z.string(), z.object({ value: z.string() })]).nullable().optional(),
    }).nullable(),
  }).nullable().optional(),
  errors: graphqlErrors,
});

const sourcesResponse = z.object({
  data: z.object({
    sources: z.array(z.object({
      clickstream: z.array(z.object({ name: z.string(), topic: z.string(), enabled: z.boolean() })).nullable(),
    })).nullable(),
  }).nullable().optional(),
  errors: graphqlErrors,
});

/** How long before a JWT's `exp` the token is replaced, so a lookup never races its expiry. */
const REFRESH_MARGIN_MS = 60_000;
/**
 * A token is reused at least this long, even when its `exp` already looks past on arrival (clock skew between
 * Houston and this host): otherwise every lookup would log in again. A token Houston really rejects is still
 * replaced at once through the 401 path.
 */
const MIN_REUSE_MS = 30_000;

/**
 * Logs in with `createToken` and reuses the token until shortly before its JWT `exp` (tokens that are not JWTs are
 * kept until Houston rejects them). Concurrent callers share one login.
 */
export class LoginToken implements TokenProvider {
  #token: string | undefined;
  #refreshAt = Infinity;
  #login: Promise<string> | undefined;
  /** Number of logins made (visible for tests and logs). */
  logins = 0;

  constructor(
    private readonly opts: {
      url: string;
      username: string;
      password: string;
      clock: Clock;
      logger: Logger;
      fetch?: Fetch;
      timeoutMs?: number;
    },
  ) {}

  token(signal?: AbortSignal): Promise<string> {
    if (this.#token !== undefined && this.opts.clock.now() < this.#refreshAt) return Promise.resolve(this.#token);
    this.#login ??= this.#doLogin(signal).finally(() => this.#login = undefined);
    return this.#login;
  }

  rejected(token: string): void {
    if (token === this.#token) this.#token = undefined;
  }

  async #doLogin(signal?: AbortSignal): Promise<string> {
    const query = `mutation createToken { createToken(username: ${JSON.stringify(this.opts.username)}, password: ${
      JSON.stringify(this.opts.password)
    }) { success message token { value } } }`;
    this.logins++;
    const body = await postGraphql(
      this.opts.fetch ?? fetch,
      this.opts.url,
      undefined,
      query,
      signal,
      this.opts.timeoutMs,
    );
    const parsed = createTokenResponse.safeParse(body);
    if (!parsed.success) throw new HoustonError("createToken: unexpected response shape");
    if (parsed.data.errors && parsed.data.errors.length > 0) {
      throw new HoustonError(`createToken: ${parsed.data.errors.map((e) => e.message ?? "error").join("; ")}`);
    }
    const result = parsed.data.data?.createToken;
    const raw = result?.token;
    const value = typeof raw === "string" ? raw : raw?.value;
    if (value === undefined || value === "" || result?.success === false) {
      throw new HoustonError(`createToken failed: ${result?.message ?? "no token returned"}`);
    }
    const exp = jwtExpiry(value);
    const now = this.opts.clock.now();
    // Refresh before expiry, but never sooner than halfway through a short-lived token's life.
    this.#refreshAt = exp === undefined
      ? Infinity
      : Math.max(exp - REFRESH_MARGIN_MS, now + (exp - now) / 2, now + MIN_REUSE_MS);
    if (exp !== undefined && exp <= now) {
      this.opts.logger.warn("Houston issued a token whose exp is already past: is this host's clock skewed?", {
        expiresAt: new Date(exp).toISOString(),
        now: new Date(now).toISOString(),
      });
    }
    this.#token = value;
    this.opts.logger.info("logged in to Houston", {
      expiresAt: exp === undefined ? null : new Date(exp).toISOString(),
    });
    return value;
  }
}

/** The `exp` claim of a JWT in epoch ms, or undefined when `token` is not a JWT with one. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const b64 = parts[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(b64 + "=".repeat((4 - b64.length % 4) % 4))) as unknown;
    if (typeof json === "object" && json !== null && typeof (json as { exp?: unknown }).exp === "number") {
      return (json as { exp: number }).exp * 1000;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Houston answers with a few integrations per app; anything near this size is not a real answer. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const utf8 = new TextDecoder("utf-8", { fatal: true });

async function postGraphql(
  fetchFn: Fetch,
  url: string,
  token: string | undefined,
  query: string,
  signal: AbortSignal | undefined,
  timeoutMs = 10_000,
): Promise<unknown> {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (token !== undefined) headers["authorization"] = token;
  const timeout = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetchFn(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ query }),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    throw new HoustonError(`request to Houston failed: ${errorMessage(err)}`);
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new HoustonError(`Houston answered ${res.status}`, true);
  }
  if (res.status < 200 || res.status > 299) {
    await res.body?.cancel();
    throw new HoustonError(`Houston answered ${res.status}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readBodyBytes(res, MAX_RESPONSE_BYTES);
  } catch (err) {
    // An unread body keeps the connection (and the request's timeout) alive.
    await res.body?.cancel().catch(() => {});
    if (err instanceof HttpError) throw new HoustonError(`Houston's answer exceeds ${MAX_RESPONSE_BYTES} bytes`);
    throw new HoustonError(`reading Houston's answer failed: ${errorMessage(err)}`);
  }
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new HoustonError(`Houston answered with invalid JSON: ${errorMessage(err)}`);
  }
}

/** Looks integrations up in Houston's GraphQL API. */
export class HoustonClient implements IntegrationSource {
  /** Lookups made (for tests and logs). */
  lookups = 0;
  /** How the latest lookup ended (for `/ready`'s details): when, and the error if it failed. */
  lastLookup: { at: number; ok: boolean; error?: string } | undefined;

  constructor(
    private readonly opts: { url: string; tokens: TokenProvider; fetch?: Fetch; timeoutMs?: number },
  ) {}

  /** The GraphQL query for one app; the id is a JSON string literal, which GraphQL strings accept as is. */
  static query(appId: string): string {
    return `query sources { sources(id: ${JSON.stringify(appId)}) { clickstream { name topic: code enabled } } }`;
  }

  async lookup(appId: string, signal?: AbortSignal): Promise<Integration[]> {
    try {
      const found = await this.#lookupRetryingToken(appId, signal);
      this.lastLookup = { at: Date.now(), ok: true };
      return found;
    } catch (err) {
      this.lastLookup = { at: Date.now(), ok: false, error: err instanceof Error ? err.message : String(err) };
      throw err;
    }
  }

  async #lookupRetryingToken(appId: string, signal?: AbortSignal): Promise<Integration[]> {
    try {
      return await this.#lookupOnce(appId, signal);
    } catch (err) {
      // A rejected token is replaced once; a second rejection is a real failure.
      if (err instanceof HoustonError && err.unauthorized) return await this.#lookupOnce(appId, signal);
      throw err;
    }
  }

  async #lookupOnce(appId: string, signal?: AbortSignal): Promise<Integration[]> {
    const token = await this.opts.tokens.token(signal);
    this.lookups++;
    let body: unknown;
    try {
      body = await postGraphql(
        this.opts.fetch ?? fetch,
        this.opts.url,
        token,
        HoustonClient.query(appId),
        signal,
        this.opts.timeoutMs,
      );
    } catch (err) {
      if (err instanceof HoustonError && err.unauthorized) this.opts.tokens.rejected(token);
      throw err;
    }
    const parsed = sourcesResponse.safeParse(body);
    if (!parsed.success) throw new HoustonError(`lookup of app ${JSON.stringify(appId)}: unexpected response shape`);
    const errors = parsed.data.errors;
    if (errors && errors.length > 0) {
      const message = errors.map((e) => e.message ?? "error").join("; ");
      const unauthorized = /unauthori[sz]ed|unauthenticated/i.test(message);
      if (unauthorized) this.opts.tokens.rejected(token);
      throw new HoustonError(`lookup of app ${JSON.stringify(appId)}: ${message}`, unauthorized);
    }
    const sources = parsed.data.data?.sources;
    if (sources === null || sources === undefined) {
      throw new HoustonError(`lookup of app ${JSON.stringify(appId)}: no data in response`);
    }
    const result: Integration[] = [];
    for (const source of sources) {
      for (const c of source.clickstream ?? []) {
        if (c.enabled && c.topic !== "") result.push({ name: c.name, topic: c.topic });
      }
    }
    return result;
  }
}

/** `mock`'s integration source: every app has the same integrations. */
export class StaticIntegrationSource implements IntegrationSource {
  constructor(private readonly integrations: Integration[]) {}
  lookup(): Promise<Integration[]> {
    return Promise.resolve(this.integrations);
  }
}
