/**
 * SASL OAUTHBEARER (RFC 7628, KIP-255) with tokens from an OIDC provider's client-credentials grant (KIP-768).
 *
 * ```
 * client  n,,\x01auth=Bearer <token>\x01\x01
 * server  (empty on success; a JSON error otherwise, which Kafka reports as the SaslAuthenticate error)
 * ```
 * @module
 */
import { type Clock, systemClock } from "../../clock.ts";
import { SaslError, type SaslMechanism } from "./mechanism.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A bearer token and when it stops being valid (ms since the epoch). */
export interface BearerToken {
  value: string;
  expiresAt: number;
}

/** Where tokens come from; it renews them itself. */
export interface TokenSource {
  token(): Promise<BearerToken>;
}

/**
 * The OAUTHBEARER mechanism, taking a fresh token from `tokens` for every authentication.
 *
 * @example
 * ```ts
 * const mechanism = oauthBearerMechanism(new ClientCredentialsTokens({ url, clientId, clientSecret }));
 * ```
 */
export function oauthBearerMechanism(tokens: TokenSource): SaslMechanism {
  return {
    name: "OAUTHBEARER",
    exchange: () => ({
      async start() {
        const { value } = await tokens.token();
        return utf8.encode(`n,,\x01auth=Bearer ${value}\x01\x01`);
      },
      next(server) {
        if (server.length === 0) return Promise.resolve(null);
        // RFC 7628 3.2.2: an error status; Kafka ends the exchange with SASL_AUTHENTICATION_FAILED right after.
        return Promise.reject(new SaslError(`OAUTHBEARER: the broker refused the token: ${text.decode(server)}`));
      },
    }),
  };
}

/** The part of `fetch` the token source uses (tests and services may pass their own). */
export type TokenFetch = (url: string, init: RequestInit) => Promise<Response>;

/** Options of {@link ClientCredentialsTokens}. */
export interface ClientCredentialsOptions {
  /** The provider's token endpoint. */
  url: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  clock?: Clock;
  fetch?: TokenFetch;
  /** How long a token endpoint request may take; default 10000 ms. */
  timeoutMs?: number;
}

/** Renew once this share of a token's lifetime has passed, as librdkafka and the Java client do (80 %). */
const RENEW_AT = 0.8;

/**
 * Tokens from an OIDC client-credentials grant (KIP-768: `grant_type=client_credentials`, HTTP Basic client
 * authentication), cached and renewed once 80 % of their lifetime has passed. Concurrent callers share one request.
 */
export class ClientCredentialsTokens implements TokenSource {
  readonly #opts: ClientCredentialsOptions;
  readonly #clock: Clock;
  #current: { token: BearerToken; renewAt: number } | undefined;
  #fetching: Promise<BearerToken> | undefined;

  constructor(opts: ClientCredentialsOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  token(): Promise<BearerToken> {
    const now = this.#clock.now();
    if (this.#current !== undefined && now < this.#current.renewAt) return Promise.resolve(this.#current.token);
    this.#fetching ??= this.#fetch().finally(() => this.#fetching = undefined);
    return this.#fetching;
  }

  async #fetch(): Promise<BearerToken> {
    const { url, clientId, clientSecret, scope } = this.#opts;
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    if (scope !== undefined) body.set("scope", scope);
    const basic = btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`);
    const requested = this.#clock.now();
    let res: Response;
    try {
      res = await (this.#opts.fetch ?? fetch)(url, {
        method: "POST",
        headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
        body,
        signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new SaslError(`OAUTHBEARER: token endpoint ${url} unreachable: ${(err as Error).message}`);
    }
    const answer = await res.text();
    if (!res.ok) {
      throw new SaslError(`OAUTHBEARER: token endpoint ${url} answered ${res.status}: ${answer.slice(0, 200)}`);
    }
    let parsed: { access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(answer);
    } catch {
      throw new SaslError(`OAUTHBEARER: token endpoint ${url} answered something that is not JSON`);
    }
    const value = parsed.access_token;
    const expiresIn = Number(parsed.expires_in);
    if (typeof value !== "string" || value === "" || !(expiresIn > 0)) {
      throw new SaslError(`OAUTHBEARER: token endpoint ${url} answered without access_token and expires_in`);
    }
    const token = { value, expiresAt: requested + expiresIn * 1000 };
    this.#current = { token, renewAt: requested + expiresIn * 1000 * RENEW_AT };
    return token;
  }
}
