/**
 * A real HTTP server on 127.0.0.1:0 that receives failure webhooks, checks their `KCL-Signature` HMAC, and can be
 * told to fail the next calls on purpose.
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

/** One call the server received. */
export interface WebhookCall {
  path: string;
  headers: Headers;
  body: string;
  /** The parsed body (undefined when it was not JSON). */
  json: unknown;
  /** Whether the signature matched the secret; undefined when no secret was configured. */
  signatureValid: boolean | undefined;
  /** The status the server answered. */
  status: number;
}

/** A running webhook receiver. */
export interface WebhookServer {
  /** Base URL, e.g. `http://127.0.0.1:4321`; append any path. */
  url: string;
  readonly calls: WebhookCall[];
  /** Answer the next `n` calls with `status` (default 500). */
  failNext(n: number, status?: number): void;
  /** Resolves once at least `n` calls arrived; rejects after `ms`. */
  waitForCalls(n: number, ms: number): Promise<WebhookCall[]>;
  close(): Promise<void>;
}

/**
 * Starts the receiver. With `secret`, every call's `KCL-Signature: sha256=<hex>` is checked against the HMAC-SHA256
 * of the raw body.
 *
 * @example
 * ```ts
 * await using hooks = await startWebhookServer({ secret: "s3cret" });
 * const [call] = await hooks.waitForCalls(1, 5000);
 * assert.equal(call.signatureValid, true);
 * ```
 */
export function startWebhookServer(opts: { secret?: string } = {}): Promise<WebhookServer & AsyncDisposable> {
  const calls: WebhookCall[] = [];
  let failures: { left: number; status: number } = { left: 0, status: 500 };
  const waiters = new Set<() => void>();
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
    }, async (req) => {
      const body = await req.text();
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      let status = 200;
      if (failures.left > 0) {
        failures.left--;
        status = failures.status;
      }
      calls.push({
        path: new URL(req.url).pathname,
        headers: req.headers,
        body,
        json,
        signatureValid: opts.secret === undefined
          ? undefined
          : verifySignature(body, opts.secret, req.headers.get("kcl-signature")),
        status,
      });
      for (const w of [...waiters]) w();
      return new Response(status === 200 ? "ok" : "failing on purpose", { status });
    });
    const addr = server.addr as Deno.NetAddr;
    const ws: WebhookServer & AsyncDisposable = {
      url: `http://127.0.0.1:${addr.port}`,
      calls,
      failNext(n, status = 500) {
        failures = { left: n, status };
      },
      waitForCalls(n, ms) {
        if (calls.length >= n) return Promise.resolve(calls);
        return new Promise((res, rej) => {
          const timer = setTimeout(() => {
            waiters.delete(check);
            rej(new Error(`webhook server got ${calls.length} of ${n} calls within ${ms} ms`));
          }, ms);
          const check = () => {
            if (calls.length >= n) {
              clearTimeout(timer);
              waiters.delete(check);
              res(calls);
            }
          };
          waiters.add(check);
        });
      },
      async close() {
        await server.shutdown();
      },
      async [Symbol.asyncDispose]() {
        await server.shutdown();
      },
    };
    resolve(ws);
  });
}

/** Checks `sha256=<hex>` against the HMAC-SHA256 of `body` with `secret`, in constant time. */
export function verifySignature(body: string, secret: string, header: string | null): boolean {
  if (header === null || !header.startsWith("sha256=")) return false;
  const expected = createHmac("sha256", secret).update(body).digest();
  const got = Buffer.from(header.slice("sha256=".length), "hex");
  return got.length === expected.length && timingSafeEqual(got, expected);
}
