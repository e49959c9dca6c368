/**
 * One submit run: every cached state becomes a fresh Flapjack event (`time` = now), or an UNKNOWN event once it is
 * older than its TTL, and all of them are written to Redis in one transaction.
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { type CachedState, type CheckStateName, submissionJson } from "./check_state.ts";
import type { FlapjackSink } from "./flapjack_sink.ts";
import type { LeaderLease } from "./leader_lease.ts";
import type { BrokerMetrics } from "./metrics.ts";
import type { StatePersistence } from "./persistence.ts";
import type { StateStore } from "./state_store.ts";

/** The summary Flapjack shows for a state past its TTL (the original's exact text). */
export function staleSummary(elapsedSeconds: number, ttlSeconds: number): string {
  return `httpbroker: Cached state is stale (${elapsedSeconds}s old, should be < ${ttlSeconds}s)`;
}

/** Events of one run and how many of each state. */
export interface Submission {
  payloads: string[];
  counts: Record<CheckStateName, number>;
}

/**
 * Builds the Redis payloads for `states` at `nowSeconds`. Fresh states reuse their cached JSON (see
 * {@link submissionJson}), so the cost per state is a slice and a concatenation.
 */
export function buildSubmission(states: Iterable<CachedState>, nowSeconds: number, logger: Logger): Submission {
  const payloads: string[] = [];
  const counts: Record<CheckStateName, number> = { ok: 0, warning: 0, critical: 0, unknown: 0 };
  const debug = logger.debugEnabled;
  for (const s of states) {
    const elapsed = nowSeconds - s.time;
    if (s.ttl >= 0 && elapsed > s.ttl) {
      if (debug) logger.debug(`State for ${s.key} is stale. Sending UNKNOWN.`);
      payloads.push(JSON.stringify({
        entity: s.entity,
        check: s.check,
        type: s.type,
        state: "unknown",
        summary: staleSummary(elapsed, s.ttl),
        details: s.details,
        tags: s.tags,
        time: nowSeconds,
      }));
      counts.unknown++;
    } else {
      payloads.push(submissionJson(s, nowSeconds));
      counts[s.state]++;
    }
    if (debug) logger.debug(`Sending event data for ${s.key}`);
  }
  return { payloads, counts };
}

/** What a run did (tests and logs). */
export type RunOutcome = "submitted" | "not-leader" | "redis-down" | "failed";

/** Options of {@link Submitter}. */
export interface SubmitterOptions {
  store: StateStore;
  sink: FlapjackSink;
  clock: Clock;
  logger: Logger;
  metrics: BrokerMetrics;
  /** Present unless `--no-persist`: the shared hash is re-read when another instance changed it. */
  persistence?: StatePersistence;
  /** Present when several instances may share the Redis. */
  lease?: LeaderLease;
}

/** Performs submit runs; the {@link Ticker} calls {@link Submitter.run} every interval. */
export class Submitter {
  readonly #o: SubmitterOptions;
  #downLogged = false;
  /** Outcome of the last run. */
  lastOutcome: RunOutcome | undefined;

  constructor(opts: SubmitterOptions) {
    this.#o = opts;
  }

  /** One run; never throws (a failure is logged and the next interval tries again). */
  async run(): Promise<RunOutcome> {
    this.lastOutcome = await this.#run();
    return this.lastOutcome;
  }

  async #run(): Promise<RunOutcome> {
    const { store, sink, clock, logger, metrics, persistence, lease } = this.#o;
    // The run's time is when it was due, not when the Redis round trips before the write came back.
    const nowSeconds = Math.floor(clock.now() / 1000);
    if (!sink.connected) {
      logger.info(`Number of cached states: ${store.size}`);
      if (!this.#downLogged) logger.warn("redis unreachable; submissions paused until it is back");
      this.#downLogged = true;
      return "redis-down";
    }
    this.#downLogged = false;
    try {
      if (persistence) await persistence.syncIfChanged();
      logger.info(`Number of cached states: ${store.size}`);
      if (lease && !(await lease.acquireOrRenew())) {
        logger.debug("another instance holds the lease; not submitting");
        return "not-leader";
      }
      const started = performance.now();
      const { payloads, counts } = buildSubmission(store.values(), nowSeconds, logger);
      await sink.submit(payloads);
      metrics.submitSeconds.observe((performance.now() - started) / 1000);
      for (const state of ["ok", "warning", "critical", "unknown"] as const) {
        if (counts[state] > 0) metrics.eventsSubmitted.inc({ state }, counts[state]);
      }
      return "submitted";
    } catch (err) {
      logger.warn("submit run failed; retrying next interval", { error: errorMessage(err) });
      return "failed";
    }
  }
}
