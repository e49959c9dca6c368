/**
 * The UserEvent a client posts to the proxy, validated with zod at the edge, and the per-item errors a bulk request
 * reports for the events that do not fit.
 * @module
 */
import { z } from "zod";
import { HttpError } from "../http/errors.ts";

/** Most events one request may carry. */
export const MAX_EVENTS_PER_REQUEST = 1000;

/** Priority of an event that does not name one (Normal). */
export const DEFAULT_PRIORITY = 10;

/** zod schema of one UserEvent (see the kcl-proxy spec). Unknown fields are dropped, not forwarded. */
export const UserEventSchema = z.object({
  requestId: z.string().min(1, "must not be empty").max(256, "at most 256 characters").optional(),
  createdAt: z.iso.datetime({ offset: true, message: "must be an ISO-8601 date-time, e.g. 2024-05-01T12:00:00Z" })
    .optional(),
  sourceSystem: z.string({ message: "must be a string" }),
  sourceSystemId: z.string({ message: "must be a string" }),
  priority: z.int({ message: "must be an integer ≥ 0" }).min(0, "must be an integer ≥ 0").optional(),
  authId: z.int({ message: "must be an integer" }),
  data: z.record(z.string(), z.unknown(), { message: "must be a JSON object" }),
});

/** A validated UserEvent. */
export type UserEvent = z.output<typeof UserEventSchema>;

/** One problem of one event of a request. */
export interface EventError {
  index: number;
  requestId?: string;
  path: string;
  message: string;
}

/** The outcome of validating one item of a request body. */
export type ParsedItem =
  | { ok: true; index: number; event: UserEvent }
  | { ok: false; index: number; requestId?: string; errors: EventError[] };

/** Subcodes of the 413 this module throws (error_code = 413 * 100 + n). */
export const TOO_MANY_EVENTS_SUBCODE = 2;

/**
 * Validates a parsed JSON body: one UserEvent or an array of at most {@link MAX_EVENTS_PER_REQUEST}. Throws
 * {@link HttpError} 413 for too many events and 400 for an empty array or a body that is neither object nor array;
 * per-event problems are returned, not thrown, so the valid events of a bulk still go through.
 */
export function parseUserEvents(body: unknown): ParsedItem[] {
  if (Array.isArray(body)) {
    if (body.length > MAX_EVENTS_PER_REQUEST) {
      throw new HttpError(413, `too many events: ${body.length}, at most ${MAX_EVENTS_PER_REQUEST} per request`, {
        details: [{ path: "", message: `at most ${MAX_EVENTS_PER_REQUEST} events` }],
        subcode: TOO_MANY_EVENTS_SUBCODE,
      });
    }
    if (body.length === 0) throw new HttpError(400, "request body is an empty array: expected events", { subcode: 3 });
    const items = new Array<ParsedItem>(body.length);
    for (let i = 0; i < body.length; i++) items[i] = parseOne(body[i], i);
    return items;
  }
  if (body !== null && typeof body === "object") return [parseOne(body, 0)];
  throw new HttpError(400, "request body must be a UserEvent object or an array of them", { subcode: 4 });
}

/** The exact pattern `z.iso.datetime({ offset: true })` uses, so the fast check accepts the same strings. */
const DATETIME = z.core.regexes.datetime({ offset: true });

/**
 * A hand-written equivalent of `UserEventSchema.safeParse(value).data` for the common case, about ten times
 * cheaper than zod per event (the proxy validates every event of every request). Returns undefined whenever the
 * value is not plainly valid; the caller then asks zod, which stays the source of truth for what is valid and
 * for every error message. tests/kcl_rules_test.ts checks both agree on a table of good and bad events.
 */
export function fastParseUserEvent(value: unknown): UserEvent | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const { requestId, createdAt, sourceSystem, sourceSystemId, priority, authId, data } = v;
  if (typeof sourceSystem !== "string" || typeof sourceSystemId !== "string") return undefined;
  if (typeof authId !== "number" || !Number.isSafeInteger(authId)) return undefined;
  if (typeof data !== "object" || data === null || Array.isArray(data)) return undefined;
  // zod rebuilds records and strips a `__proto__` key; such rare inputs are left to it.
  if (Object.getPrototypeOf(data) !== Object.prototype || Object.hasOwn(data, "__proto__")) return undefined;
  if (requestId !== undefined && (typeof requestId !== "string" || requestId.length < 1 || requestId.length > 256)) {
    return undefined;
  }
  if (createdAt !== undefined && (typeof createdAt !== "string" || !DATETIME.test(createdAt))) return undefined;
  if (priority !== undefined && (typeof priority !== "number" || !Number.isSafeInteger(priority) || priority < 0)) {
    return undefined;
  }
  // Keys in the schema's order, as zod builds its output.
  const event = {} as UserEvent;
  if (requestId !== undefined) event.requestId = requestId;
  if (createdAt !== undefined) event.createdAt = createdAt;
  event.sourceSystem = sourceSystem;
  event.sourceSystemId = sourceSystemId;
  if (priority !== undefined) event.priority = priority;
  event.authId = authId;
  event.data = data as Record<string, unknown>;
  return event;
}

function parseOne(value: unknown, index: number): ParsedItem {
  const fast = fastParseUserEvent(value);
  if (fast !== undefined) return { ok: true, index, event: fast };
  const result = UserEventSchema.safeParse(value);
  if (result.success) return { ok: true, index, event: result.data };
  // The requestId is echoed back even when the event is invalid so the client can match the error to its event.
  const raw = value !== null && typeof value === "object" ? (value as Record<string, unknown>).requestId : undefined;
  const requestId = typeof raw === "string" ? raw : undefined;
  const errors = result.error.issues.map((issue): EventError => {
    const path = issue.path.map(String).join(".");
    const error: EventError = { index, path, message: describeIssue(issue, value) };
    if (requestId !== undefined) error.requestId = requestId;
    return error;
  });
  return requestId === undefined ? { ok: false, index, errors } : { ok: false, index, requestId, errors };
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.path.length === 0 && issue.code === "invalid_type") return "must be a UserEvent object";
  if (issue.code === "invalid_type" && issue.path.length === 1 && value !== null && typeof value === "object") {
    const field = String(issue.path[0]);
    if (!(field in (value as Record<string, unknown>))) return "is required";
  }
  return issue.message;
}
