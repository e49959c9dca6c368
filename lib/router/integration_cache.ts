/**
 * Per-instance cache of each app's enabled integrations, in front of Houston: one lookup per app id however many
 * messages ask at once (single-flight), entries expire after a TTL (or never, until SSE replaces them), and a stale
 * entry keeps routing while its refresh fails.
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { Integration, IntegrationSource } from "./houston_client.ts";

interface Entry {
  integrations: Integration[];
  fetchedAt: number;
  /** Set when an SSE reconnect makes the entry suspect regardless of its age. */
  expired: boolean;
  /** After a failed refresh the stale entry is served without asking Houston again until then. */
  retryRefreshAt: number;
}

/** Hooks for metrics. */
export interface CacheEvents {
  miss?(appId: string): void;
  update?(appId: string): void;
  staleServed?(appId: string, error: unknown): void;
  /** An entry was dropped to stay within `maxEntries`. */
  evicted?(appId: string): void;
}

const DEFAULT_MAX_ENTRIES = 100_000;

/** Options of {@link IntegrationCache}. */
export interface IntegrationCacheOptions {
  source: IntegrationSource;
  clock: Clock;
  logger: Logger;
  /** Entry lifetime in ms; undefined keeps entries until {@link IntegrationCache.refresh} replaces them. */
  ttlMs: number | undefined;
  events?: CacheEvents;
  /** How long a stale entry is served before its refresh is tried again; default 1000 ms. */
  staleRetryMs?: number;
  /**
   * Most apps cached (default 100 000): app ids come from the consumed events, so a flood of made-up ids must not
   * grow the cache without bound. Past it the least recently fetched entry is dropped (it is looked up again if
   * its app comes back).
   */
  maxEntries?: number;
}

/**
 * The integration cache.
 *
 * @example
 * ```ts
 * const cache = new IntegrationCache({ source: houston, clock: systemClock, logger, ttlMs: 300_000 });
 * const integrations = cache.peek(appId) ?? await cache.get(appId);
 * ```
 */
export class IntegrationCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<Integration[]>>();
  readonly #opts: IntegrationCacheOptions;
  readonly #staleRetryMs: number;
  /** Entries fetched before this time may have missed a broadcast (see {@link expireOlderThan}). */
  #expiredBefore = -Infinity;
  #warnedFull = false;

  constructor(opts: IntegrationCacheOptions) {
    this.#opts = opts;
    this.#staleRetryMs = opts.staleRetryMs ?? 1000;
  }

  /** The integrations of `appId` when a fresh entry exists; no promise on the hot path. */
  peek(appId: string): Integration[] | undefined {
    const entry = this.#entries.get(appId);
    if (entry === undefined || this.#isExpired(entry)) return undefined;
    return entry.integrations;
  }

  /**
   * The integrations of `appId`: from a fresh entry, else from Houston (shared with concurrent callers). When the
   * entry is expired and the refresh fails, the stale entry is returned; with no entry at all, the failure rejects.
   */
  get(appId: string): Promise<Integration[]> {
    const entry = this.#entries.get(appId);
    if (entry !== undefined) {
      if (!this.#isExpired(entry)) return Promise.resolve(entry.integrations);
      if (this.#opts.clock.now() < entry.retryRefreshAt) return Promise.resolve(entry.integrations);
      return this.#fetch(appId).catch((err) => this.#serveStale(appId, err));
    }
    this.#opts.events?.miss?.(appId);
    return this.#fetch(appId);
  }

  /** Fetches `appId` again and replaces its entry (an SSE `clickstream` event); rejects when the lookup fails. */
  async refresh(appId: string): Promise<void> {
    // A lookup already running may have started before the change being announced, so start a new one after it.
    const running = this.#inFlight.get(appId);
    if (running !== undefined) await running.catch(() => {});
    await this.#fetch(appId);
  }

  /**
   * Marks every entry fetched before `time` as expired (after an SSE reconnect: broadcasts may have been missed).
   * Lookups still running that started before `time` store their answer already expired, for the same reason.
   */
  expireOlderThan(time: number): number {
    if (time > this.#expiredBefore) this.#expiredBefore = time;
    let count = 0;
    for (const entry of this.#entries.values()) {
      if (entry.fetchedAt < time && !entry.expired) {
        entry.expired = true;
        entry.retryRefreshAt = 0;
        count++;
      }
    }
    return count;
  }

  /** Removes every entry. */
  clear(): void {
    this.#entries.clear();
  }

  /** Number of cached apps. */
  get size(): number {
    return this.#entries.size;
  }

  /** `{ appId: { name: topic } }` for `GET /integrations`. */
  snapshot(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const [appId, entry] of this.#entries) {
      const m: Record<string, string> = {};
      for (const i of entry.integrations) m[i.name] = i.topic;
      out[appId] = m;
    }
    return out;
  }

  #isExpired(entry: Entry): boolean {
    if (entry.expired) return true;
    const ttl = this.#opts.ttlMs;
    return ttl !== undefined && this.#opts.clock.now() - entry.fetchedAt >= ttl;
  }

  #fetch(appId: string): Promise<Integration[]> {
    const running = this.#inFlight.get(appId);
    if (running !== undefined) return running;
    // The answer is as old as the request: Houston may have changed right after it read the integrations.
    const startedAt = this.#opts.clock.now();
    const p = this.#opts.source.lookup(appId).then((integrations) => {
      // Re-inserted at the end, so the Map's order is the fetch order and the first entry the oldest.
      this.#entries.delete(appId);
      this.#evictToFit();
      this.#entries.set(appId, {
        integrations,
        fetchedAt: startedAt,
        expired: startedAt < this.#expiredBefore,
        retryRefreshAt: 0,
      });
      this.#opts.events?.update?.(appId);
      return integrations;
    }).finally(() => this.#inFlight.delete(appId));
    this.#inFlight.set(appId, p);
    return p;
  }

  #evictToFit(): void {
    const max = this.#opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (this.#entries.size < max) return;
    if (!this.#warnedFull) {
      this.#warnedFull = true;
      this.#opts.logger.warn("integration cache full: dropping the least recently fetched apps", {
        maxEntries: max,
        help: "many distinct appIds are being consumed; each dropped app costs one Houston lookup when it returns",
      });
    }
    for (const key of this.#entries.keys()) {
      this.#entries.delete(key);
      this.#opts.events?.evicted?.(key);
      if (this.#entries.size < max) return;
    }
  }

  #serveStale(appId: string, err: unknown): Integration[] {
    const entry = this.#entries.get(appId);
    if (entry === undefined) throw err;
    entry.retryRefreshAt = this.#opts.clock.now() + this.#staleRetryMs;
    this.#opts.logger.warn("integration refresh failed, routing with the stale entry", {
      appId,
      error: errorMessage(err),
      fetchedAt: new Date(entry.fetchedAt).toISOString(),
    });
    this.#opts.events?.staleServed?.(appId, err);
    return entry.integrations;
  }
}
