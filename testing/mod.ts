/**
 * Test doubles for code built on event-router's library (`mod.ts`): a clock that moves only when told, and a logger
 * that writes nothing. The real-server harness the project's own tests use is in `tests/_harness`.
 * @module
 */
export { ManualClock } from "../lib/clock.ts";
export { silentLogger } from "../lib/log.ts";
