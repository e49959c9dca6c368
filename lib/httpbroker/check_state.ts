/**
 * The check state a client posts to `POST /state`, validated with zod at the edge, and its cached form with the JSON
 * renderings Flapjack and the original broker used (`Caching state: ...`, the Redis event payload).
 * @module
 */
import { z } from "zod";
import type { ErrorDetail } from "../http/errors.ts";

/** The states Flapjack understands, lower case. */
export const CHECK_STATES = ["ok", "warning", "critical", "unknown"] as const;

/** One of {@link CHECK_STATES}. */
export type CheckStateName = typeof CHECK_STATES[number];

/** TTL applied when a client sends none (seconds). */
export const DEFAULT_TTL_SECONDS = 300;

const nonEmpty = (field: string) =>
  z.string({ error: (i) => i.input === undefined ? `${field} is required` : `${field} must be a string` })
    .min(1, { error: `${field} must not be empty` });

const stateField = z.string({
  error: (i) =>
    i.input === undefined ? "state is required" : `state must be a string (one of ${CHECK_STATES.join(", ")})`,
}).transform((s, ctx): CheckStateName => {
  const state = checkStateName(s);
  if (state !== undefined) return state;
  ctx.addIssue({
    code: "custom",
    message: `state ${JSON.stringify(s)} is not one of ${CHECK_STATES.join(", ")} (any case)`,
  });
  return z.NEVER;
});

// The seed's own example sends "tags": "apps", so a comma-separated string is accepted as well as an array.
const tagsField = z.union([z.array(z.string()), z.string()], {
  error: "tags must be an array of strings or a comma-separated string",
}).transform((t) => typeof t === "string" ? splitTags(t) : t);

// Flapjack's decoder takes `null` for an absent string (Go's *string, Ruby's nil), so it is read as absent.
const optionalString = (field: string) =>
  z.string({ error: `${field} must be a string` }).nullish().transform((v) => v ?? undefined);

const delaySeconds = (field: string) =>
  z.number({ error: `${field} must be a number of seconds` }).int({ error: `${field} must be whole seconds` })
    .nonnegative({ error: `${field} must not be negative` }).optional();

/** Flapjack event fields the broker does not interpret but passes on to Flapjack as given, in this order. */
export const FLAPJACK_FIELDS = [
  "initial_failure_delay",
  "repeat_failure_delay",
  "initial_recovery_delay",
  "acknowledgement_id",
  "duration",
] as const;

/** Values of {@link FLAPJACK_FIELDS} an event carried. */
export type FlapjackFields = Partial<Record<typeof FLAPJACK_FIELDS[number], number | string>>;

/**
 * The fields of a check state before `time` and `ttl`, in Flapjack's event order: the one list of them. The cached
 * JSON (answered, persisted, submitted) carries them in this order ({@link toCachedState}'s serializer is typed
 * against it), then `time` and `ttl`; the fast path and the known-field check are built from it.
 */
export const STATE_FIELDS = [
  "entity",
  "check",
  "type",
  "state",
  "summary",
  "details",
  "tags",
  "perfdata",
  ...FLAPJACK_FIELDS,
] as const;

/** One of {@link STATE_FIELDS}. */
export type StateField = typeof STATE_FIELDS[number];

/** Every field the broker knows; others are ignored (as Go's decoder does), counted and logged at debug. */
export const KNOWN_FIELDS: ReadonlySet<string> = new Set([...STATE_FIELDS, "time", "ttl"]);

/** The fields {@link fastParsePostedState} handles itself; an event with any other goes to zod. */
const FAST_PATH_FIELDS: ReadonlySet<string> = new Set(
  [...STATE_FIELDS, "time", "ttl"].filter((f) => !(FLAPJACK_FIELDS as readonly string[]).includes(f)),
);

/**
 * The body of one posted event: Flapjack's event fields plus `ttl`; unknown fields are dropped (see
 * {@link KNOWN_FIELDS}). `time` is filled in by {@link toCachedState}.
 */
export const postedStateSchema = z.object({
  entity: nonEmpty("entity"),
  check: nonEmpty("check"),
  state: stateField,
  summary: z.string({ error: "summary must be a string" }).default(""),
  details: optionalString("details"),
  perfdata: optionalString("perfdata"),
  type: z.string({ error: "type must be a string" }).min(1, { error: "type must not be empty" }).default("service"),
  tags: tagsField.optional(),
  time: z.number({ error: "time must be a number (unix seconds)" }).int({ error: "time must be whole unix seconds" })
    .nonnegative({ error: "time must not be negative" }).optional(),
  ttl: z.number({ error: "ttl must be an integer number of seconds" }).int({
    error: "ttl must be an integer number of seconds",
  }).default(DEFAULT_TTL_SECONDS),
  initial_failure_delay: delaySeconds("initial_failure_delay"),
  repeat_failure_delay: delaySeconds("repeat_failure_delay"),
  initial_recovery_delay: delaySeconds("initial_recovery_delay"),
  acknowledgement_id: z.union([z.string(), z.number().int()], {
    error: "acknowledgement_id must be a string or an integer",
  }).optional(),
  duration: delaySeconds("duration"),
}, { error: (i) => i.code === "invalid_type" ? "an event must be a JSON object" : undefined });

/** A posted event after validation, before `time` is defaulted. */
export type PostedState = z.output<typeof postedStateSchema>;

/**
 * The hot-path twin of {@link postedStateSchema}: accepts only a plainly valid event and builds the same object zod
 * would (same keys, same order, same values); returns `undefined` for anything else, which then goes to zod. zod
 * stays the schema of record and the only source of error messages; a table test proves the two agree. zod's parse
 * was the largest share of a request's JavaScript time (figures in bench/RESULTS.md).
 */
export function fastParsePostedState(input: unknown): PostedState | undefined {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  const o = input as Record<string, unknown>;
  // Every own key must be a field this path handles. A Set (not a lookup object), so "__proto__", "constructor" or
  // "toString" can never match an inherited property; any other key falls back to zod, which names or ignores it.
  for (const key in o) if (!FAST_PATH_FIELDS.has(key)) return undefined;
  const { entity, check, summary, details, perfdata, type, tags, time, ttl } = o;
  if (typeof entity !== "string" || entity.length === 0) return undefined;
  if (typeof check !== "string" || check.length === 0) return undefined;
  const state = checkStateName(o.state);
  if (state === undefined) return undefined;
  if (summary !== undefined && typeof summary !== "string") return undefined;
  if (details !== undefined && typeof details !== "string") return undefined;
  if (perfdata !== undefined && typeof perfdata !== "string") return undefined;
  if (type !== undefined && (typeof type !== "string" || type.length === 0)) return undefined;
  let tagList: string[] | undefined;
  if (typeof tags === "string") {
    tagList = splitTags(tags);
  } else if (Array.isArray(tags)) {
    for (let i = 0; i < tags.length; i++) if (typeof tags[i] !== "string") return undefined;
    // zod hands back a copy; so does this, so a cached state never shares the parsed body's array.
    tagList = tags.slice() as string[];
  } else if (tags !== undefined) {
    return undefined;
  }
  if (time !== undefined && !(Number.isSafeInteger(time) && (time as number) >= 0)) return undefined;
  if (ttl !== undefined && !Number.isSafeInteger(ttl)) return undefined;
  // Key order as zod builds it: the schema's order, absent optional fields left out, defaults filled in.
  // (type and ttl are set below, after the optional fields that come before them in the schema).
  const out = { entity, check, state, summary: summary ?? "" } as PostedState;
  if (details !== undefined) out.details = details;
  if (perfdata !== undefined) out.perfdata = perfdata;
  out.type = type ?? "service";
  if (tagList !== undefined) out.tags = tagList;
  if (time !== undefined) out.time = time as number;
  out.ttl = ttl === undefined ? DEFAULT_TTL_SECONDS : ttl as number;
  return out;
}

/**
 * The lower-cased state name, or `undefined` when it is not one: the one rule the schema and the fast path share. The
 * usual spellings are matched as they come; any other string is lower-cased (the Kelvin sign lower-cases to "k").
 */
function checkStateName(input: unknown): CheckStateName | undefined {
  switch (input) {
    case "ok":
    case "OK":
      return "ok";
    case "warning":
    case "WARNING":
      return "warning";
    case "critical":
    case "CRITICAL":
      return "critical";
    case "unknown":
    case "UNKNOWN":
      return "unknown";
  }
  if (typeof input !== "string") return undefined;
  const lower = input.toLowerCase();
  return lower === "ok" || lower === "warning" || lower === "critical" || lower === "unknown" ? lower : undefined;
}

/**
 * `" a , ,b"` → `["a", "b"]`: split on commas, trimmed, empty parts dropped. Written out rather than
 * `split(",").map(trim).filter(...)`, which cost about a seventh of a request's JavaScript (measured).
 */
function splitTags(t: string): string[] {
  const tags: string[] = [];
  let start = 0;
  for (;;) {
    const comma = t.indexOf(",", start);
    const part = comma === -1 ? t.slice(start) : t.slice(start, comma);
    // Every whitespace character trim() removes is at most U+0020 or beyond ASCII; NaN (empty part) is neither.
    const first = part.charCodeAt(0), last = part.charCodeAt(part.length - 1);
    const tag = first <= 32 || first >= 128 || last <= 32 || last >= 128 ? part.trim() : part;
    if (tag !== "") tags.push(tag);
    if (comma === -1) return tags;
    start = comma + 1;
  }
}

/** A state in the cache: the posted event plus its key and its JSON (what is answered, persisted and submitted). */
export interface CachedState {
  /** `entity:check`. */
  readonly key: string;
  readonly entity: string;
  readonly check: string;
  readonly type: string;
  readonly state: CheckStateName;
  readonly summary: string;
  readonly details?: string;
  readonly tags?: string[];
  readonly perfdata?: string;
  /** Flapjack's own fields the event carried, passed on unchanged. */
  readonly flapjack?: FlapjackFields;
  /** Unix seconds the check result is from. */
  readonly time: number;
  /** Seconds after `time` it is stale; negative = never. */
  readonly ttl: number;
  /**
   * The state as JSON: {@link STATE_FIELDS} in order, then `time` and `ttl`. What `Caching state:` prints, what is
   * persisted and what `GET /state` shows. Built once per posted event (one `JSON.stringify`, the request's largest
   * cost after parsing), and the Redis payload of every submission is cut from it (see {@link submissionJson}) rather
   * than serialised again.
   */
  readonly json: string;
  /** Where `,"time":` starts in {@link json}: everything before it is the submission's head. */
  readonly timeAt: number;
}

/** `entity:check`, the key Flapjack and the original broker used. */
export function stateKey(entity: string, check: string): string {
  return `${entity}:${check}`;
}

/** Builds the cached form of a validated event; `receivedAt` (unix seconds) is used when it has no `time`. */
export function toCachedState(posted: PostedState, receivedAt: number): CachedState {
  const time = posted.time ?? receivedAt;
  let flapjack: FlapjackFields | undefined;
  for (const field of FLAPJACK_FIELDS) {
    const value = posted[field];
    if (value !== undefined) (flapjack ??= {})[field] = value;
  }
  // Typed against STATE_FIELDS, so a field added there must be added here (its order is checked by a unit test);
  // JSON.stringify drops the optional fields that are absent. One plain literal, not a loop over the list: V8
  // builds and serialises it about three times faster (measured), and this runs once per posted event. One
  // stringify of the whole state gives a flat string: a head plus a concatenated tail would keep three string
  // objects alive per cached state (measured: 324 → 501 bytes per state).
  const fields: { [F in StateField]: PostedState[F] } & { time: number; ttl: number } = {
    entity: posted.entity,
    check: posted.check,
    type: posted.type,
    state: posted.state,
    summary: posted.summary,
    details: posted.details,
    tags: posted.tags,
    perfdata: posted.perfdata,
    initial_failure_delay: posted.initial_failure_delay,
    repeat_failure_delay: posted.repeat_failure_delay,
    initial_recovery_delay: posted.initial_recovery_delay,
    acknowledgement_id: posted.acknowledgement_id,
    duration: posted.duration,
    time,
    ttl: posted.ttl,
  };
  const json = JSON.stringify(fields);
  // time and ttl are the last two fields and whole numbers, so the tail's length is known: no search needed.
  const timeAt = json.length - (',"time":,"ttl":}'.length + String(time).length + String(posted.ttl).length);
  return {
    key: stateKey(posted.entity, posted.check),
    entity: posted.entity,
    check: posted.check,
    type: posted.type,
    state: posted.state,
    summary: posted.summary,
    details: posted.details,
    tags: posted.tags,
    perfdata: posted.perfdata,
    flapjack,
    time,
    ttl: posted.ttl,
    json,
    timeAt,
  };
}

/**
 * The Redis payload of a fresh state at `nowSeconds`: its JSON with the time replaced and no ttl
 * (`{"entity",...,"duration","time"}`). A slice and a concatenation, so a submit run over 100 000 states never
 * serialises an event.
 */
export function submissionJson(s: CachedState, nowSeconds: number): string {
  return `${s.json.slice(0, s.timeAt)},"time":${nowSeconds}}`;
}

/** The cached state as a plain object (for `GET /state`): its JSON read back, so both always agree. */
export function cachedStateObject(s: CachedState): Record<string, unknown> {
  return JSON.parse(s.json);
}

/**
 * Result of validating a request body: the states (and the unknown fields that were ignored), or every problem found
 * (with the item index for bulk).
 */
export type ParseStatesResult =
  | { ok: true; states: PostedState[]; ignored: string[] }
  | { ok: false; details: ErrorDetail[] };

/**
 * Validates a request body: one event object, or a non-empty array of them. All-or-nothing: any bad item fails
 * the whole body, and every problem of every item is reported.
 */
export function parsePostedStates(body: unknown): ParseStatesResult {
  const bulk = Array.isArray(body);
  const items: unknown[] = bulk ? body : [body];
  if (bulk && items.length === 0) {
    return { ok: false, details: [{ path: "", message: "expected at least one event in the array" }] };
  }
  const states: PostedState[] = [];
  const details: ErrorDetail[] = [];
  const ignored: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const fast = fastParsePostedState(item);
    if (fast !== undefined) {
      states.push(fast);
      continue;
    }
    const r = postedStateSchema.safeParse(item);
    if (r.success) {
      states.push(r.data);
      for (const key of Object.keys(item as object)) if (!KNOWN_FIELDS.has(key)) ignored.push(key);
      continue;
    }
    for (const issue of r.error.issues) {
      const detail: ErrorDetail = { path: issue.path.join("."), message: issue.message };
      if (bulk) detail.index = i;
      details.push(detail);
    }
  }
  return details.length > 0 ? { ok: false, details } : { ok: true, states, ignored };
}

/** Reads a persisted hash value back; `undefined` when it is not a valid state (logged by the caller). */
export function parsePersistedState(json: string): CachedState | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  const r = postedStateSchema.safeParse(raw);
  if (!r.success || r.data.time === undefined) return undefined;
  return toCachedState(r.data, r.data.time);
}
