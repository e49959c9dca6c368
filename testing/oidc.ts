/**
 * An OIDC token endpoint for OAUTHBEARER tests: a real HTTP server on 127.0.0.1 that answers the client-credentials
 * grant (HTTP Basic client authentication, as KIP-768 clients send it) with short-lived HS256-signed JWTs, and
 * checks them for the gateway.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Options of {@link startTokenEndpoint}. */
export interface TokenEndpointOptions {
  clientId: string;
  clientSecret: string;
  /** Token lifetime in seconds. */
  lifetimeS: number;
}

/** A running token endpoint. */
export interface TokenEndpoint extends AsyncDisposable {
  url: string;
  /** Tokens issued so far. */
  readonly issued: number;
  /** The gateway's check: signature and expiry; the remaining lifetime, or why not. */
  verify(token: string): Promise<{ lifetimeMs: number } | { error: string }>;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** Starts the endpoint on a free port. */
export function startTokenEndpoint(opts: TokenEndpointOptions): Promise<TokenEndpoint> {
  const key = randomBytes(32);
  let issued = 0;
  const sign = (payload: object) => {
    const head = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(payload))}`;
    return `${head}.${b64url(createHmac("sha256", key).update(head).digest())}`;
  };
  const expectedAuth = `Basic ${btoa(`${opts.clientId}:${opts.clientSecret}`)}`;
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        const url = `http://127.0.0.1:${port}/oauth2/token`;
        const close = () => server.shutdown();
        resolve({
          url,
          get issued() {
            return issued;
          },
          verify(token) {
            const [head, body, signature] = token.split(".");
            if (head === undefined || body === undefined || signature === undefined) {
              return Promise.resolve({ error: "not a JWT" });
            }
            const expected = createHmac("sha256", key).update(`${head}.${body}`).digest();
            const got = Buffer.from(signature, "base64url");
            if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
              return Promise.resolve({ error: "invalid token signature" });
            }
            const { exp } = JSON.parse(Buffer.from(body, "base64url").toString()) as { exp: number };
            const lifetimeMs = exp * 1000 - Date.now();
            return Promise.resolve(lifetimeMs > 0 ? { lifetimeMs } : { error: "token expired" });
          },
          close,
          [Symbol.asyncDispose]: close,
        });
      },
    }, async (req) => {
      const form = new URLSearchParams(await req.text());
      if (req.method !== "POST" || form.get("grant_type") !== "client_credentials") {
        return Response.json({ error: "unsupported_grant_type" }, { status: 400 });
      }
      if (req.headers.get("authorization") !== expectedAuth) {
        return Response.json({ error: "invalid_client" }, { status: 401 });
      }
      issued++;
      const now = Math.floor(Date.now() / 1000);
      const token = sign({ sub: opts.clientId, iat: now, exp: now + opts.lifetimeS, scope: form.get("scope") });
      return Response.json({ access_token: token, token_type: "bearer", expires_in: opts.lifetimeS });
    });
  });
}
