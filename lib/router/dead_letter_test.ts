import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { deadLetterKey } from "./dead_letter.ts";

const hashed = (id: string) => `sha256-${createHash("sha256").update(id).digest("hex")}`;

Deno.test("deadLetterKey is [prefix/]<integration>/<messageId> for ordinary ids", () => {
  assert.equal(deadLetterKey(undefined, "segment", "m-1"), "segment/m-1");
  assert.equal(deadLetterKey("", "segment", "m-1"), "segment/m-1");
  assert.equal(deadLetterKey("dlq/2026", "segment", "a b/c-é"), "dlq/2026/segment/a b/c-é");
});

Deno.test("deadLetterKey hashes ids S3 would refuse or read as path steps, so an upload cannot fail forever", () => {
  const long = "x".repeat(2000);
  assert.equal(deadLetterKey("p", "segment", long), `p/segment/${hashed(long)}`);
  // Exactly at the limit is kept; one byte over is hashed.
  const fits = "y".repeat(1024 - "segment/".length);
  assert.equal(deadLetterKey(undefined, "segment", fits), `segment/${fits}`);
  assert.equal(deadLetterKey(undefined, "segment", fits + "y"), `segment/${hashed(fits + "y")}`);
  for (const bad of ["", ".", "..", "../amplitude/x", "a/../../b", "/abs", "tab\there", "nul\0", "del\x7f"]) {
    assert.equal(deadLetterKey(undefined, "segment", bad), `segment/${hashed(bad)}`, JSON.stringify(bad));
  }
});
