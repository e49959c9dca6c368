import assert from "node:assert/strict";
import {
  cachedStateObject,
  parsePersistedState,
  parsePostedStates,
  STATE_FIELDS,
  type StateField,
  submissionJson,
  toCachedState,
} from "./check_state.ts";

/** A posted value for every field of the list (as a client sends it) and what the broker keeps of it. */
const EVERY_FIELD: { [F in StateField]: { posted: unknown; kept: unknown } } = {
  entity: { posted: "db-01", kept: "db-01" },
  check: { posted: "DISK", kept: "DISK" },
  type: { posted: "service", kept: "service" },
  state: { posted: "CRITICAL", kept: "critical" },
  summary: { posted: "disk 97% full", kept: "disk 97% full" },
  details: { posted: "/var: 97%", kept: "/var: 97%" },
  tags: { posted: "storage, prod", kept: ["storage", "prod"] },
  perfdata: { posted: "used=97%;90;95", kept: "used=97%;90;95" },
  initial_failure_delay: { posted: 30, kept: 30 },
  repeat_failure_delay: { posted: 60, kept: 60 },
  initial_recovery_delay: { posted: 0, kept: 0 },
  acknowledgement_id: { posted: "ack-7", kept: "ack-7" },
  duration: { posted: 3600, kept: 3600 },
};

/** The required fields, so each optional one can be posted alone beside them. */
const REQUIRED = { entity: "db-01", check: "DISK", state: "ok" };

Deno.test("every state field survives the round trip: posted → cached JSON → persisted → GET /state → submission", () => {
  for (const field of STATE_FIELDS) {
    const { posted, kept } = EVERY_FIELD[field];
    const parsed = parsePostedStates({ ...REQUIRED, [field]: posted, time: 100, ttl: 60 });
    assert.ok(parsed.ok, field);
    assert.deepEqual(parsed.ignored, [], field);
    const cached = toCachedState(parsed.states[0]!, 999);
    const shown = cachedStateObject(cached);
    assert.deepEqual(shown[field], kept, `GET /state shows ${field}`);
    assert.equal(shown.time, 100);
    assert.equal(shown.ttl, 60);
    const restored = parsePersistedState(cached.json);
    assert.ok(restored !== undefined, `${field}: the persisted JSON reads back`);
    assert.equal(restored.json, cached.json, `${field}: reading back changes nothing`);
    const submitted = JSON.parse(submissionJson(cached, 12345));
    assert.deepEqual(submitted[field], kept, `the submission carries ${field}`);
    assert.equal(submitted.time, 12345);
    assert.equal("ttl" in submitted, false, "no ttl in a submission");
  }
});

Deno.test("the cached JSON lists the fields in STATE_FIELDS order, then time and ttl, whatever order they came in", () => {
  const all = Object.fromEntries(STATE_FIELDS.map((f) => [f, EVERY_FIELD[f].posted]).reverse());
  const parsed = parsePostedStates({ ttl: 5, time: 4, ...all });
  assert.ok(parsed.ok);
  const cached = toCachedState(parsed.states[0]!, 999);
  assert.deepEqual(Object.keys(JSON.parse(cached.json)), [...STATE_FIELDS, "time", "ttl"]);
  assert.deepEqual(Object.keys(JSON.parse(submissionJson(cached, 1))), [...STATE_FIELDS, "time"]);
  // The submission head ends right before the time, found without searching.
  assert.equal(cached.json.slice(cached.timeAt), ',"time":4,"ttl":5}');
});

Deno.test("a summary that contains the text of a time field does not cut the submission short", () => {
  const parsed = parsePostedStates({ ...REQUIRED, summary: 'x,"time":1,"ttl":2}', time: 3 });
  assert.ok(parsed.ok);
  const cached = toCachedState(parsed.states[0]!, 999);
  const submitted = JSON.parse(submissionJson(cached, 8));
  assert.equal(submitted.summary, 'x,"time":1,"ttl":2}');
  assert.equal(submitted.time, 8);
});
