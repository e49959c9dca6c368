/**
 * Reports batched events that could not be produced to the webhook URL their request named: one signed POST per
 * URL per flush, 3 tries with backoff, every outcome counted, and never awaited by the flush path.
 * @module
 */
import { createHmac } from "node:crypto";
import { MAX_BACKOFF_MS, retry } from "../backoff.ts";
import type { Clock, TimerId } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { KclMetrics } from "./metrics.ts";

/** One entry of a webhook body. */
export interface WebhookFailure {
  requestId?: string;
  topic: string;
  error: string;
  event: Record<string, unknown>;
}

/** A failure to report and where. */
export interface FailureReport {
  url: string;
  secret?: string;
  failure: WebhookFailure;
}

/** Options of {@link WebhookNotifier}. */
export interface WebhookNotifierOptions {
  clock: Clock;
  logger: Logger;
  metrics?: KclMetrics;
  fetch?: typeof fetch;
  /** Attempts per call (default 3). */
  tries?: number;
  /** Wait before the second try; doubled for each further one (default 500 ms). */
  backoffMs?: number;
  /** Time limit of one attempt (default 5 s). */
  timeoutMs?: number;
  /**
   * Most calls in progress (default 1000; each holds its failures' events until delivered). Past it new reports are
   * not sent: they are logged at error with their count and counted as `dropped`.
   */
  maxCalls?: number;
}

/** `sha256=<hex HMAC-SHA256 of body with secret>`, the value of the `KCL-Signature` header. */
export function signWebhookBody(body: string, secret: string): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}

/**
 * Sends failure reports.
 *
 * @example
 * ```ts
 * notifier.report([{ url, secret, failure: { requestId: "r-1", topic, error: "timeout", event } }]);
 * await notifier.idle(); // on shutdown
 * ```
 */
export class WebhookNotifier {
  readonly #opts: WebhookNotifierOptions;
  readonly #log: Logger;
  readonly #calls = new Set<Promise<void>>();
  readonly #fetch: typeof fetch;

  constructor(opts: WebhookNotifierOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: "webhook-notifier" });
    this.#fetch = opts.fetch ?? fetch;
  }

  /** Calls in progress. */
  get pending(): number {
    return this.#calls.size;
  }

  /** Groups `reports` by URL (and signing secret) and starts one call per group; returns at once. */
  report(reports: FailureReport[]): void {
    const groups = new Map<string, { url: string; secret?: string; failures: WebhookFailure[] }>();
    for (const r of reports) {
      const k = r.url + "\u0000" + (r.secret ?? "");
      let g = groups.get(k);
      if (g === undefined) {
        g = { url: r.url, failures: [] };
        if (r.secret !== undefined) g.secret = r.secret;
        groups.set(k, g);
      }
      g.failures.push(r.failure);
    }
    for (const g of groups.values()) {
      if (this.#calls.size >= (this.#opts.maxCalls ?? 1000)) {
        // Webhooks unreachable for long enough: memory must not grow with every further failure.
        this.#opts.metrics?.webhookCalls.labels("dropped").inc();
        this.#log.error("failure webhook backlog full: report not sent", {
          host: safeHost(g.url),
          failures: g.failures.length,
          requestIds: g.failures.map((f) => f.requestId).filter((id) => id !== undefined).slice(0, 20),
          maxCalls: this.#opts.maxCalls ?? 1000,
        });
        continue;
      }
      const call = this.#call(g.url, g.secret, g.failures).finally(() => this.#calls.delete(call));
      this.#calls.add(call);
    }
  }

  /** Resolves once every call started so far has finished (all tries). */
  async idle(): Promise<void> {
    while (this.#calls.size > 0) await Promise.all([...this.#calls]);
  }

  async #call(url: string, secret: string | undefined, failures: WebhookFailure[]): Promise<void> {
    const body = JSON.stringify({ failures });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (secret !== undefined) headers["kcl-signature"] = signWebhookBody(body, secret);
    try {
      const attempt = await retry(async (attempt) => {
        const problem = await this.#attempt(url, headers, body);
        if (problem !== null) throw new Error(problem);
        return attempt;
      }, {
        initialMs: this.#opts.backoffMs ?? 500,
        maxMs: MAX_BACKOFF_MS,
        maxAttempts: this.#opts.tries ?? 3,
        clock: this.#opts.clock,
        onRetry: (err, attempt) => {
          this.#opts.metrics?.webhookCalls.labels("retry").inc();
          this.#log.warn("failure webhook attempt failed; retrying", {
            host: safeHost(url),
            attempt,
            error: errorMessage(err),
          });
        },
      });
      this.#opts.metrics?.webhookCalls.labels("ok").inc();
      this.#log.info("failure webhook delivered", { host: safeHost(url), failures: failures.length, attempt });
    } catch (err) {
      this.#opts.metrics?.webhookCalls.labels("failed").inc();
      this.#log.error("failure webhook gave up", {
        host: safeHost(url),
        failures: failures.length,
        requestIds: failures.map((f) => f.requestId).filter((id) => id !== undefined).slice(0, 50),
        error: errorMessage(err),
      });
    }
  }

  /** One POST; null on a 2xx answer, else why not. */
  async #attempt(url: string, headers: Record<string, string>, body: string): Promise<string | null> {
    const controller = new AbortController();
    const timer: TimerId = this.#opts.clock.setTimeout(
      () => controller.abort(new Error("timed out")),
      this.#opts.timeoutMs ?? 5000,
    );
    try {
      // Redirects are not followed: the allow-list vetted this URL's host, not wherever it points next, and a
      // 307/308 would re-post the failed events (and their signature) there.
      const res = await this.#fetch(url, {
        method: "POST",
        headers,
        body,
        signal: controller.signal,
        redirect: "manual",
      });
      await res.body?.cancel();
      if (res.status >= 300 && res.status < 400) return `HTTP ${res.status} redirect not followed`;
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (err) {
      return errorMessage(err);
    } finally {
      this.#opts.clock.clearTimeout(timer);
    }
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "?";
  }
}
