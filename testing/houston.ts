/**
 * A fake Houston for router tests: a real HTTP server on 127.0.0.1 with the GraphQL endpoint the router calls
 * (`sources` lookups, `createToken`), an `authorization` check, per-app integrations a test can change, call counts,
 * failure switches, and the SSE `/broadcast` stream a test can push `clickstream` events into and cut.
 * @module
 */
import { type RouterConfig, routerConfig } from "../lib/config/router.ts";
import type { Registry } from "../lib/metrics.ts";
import { formatSseEvent } from "../lib/sse.ts";

/** One integration as Houston reports it. */
export interface FakeIntegration {
  name: string;
  topic: string;
  enabled: boolean;
}

/** Options of {@link FakeHouston.start}. */
export interface FakeHoustonOptions {
  /** Accepted as is in `authorization`. */
  apiKey?: string;
  /** Credentials `createToken` accepts. */
  username?: string;
  password?: string;
  /** Lifetime of issued JWTs in seconds; default 3600. */
  tokenTtlSec?: number;
}

/** One request to `/broadcast`. */
export interface SseRequest {
  authorization: string | null;
  lastEventId: string | null;
}

const encoder = new TextEncoder();

function base64url(s: string): string {
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The fake Houston server. */
export class FakeHouston implements AsyncDisposable {
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #port = 0;
  #apps = new Map<string, FakeIntegration[]>();
  #default: FakeIntegration[] | undefined;
  #tokens = new Map<string, number>();
  #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #tokenSeq = 0;
  /** `ok`: answer normally; `error500`: HTTP 500; `graphqlError`: 200 with an `errors` array. */
  mode: "ok" | "error500" | "graphqlError" = "ok";
  /** Delay before each lookup answer, in ms. */
  lookupDelayMs = 0;
  /** `sources` lookups answered successfully or not, in total and per app id. */
  lookups = 0;
  readonly lookupsByApp = new Map<string, number>();
  /** `createToken` calls. */
  logins = 0;
  /** Requests refused for a missing or wrong `authorization`. */
  unauthorized = 0;
  /** Every `/broadcast` request, in order. */
  readonly sseRequests: SseRequest[] = [];

  private constructor(readonly opts: FakeHoustonOptions) {}

  /** Starts the server on a free port. */
  static async start(opts: FakeHoustonOptions = {}): Promise<FakeHouston> {
    const h = new FakeHouston(opts);
    await h.up();
    return h;
  }

  /** The GraphQL endpoint (`ER_HOUSTON_API_URL`). */
  get url(): string {
    return `http://127.0.0.1:${this.#port}/v1`;
  }

  /** The SSE endpoint (`ER_SSE_URL`). */
  get sseUrl(): string {
    return `http://127.0.0.1:${this.#port}/broadcast`;
  }

  /** SSE streams open now. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /** Sets an app's integrations (enabled or not). */
  setIntegrations(appId: string, integrations: FakeIntegration[]): void {
    this.#apps.set(appId, integrations);
  }

  /** Integrations of every app not set explicitly; undefined makes such apps unknown (no source). */
  setDefault(integrations: FakeIntegration[] | undefined): void {
    this.#default = integrations;
  }

  /** Invalidates every issued token (the next call with one is unauthorized). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  /** Writes an SSE event to every open stream; returns how many streams got it. */
  push(event: { event?: string; data?: string; id?: string; retry?: number }): number {
    const bytes = encoder.encode(formatSseEvent(event));
    for (const c of this.#streams) c.enqueue(bytes);
    return this.#streams.size;
  }

  /** Pushes a `clickstream` event for `appId`. */
  pushClickstream(appId: string, id?: string): number {
    return this.push({ event: "clickstream", data: JSON.stringify({ appId }), id });
  }

  /** Ends every open SSE stream (the client sees the stream end). */
  cutStreams(): void {
    for (const c of this.#streams) {
      try {
        c.close();
      } catch {
        // already closed by the client
      }
    }
    this.#streams.clear();
  }

  /** Stops answering: the port is closed until {@link up}. */
  async down(): Promise<void> {
    this.cutStreams();
    const server = this.#server;
    this.#server = undefined;
    await server?.shutdown();
  }

  /** (Re)starts listening, on the same port after {@link down}. */
  async up(): Promise<void> {
    if (this.#server !== undefined) return;
    const ready = Promise.withResolvers<void>();
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: this.#port,
      onListen: (addr) => {
        this.#port = addr.port;
        ready.resolve();
      },
    }, (req) => this.#handle(req));
    await ready.promise;
  }

  /** Stops the server and ends every stream. */
  async close(): Promise<void> {
    await this.down();
  }

  /** `await using houston = ...` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #authorized(req: Request): boolean {
    const auth = req.headers.get("authorization");
    if (auth === null) return false;
    if (this.opts.apiKey !== undefined && auth === this.opts.apiKey) return true;
    const exp = this.#tokens.get(auth);
    return exp !== undefined && exp > Date.now();
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (path === "/broadcast") return this.#broadcast(req);
    if (path !== "/v1" || req.method !== "POST") return new Response("not found", { status: 404 });
    let query = "";
    try {
      const body = await req.json() as { query?: unknown };
      if (typeof body.query === "string") query = body.query;
    } catch {
      return Response.json({ errors: [{ message: "body is not JSON" }] }, { status: 400 });
    }
    if (query.startsWith("mutation createToken")) return this.#createToken(query);
    const m = /sources\(id: ("(?:[^"\\]|\\.)*")\)/.exec(query);
    if (m === null) return Response.json({ errors: [{ message: `unsupported query: ${query}` }] }, { status: 400 });
    const appId = JSON.parse(m[1]!) as string;
    this.lookups++;
    this.lookupsByApp.set(appId, (this.lookupsByApp.get(appId) ?? 0) + 1);
    if (!this.#authorized(req)) {
      this.unauthorized++;
      return Response.json({ data: null, errors: [{ message: "Unauthorized" }] });
    }
    if (this.lookupDelayMs > 0) await new Promise((r) => setTimeout(r, this.lookupDelayMs));
    if (this.mode === "error500") return new Response("internal error", { status: 500 });
    if (this.mode === "graphqlError") {
      return Response.json({ data: null, errors: [{ message: "database unavailable" }] });
    }
    const integrations = this.#apps.get(appId) ?? this.#default;
    const sources = integrations === undefined ? [] : [{
      clickstream: integrations.map((i) => ({ name: i.name, topic: i.topic, enabled: i.enabled })),
    }];
    return Response.json({ data: { sources } });
  }

  #createToken(query: string): Response {
    this.logins++;
    const m = /createToken\(username: ("(?:[^"\\]|\\.)*"), password: ("(?:[^"\\]|\\.)*")\)/.exec(query);
    const username = m ? JSON.parse(m[1]!) as string : undefined;
    const password = m ? JSON.parse(m[2]!) as string : undefined;
    if (username === undefined || username !== this.opts.username || password !== this.opts.password) {
      return Response.json({ data: { createToken: { success: false, message: "bad credentials", token: null } } });
    }
    const ttl = this.opts.tokenTtlSec ?? 3600;
    const exp = Math.floor(Date.now() / 1000) + ttl;
    const token = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${
      base64url(JSON.stringify({ sub: username, exp, n: ++this.#tokenSeq }))
    }.signature`;
    this.#tokens.set(token, exp * 1000);
    return Response.json({ data: { createToken: { success: true, message: null, token: { value: token } } } });
  }

  #broadcast(req: Request): Response {
    this.sseRequests.push({
      authorization: req.headers.get("authorization"),
      lastEventId: req.headers.get("last-event-id"),
    });
    if (!this.#authorized(req)) {
      this.unauthorized++;
      return new Response("unauthorized", { status: 401 });
    }
    let controller: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        this.#streams.add(c);
        c.enqueue(encoder.encode(": connected\n\n"));
      },
      cancel: () => {
        this.#streams.delete(controller);
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
  }
}

/** What {@link routerTestConfig} needs to point a router at test servers. */
export interface RouterTestSetup {
  bootstrap: string;
  ingestionTopic: string;
  groupId: string;
  /** Houston to look integrations up in; omit for `mock`'s fixed list. */
  houston?: FakeHouston;
  apiKey?: string;
  login?: { username: string; password: string };
  /** Fixed integrations (`mock`) when no Houston is given. */
  integrations?: { name: string; topic: string }[];
  sse?: boolean;
  retry?: { topic: string; bucket: string; prefix?: string; endpoint: string };
  maxRetries?: number;
  cacheTtlMs?: number;
  flushTimeoutMs?: number;
  messageTimeoutMs?: number;
  compression?: RouterConfig["compression"];
  kafkaSecurity?: RouterConfig["kafkaSecurity"];
}

/** A {@link RouterConfig} for tests (what `loadRouterConfig` would build from the equivalent env). */
export function routerTestConfig(s: RouterTestSetup): RouterConfig {
  return routerConfig({
    bootstrapServers: s.bootstrap.split(","),
    serverPort: 0,
    groupId: s.groupId,
    ingestionTopic: s.ingestionTopic,
    sseUrl: s.sse && s.houston ? s.houston.sseUrl : undefined,
    flushTimeoutMs: s.flushTimeoutMs ?? 5000,
    messageTimeoutMs: s.messageTimeoutMs ?? 5000,
    maxRetries: s.maxRetries ?? 2,
    retry: s.retry === undefined ? undefined : {
      topic: s.retry.topic,
      s3: {
        bucket: s.retry.bucket,
        prefix: s.retry.prefix,
        region: "us-east-1",
        endpoint: s.retry.endpoint,
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      },
    },
    source: s.houston === undefined ? { kind: "static", integrations: s.integrations ?? [] } : {
      kind: "houston",
      url: s.houston.url,
      auth: s.login ?? { apiKey: s.apiKey ?? s.houston.opts.apiKey ?? "" },
    },
    cacheTtlMs: s.cacheTtlMs,
    compression: s.compression ?? "none",
    kafkaSecurity: s.kafkaSecurity ?? { protocol: "PLAINTEXT" },
  });
}

/** The value of a counter (summed over label sets matching `labels`). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const metric = registry.getSingleMetric(name) ?? registry.getSingleMetric(name.replace(/_(count|sum)$/, ""));
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  let sum = 0;
  for (const v of values) {
    const l = v.labels as Record<string, unknown>;
    // Histograms report _bucket/_sum/_count series; `name` may pick one of them.
    const series = (v as { metricName?: string }).metricName;
    if (series !== undefined && series !== name) continue;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) sum += v.value;
  }
  return sum;
}
