/**
 * The bookkeeping of one fetched batch while its messages are handled concurrently: which are done, how far the done
 * prefix reaches, and commits of that prefix that never go backwards ({@link BatchProgress}); and the heartbeat loop
 * that keeps the group membership alive and commits progress while a long batch runs ({@link startHeartbeats}).
 * @module
 */
import type { Clock, TimerId } from "../../clock.ts";

/**
 * Done flags of a batch's messages and the commits of its done prefix. Messages finish in any order; only an
 * unbroken prefix of done messages is committed, so a crash re-delivers everything after the first undone one.
 *
 * @example
 * ```ts
 * const progress = new BatchProgress(messages.map((m) => m.offset), (last) => commitAfter(last));
 * progress.markDone(1); // nothing to commit yet: message 0 is still running
 * progress.markDone(0);
 * await progress.commitDone(); // commits after message 1
 * ```
 */
export class BatchProgress {
  readonly #offsets: readonly string[];
  readonly #commit: (lastOffset: string) => Promise<boolean>;
  readonly #done: Uint8Array;
  #donePrefix = 0;
  #committedPrefix = 0;
  #committing: Promise<void> = Promise.resolve();

  /**
   * @param offsets the batch's message offsets, in order
   * @param commit commits the position after `lastOffset` (the last message of the done prefix); resolves whether it
   *   was committed (false: it failed for good and the messages will be delivered again)
   */
  constructor(offsets: readonly string[], commit: (lastOffset: string) => Promise<boolean>) {
    this.#offsets = offsets;
    this.#commit = commit;
    this.#done = new Uint8Array(offsets.length);
  }

  /** Message `index` is finished (routed, or handed to the retry lane). */
  markDone(index: number): void {
    this.#done[index] = 1;
  }

  /** Whether message `index` is finished. */
  isDone(index: number): boolean {
    return this.#done[index] === 1;
  }

  /** Messages finished without a gap from the start of the batch. */
  get donePrefix(): number {
    return this.#donePrefix;
  }

  /** Messages whose offsets a commit has covered. */
  get committedPrefix(): number {
    return this.#committedPrefix;
  }

  /**
   * Commits the position after the done prefix, when it grew since the last commit. Calls are serialised, so a
   * commit never overtakes an earlier one and offsets never go backwards.
   */
  commitDone(): Promise<void> {
    this.#committing = this.#committing.then(async () => {
      const count = this.#offsets.length;
      while (this.#donePrefix < count && this.#done[this.#donePrefix] === 1) this.#donePrefix++;
      if (this.#donePrefix === this.#committedPrefix) return;
      const target = this.#donePrefix;
      if (await this.#commit(this.#offsets[target - 1]!)) this.#committedPrefix = target;
    });
    return this.#committing;
  }
}

/** What {@link startHeartbeats} is given. */
export interface HeartbeatOptions {
  clock: Clock;
  intervalMs: number;
  /** Tells the group coordinator this member is alive; rejects when the membership is lost (a rebalance). */
  heartbeat: () => Promise<void>;
  /** Run after each successful heartbeat (commit the progress so far). */
  afterBeat: () => Promise<void>;
  /** The first heartbeat that failed; the loop stops there. */
  onFailure: (err: unknown) => void;
}

/** A running heartbeat loop. */
export interface Heartbeats {
  /** Stops the loop and waits for a beat in progress. */
  stop(): Promise<void>;
}

/**
 * Beats every `intervalMs` (on the clock) until stopped or a beat fails: keeps a batch that runs longer than the
 * session timeout from costing the partition, and commits what is done meanwhile.
 */
export function startHeartbeats(o: HeartbeatOptions): Heartbeats {
  let timer: TimerId | null = null;
  let beating: Promise<void> = Promise.resolve();
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = o.clock.setTimeout(() => {
      timer = null;
      beating = (async () => {
        try {
          await o.heartbeat();
        } catch (err) {
          o.onFailure(err);
          return;
        }
        await o.afterBeat();
        schedule();
      })();
    }, o.intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer !== null) o.clock.clearTimeout(timer);
      await beating;
    },
  };
}
