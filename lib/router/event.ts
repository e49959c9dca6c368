/**
 * A clickstream event as the router sees it: the few fields it reads from the raw bytes (`appId`, `messageId`,
 * `integrations`) and the Segment opt-out rules. The bytes themselves are never re-serialised.
 * @module
 */

/** The fields the router reads; everything else stays in the raw bytes. */
export interface ClickstreamEvent {
  appId: string;
  messageId: string | undefined;
  /** The event's `integrations` object (Segment's per-destination switches), when it is an object. */
  integrations: Record<string, unknown> | undefined;
}

/** Why a message cannot be routed; the `reason` label of `event_router_messages_invalid`. */
export type InvalidReason = "empty" | "not_json" | "not_object" | "missing_app_id";

/** Result of {@link parseEvent}. */
export type ParsedEvent = { ok: true; event: ClickstreamEvent } | { ok: false; reason: InvalidReason };

const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Reads the routing fields of an event. Plain type checks instead of a zod schema: this runs once per message on
 * the hot path and only three fields are read; the rest of the payload is opaque to the router.
 *
 * @example
 * ```ts
 * const parsed = parseEvent(new TextEncoder().encode('{"appId":"a1","messageId":"m1"}'));
 * if (parsed.ok) parsed.event.appId; // "a1"
 * ```
 */
export function parseEvent(value: Uint8Array | null): ParsedEvent {
  if (value === null || value.byteLength === 0) return { ok: false, reason: "empty" };
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(value));
  } catch {
    return { ok: false, reason: "not_json" };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { ok: false, reason: "not_object" };
  const record = doc as Record<string, unknown>;
  const appId = record["appId"];
  if (typeof appId !== "string" || appId === "") return { ok: false, reason: "missing_app_id" };
  const messageId = record["messageId"];
  const integrations = record["integrations"];
  return {
    ok: true,
    event: {
      appId,
      messageId: typeof messageId === "string" && messageId !== "" ? messageId : undefined,
      integrations: typeof integrations === "object" && integrations !== null && !Array.isArray(integrations)
        ? integrations as Record<string, unknown>
        : undefined,
    },
  };
}

/**
 * Segment's rules for whether an event goes to the integration called `name`: not when
 * `integrations[name] === false`, nor when `integrations.All === false` unless `integrations[name] === true`.
 * (The original had this check inverted and never skipped anything.)
 */
export function wantsIntegration(integrations: Record<string, unknown> | undefined, name: string): boolean {
  if (integrations === undefined) return true;
  const own = integrations[name];
  if (own === false) return false;
  if (integrations["All"] === false && own !== true) return false;
  return true;
}

/**
 * Finds the raw text of the value of top-level key `key` in a JSON object text, so an envelope can carry an event
 * and hand back its exact bytes. Returns undefined when the text is not an object or has no such key.
 * Assumes `text` is valid JSON (the caller has already parsed it).
 */
export function rawMemberText(text: string, key: string): string | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== "{") return undefined;
  i++;
  for (;;) {
    i = skipSpace(text, i);
    if (text[i] === "}") return undefined;
    if (text[i] === ",") {
      i = skipSpace(text, i + 1);
    }
    if (text[i] !== '"') return undefined;
    const keyEnd = endOfString(text, i);
    const name = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text[i] !== ":") return undefined;
    i = skipSpace(text, i + 1);
    const valueEnd = endOfValue(text, i);
    if (name === key) return text.slice(i, valueEnd);
    i = skipSpace(text, valueEnd);
  }
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  return i;
}

/** Index just after the string starting at `i` (which is a quote). */
function endOfString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === "\\") j++;
    else if (c === '"') return j + 1;
  }
  return text.length;
}

/** Index just after the JSON value starting at `i`. */
function endOfValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return endOfString(text, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text[j];
      if (d === '"') {
        j = endOfString(text, j) - 1;
      } else if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return text.length;
  }
  let j = i;
  while (j < text.length && text[j] !== "," && text[j] !== "}" && text[j] !== "]") j++;
  // Trailing whitespace belongs to no value.
  while (j > i && /\s/.test(text[j - 1]!)) j--;
  return j;
}
