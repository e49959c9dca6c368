/**
 * Posted check states: the hand-written hot-path validator agrees with the zod schema (the schema of record) on good
 * and bad inputs (same verdict, same output object, same key order), and every field of STATE_FIELDS survives the
 * round trip to the cache, Redis, GET /state and a submission.
 * @module
 */
import assert from "node:assert/strict";
import {
  cachedStateObject,
  fastParsePostedState,
  parsePersistedState,
  parsePostedStates,
  postedStateSchema,
  STATE_FIELDS,
  type StateField,
  submissionJson,
  toCachedState,
} from "./check_state.ts";

const BASE = { entity: "foo-app-01", check: "PING", state: "OK" };

/** Valid events: the fast path must accept each and build exactly what zod builds. */
const GOOD: Record<string, unknown>[] = [
  BASE,
  { ...BASE, type: "service", tags: "apps", summary: "3 ms round trip", ttl: 30 },
  { ...BASE, state: "ok" },
  { ...BASE, state: "Warning" },
  { ...BASE, state: "CRITICAL" },
  { ...BASE, state: "unknown" },
  // The Kelvin sign lower-cases to "k": the schema accepts it, so the fast path must too.
  { ...BASE, state: "o\u212A" },
  { ...BASE, summary: "" },
  { ...BASE, details: "d", perfdata: "rtt=3ms", type: "host" },
  { ...BASE, tags: ["a", "b"] },
  { ...BASE, tags: [] },
  { ...BASE, tags: " a , ,b,," },
  { ...BASE, tags: "" },
  { ...BASE, tags: "," },
  { ...BASE, tags: "solo" },
  // Whitespace beyond ASCII is trimmed too (no-break space, line separator, BOM), and inner spaces stay.
  { ...BASE, tags: "\u00a0a\u2028,\ufeffb c\t,\u3000" },
  { ...BASE, time: 0 },
  { ...BASE, time: 1429505587 },
  { ...BASE, time: Number.MAX_SAFE_INTEGER },
  { ...BASE, time: -0 },
  { ...BASE, ttl: -1 },
  { ...BASE, ttl: 0 },
  { ...BASE, ttl: -0 },
  { ...BASE, ttl: Number.MIN_SAFE_INTEGER },
  { ...BASE, ttl: Number.MAX_SAFE_INTEGER },
  { ...BASE, ttl: 1e3 },
  { entity: "ünïcödé 🚀", check: "\u0000\u2028", state: "OK", summary: "\uFFFD \ud83d" },
  // Field order in the input does not matter; the output follows the schema.
  {
    ttl: 5,
    tags: "x",
    time: 10,
    type: "t",
    perfdata: "p",
    details: "d",
    summary: "s",
    state: "ok",
    check: "c",
    entity: "e",
  },
  // From JSON.parse, as the handler sees it.
  JSON.parse('{"entity":"a","check":"b","state":"ok","ttl":300,"time":1}'),
];

/** Invalid events: the fast path must decline each (zod then reports why) and zod must reject each. */
const BAD: unknown[] = [
  null,
  undefined,
  "event",
  42,
  true,
  [],
  [BASE],
  {},
  { check: "c", state: "ok" },
  { ...BASE, entity: "" },
  { ...BASE, entity: 1 },
  { ...BASE, entity: null },
  { ...BASE, check: "" },
  { ...BASE, check: ["c"] },
  { ...BASE, state: "fine" },
  { ...BASE, state: "" },
  { ...BASE, state: " ok" },
  { ...BASE, state: 0 },
  { entity: "e", check: "c" },
  { ...BASE, summary: 1 },
  { ...BASE, summary: null },
  { ...BASE, details: false },
  { ...BASE, perfdata: {} },
  { ...BASE, type: "" },
  { ...BASE, type: 1 },
  { ...BASE, tags: [1] },
  { ...BASE, tags: ["a", null] },
  { ...BASE, tags: {} },
  { ...BASE, tags: null },
  { ...BASE, tags: 7 },
  { ...BASE, time: -1 },
  { ...BASE, time: 1.5 },
  { ...BASE, time: "1429505587" },
  { ...BASE, time: Number.MAX_SAFE_INTEGER + 1 },
  { ...BASE, time: Infinity },
  { ...BASE, time: NaN },
  { ...BASE, time: null },
  { ...BASE, ttl: 0.5 },
  { ...BASE, ttl: "30" },
  { ...BASE, ttl: Number.MIN_SAFE_INTEGER - 1 },
  { ...BASE, ttl: -Infinity },
  { ...BASE, ttl: null },
  JSON.parse('{"entity":"a","check":"b","state":"ok","ttl":1e400}'),
  { ...BASE, initial_failure_delay: -1 },
  { ...BASE, repeat_failure_delay: "60" },
  { ...BASE, initial_recovery_delay: 1.5 },
  { ...BASE, acknowledgement_id: true },
  { ...BASE, duration: null },
];

/**
 * Events with fields the broker does not know: valid, the fields ignored (as Go's decoder does). The fast path
 * declines them (zod decides), and nothing of theirs may reach the state, not even as an inherited property.
 */
const UNKNOWN_FIELDS: [Record<string, unknown>, string][] = [
  [{ ...BASE, extra: 1 }, "extra"],
  [{ ...BASE, Entity: "x" }, "Entity"],
  [JSON.parse('{"entity":"foo-app-01","check":"PING","state":"OK","__proto__":{"ttl":1}}'), "__proto__"],
  [JSON.parse('{"entity":"foo-app-01","check":"PING","state":"OK","constructor":"x"}'), "constructor"],
  [JSON.parse('{"entity":"foo-app-01","check":"PING","state":"OK","toString":"x"}'), "toString"],
  [JSON.parse('{"entity":"foo-app-01","check":"PING","state":"OK","hasOwnProperty":1}'), "hasOwnProperty"],
];

Deno.test("httpbroker ignores unknown fields: the event is what it is without them, and they are reported", () => {
  const plain = parsePostedStates({ entity: "foo-app-01", check: "PING", state: "OK" });
  assert.ok(plain.ok);
  for (const [input, field] of UNKNOWN_FIELDS) {
    assert.equal(fastParsePostedState(input), undefined, `fast path declines ${field}`);
    const r = parsePostedStates(input);
    assert.ok(r.ok, field);
    if (!r.ok || !plain.ok) continue;
    assert.deepStrictEqual(r.states, plain.states, field);
    assert.deepEqual(r.ignored, [field]);
  }
});

Deno.test("httpbroker keeps Flapjack's own event fields and passes them on before time", () => {
  const r = parsePostedStates({
    ...BASE,
    details: null,
    perfdata: null,
    tags: "apps, prod",
    initial_failure_delay: 30,
    repeat_failure_delay: 60,
    initial_recovery_delay: 0,
    acknowledgement_id: "ack-1",
    duration: 3600,
    time: 7,
  });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.deepEqual(r.ignored, []);
  const cached = toCachedState(r.states[0]!, 100);
  assert.equal(cached.details, undefined);
  assert.deepEqual(
    JSON.parse(submissionJson(cached, 9)),
    {
      entity: "foo-app-01",
      check: "PING",
      type: "service",
      state: "ok",
      summary: "",
      tags: ["apps", "prod"],
      initial_failure_delay: 30,
      repeat_failure_delay: 60,
      initial_recovery_delay: 0,
      acknowledgement_id: "ack-1",
      duration: 3600,
      time: 9,
    },
  );
  assert.match(submissionJson(cached, 9), /"duration":3600,"time":9}$/);
});

Deno.test("httpbroker fast validator builds exactly what zod builds for valid events", () => {
  for (const input of GOOD) {
    const label = JSON.stringify(input);
    const z = postedStateSchema.safeParse(input);
    assert.ok(z.success, `zod rejects a GOOD case: ${label}`);
    const fast = fastParsePostedState(input);
    assert.ok(fast !== undefined, `fast path declines a valid event: ${label}`);
    assert.deepStrictEqual(fast, z.data, label);
    assert.deepStrictEqual(Object.keys(fast), Object.keys(z.data), `key order: ${label}`);
    if (Array.isArray((input as { tags?: unknown }).tags)) {
      assert.notStrictEqual(fast.tags, (input as { tags?: unknown }).tags, `tags copied: ${label}`);
    }
  }
});

Deno.test("httpbroker fast validator declines every invalid event, and zod rejects each", () => {
  for (const input of BAD) {
    const label = String(JSON.stringify(input));
    assert.equal(fastParsePostedState(input), undefined, `fast path accepts: ${label}`);
    assert.equal(postedStateSchema.safeParse(input).success, false, `zod accepts a BAD case: ${label}`);
  }
});

Deno.test("httpbroker parsePostedStates reports zod's messages for what the fast path declines", () => {
  const r = parsePostedStates([BASE, { ...BASE, state: "fine" }, JSON.parse('{"__proto__":1,"entity":"a"}')]);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepStrictEqual(r.details.map((d) => [d.index, d.path]), [
    [1, "state"],
    [2, "check"],
    [2, "state"],
  ]);
  assert.match(r.details[0]?.message ?? "", /state "fine" is not one of ok, warning, critical, unknown/);
  const good = parsePostedStates(GOOD);
  assert.ok(good.ok);
  if (good.ok) assert.equal(good.states.length, GOOD.length);
});

Deno.test("httpbroker submission payload: the cached JSON with a fresh time and no ttl, whatever the text holds", () => {
  const tricky = ',"time":1,"ttl":2}';
  const r = parsePostedStates({
    entity: `e${tricky}`,
    check: "c",
    state: "WARNING",
    summary: tricky,
    details: "d",
    tags: ["t", tricky],
    perfdata: tricky,
    time: 7,
    ttl: 30,
  });
  assert.ok(r.ok);
  if (!r.ok) return;
  const cached = toCachedState(r.states[0]!, 100);
  const fields = {
    entity: `e${tricky}`,
    check: "c",
    type: "service",
    state: "warning",
    summary: tricky,
    details: "d",
    tags: ["t", tricky],
    perfdata: tricky,
  };
  assert.equal(cached.json, JSON.stringify({ ...fields, time: 7, ttl: 30 }));
  assert.equal(submissionJson(cached, 1_700_000_000), JSON.stringify({ ...fields, time: 1_700_000_000 }));
  // Absent optional fields stay absent, and the receive time fills in a missing time.
  const plain = toCachedState({ ...r.states[0]!, details: undefined, tags: undefined, time: undefined }, 100);
  const { details: _d, tags: _t, ...rest } = fields;
  assert.equal(plain.json, JSON.stringify({ ...rest, time: 100, ttl: 30 }));
  assert.equal(submissionJson(plain, 101), JSON.stringify({ ...rest, time: 101 }));
});

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
