/**
 * The one owner of the cached states: every read and write goes through {@link StateStore}, which also tracks which
 * keys changed since they were last persisted, so requests never wait on Redis.
 * @module
 */
import type { CachedState } from "./check_state.ts";
import { cachedStateObject } from "./check_state.ts";

/**
 * The cache of last states by `entity:check`. JavaScript runs one task at a time, so each method sees and leaves the
 * map consistent; {@link StateStore.snapshot} is taken in one synchronous pass.
 */
export class StateStore {
  /** Most states cached; {@link admits} says whether a write fits (restored and known states always do). */
  readonly maxStates: number;
  #states = new Map<string, CachedState>();
  #dirty = new Set<string>();
  #onDirty: () => void = () => {};

  /** Called (synchronously, cheaply) whenever a key becomes dirty; persistence schedules a write from it. */
  set onDirty(fn: () => void) {
    this.#onDirty = fn;
  }

  constructor(maxStates = Number.POSITIVE_INFINITY) {
    this.maxStates = maxStates;
  }

  /** Whether `key` can be cached: an update always fits, a new check only within {@link maxStates}. */
  admitsOne(key: string): boolean {
    return this.#states.size < this.maxStates || this.#states.has(key);
  }

  /** Whether the distinct `keys` can all be cached (the rule of {@link admitsOne}, for a bulk request). */
  admits(keys: Iterable<string>): boolean {
    let room = this.maxStates - this.#states.size;
    for (const key of keys) {
      if (!this.#states.has(key) && --room < 0) return false;
    }
    return true;
  }

  /** Number of cached states. */
  get size(): number {
    return this.#states.size;
  }

  /** Number of keys waiting to be persisted. */
  get dirtyCount(): number {
    return this.#dirty.size;
  }

  /** Caches (or replaces) a state and marks it dirty. */
  put(state: CachedState): void {
    this.#states.set(state.key, state);
    this.#markDirty(state.key);
  }

  /** Forgets a state; false when it was not cached. */
  delete(key: string): boolean {
    if (!this.#states.delete(key)) return false;
    this.#markDirty(key);
    return true;
  }

  get(key: string): CachedState | undefined {
    return this.#states.get(key);
  }

  /** Every cached state (the live iterator: consume it synchronously). */
  values(): IterableIterator<CachedState> {
    return this.#states.values();
  }

  /** All states as `GET /state` returns them, keyed `entity:check`. */
  snapshot(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const [key, s] of this.#states) out[key] = cachedStateObject(s);
    return out;
  }

  /** Hands the dirty keys to the caller (who writes them) and clears the set. */
  takeDirty(): string[] {
    const keys = [...this.#dirty];
    this.#dirty.clear();
    return keys;
  }

  /** Marks keys dirty again (a write failed), or every cached key when none are given (Redis came back). */
  markDirty(keys?: Iterable<string>): void {
    for (const k of keys ?? this.#states.keys()) this.#dirty.add(k);
    if (this.#dirty.size > 0) this.#onDirty();
  }

  /** Whether a key has a change not yet persisted (a local write that must win over what Redis has). */
  isDirty(key: string): boolean {
    return this.#dirty.has(key);
  }

  /** Replaces a state with the persisted one without marking it dirty (it already is in Redis). */
  adopt(state: CachedState): void {
    this.#states.set(state.key, state);
  }

  /** Drops a state that another instance deleted, without marking it dirty. */
  forget(key: string): void {
    this.#states.delete(key);
  }

  /** Keys currently cached. */
  keys(): IterableIterator<string> {
    return this.#states.keys();
  }

  #markDirty(key: string): void {
    this.#dirty.add(key);
    this.#onDirty();
  }
}
