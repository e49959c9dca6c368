/**
 * Reading request bodies defensively: content type, size limit enforced while streaming (a lying or missing
 * Content-Length cannot get past it), empty bodies, and JSON syntax errors reported with their position.
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { HttpError } from "./errors.ts";
import { withinDeadline } from "./body_deadline.ts";

/** Subcodes of 4xx body errors (error_code = status * 100 + subcode). */
export const BodyErrorCode = { malformedJson: 1, emptyBody: 2, tooLarge: 1, unsupportedType: 1 } as const;

/** Options of {@link readJsonBody}. */
export interface ReadBodyOptions {
  maxBytes: number;
  /** When true (default), a content type other than application/json (or +json) is answered 415. */
  requireJsonContentType?: boolean;
  /** The body must have arrived this long after the handler began reading it, else 408 (0 or absent: no limit). */
  timeoutMs?: number;
}

/**
 * Reads the body as bytes, failing with 413 as soon as it exceeds `maxBytes`. With a Content-Length within the
 * limit (the usual case) the body is taken in one piece, which is markedly cheaper per request than streaming it:
 * the server's HTTP framing cannot deliver more bytes than declared (the size is still checked afterwards, for
 * Requests built in-process). Without one (chunked) it is streamed with the limit enforced as it arrives. Works on a
 * fetch Response too (an upstream's answer is as untrusted as a request).
 */
export async function readBodyBytes(req: Request | Response, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (req.body === null) return new Uint8Array(0);
  if (declared !== null && declared !== "") {
    const bytes = new Uint8Array(await req.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
    return bytes;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}

// ignoreBOM keeps a leading byte order mark in the text, so it is refused here exactly as the Request.json() fast
// path refuses it (see malformedJsonError) instead of being skipped only when the body happens to be chunked.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Reads and parses a JSON body. Throws {@link HttpError}: 415 wrong content type, 413 too large,
 * 400 empty body, invalid UTF-8 or malformed JSON (the message names the position).
 */
export async function readJsonBody(req: Request, options: ReadBodyOptions): Promise<unknown> {
  if (options.requireJsonContentType ?? true) checkJsonContentType(req.headers);
  const bytes = await withinDeadline(readBodyBytes(req, options.maxBytes), options.timeoutMs ?? 0);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new HttpError(400, "request body is not valid UTF-8", { subcode: BodyErrorCode.malformedJson });
  }
  if (text.charCodeAt(0) === 0xfeff) throw bomError();
  if (text.trim() === "") {
    throw new HttpError(400, "request body is empty: expected a JSON value", { subcode: BodyErrorCode.emptyBody });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw malformedJsonError(err, text);
  }
}

/**
 * Reads and parses a JSON body like {@link readJsonBody}, but through `Request.json()` whenever the request declares
 * a Content-Length within the limit: that is the one body reader with a synchronous whole-body fast path in
 * Deno.serve, and readJsonBody's byte read and strict decode cost noticeably more per small request (figures in
 * bench/RESULTS.md). A
 * body without a usable Content-Length (chunked, empty, too large) is left to readJsonBody, with its errors.
 *
 * On the fast path the text is decoded by Deno, so three edge cases differ from readJsonBody:
 * - invalid UTF-8 becomes U+FFFD instead of a 400: callers that must not accept it look for U+FFFD in what they
 *   keep and answer {@link replacementCharError};
 * - a leading byte order mark is found by the JSON parser (readJsonBody checks for it first); both answer the same 400;
 * - a body of only whitespace is malformed JSON (40001) rather than an empty body (40002).
 */
export function readJsonBodyFast(req: Request, options: ReadBodyOptions): Promise<unknown> {
  const headers = req.headers;
  if (options.requireJsonContentType ?? true) {
    try {
      checkJsonContentType(headers);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  const declared = Number(headers.get("content-length") ?? NaN);
  // HTTP/1.1 framing makes a served body exactly the declared length, so it cannot get past the limit unread.
  if (!(declared > 0 && declared <= options.maxBytes)) return readJsonBody(req, options);
  return withinDeadline(req.json(), options.timeoutMs ?? 0).catch(rethrowAsMalformed);
}

function rethrowAsMalformed(err: unknown): never {
  throw err instanceof SyntaxError ? malformedJsonError(err) : err;
}

/**
 * The 400 for a body that held U+FFFD once decoded: `Request.json()` turns invalid UTF-8 into U+FFFD without a word,
 * and the two cannot be told apart afterwards, so both are refused rather than passed on silently corrupted.
 */
export function replacementCharError(): HttpError {
  return new HttpError(
    400,
    "request body is not valid UTF-8 (or contains U+FFFD, the replacement character): send valid UTF-8 text",
    { subcode: BodyErrorCode.malformedJson },
  );
}

/** Throws the 415 unless the request's content type is JSON ({@link isJsonContentType}). */
export function checkJsonContentType(headers: Headers): void {
  const type = headers.get("content-type") ?? "";
  if (!isJsonContentType(type)) {
    throw new HttpError(
      415,
      `content-type must be application/json, got ${type === "" ? "none" : JSON.stringify(type)}`,
      {
        details: [{ path: "content-type", message: "expected application/json" }],
        subcode: BodyErrorCode.unsupportedType,
      },
    );
  }
}

/**
 * The 400 for a body that `JSON.parse` (or `Request.json()`) refused: V8's message names the position; line and
 * column are added when `text` is at hand and V8 gave only the position. A leading byte order mark (which
 * `Request.json()` does not strip) gets its own message.
 */
export function malformedJsonError(err: unknown, text?: string): HttpError {
  const message = err instanceof Error ? err.message : String(err);
  if (message.includes("\uFEFF")) return bomError();
  const where = text === undefined ? message : describeJsonError(message, text);
  return new HttpError(400, `malformed JSON: ${where}`, { subcode: BodyErrorCode.malformedJson });
}

/** True for `application/json` and `application/<x>+json`, parameters allowed. */
export function isJsonContentType(value: string): boolean {
  if (value === "application/json") return true; // the usual value, without the split below
  const base = value.split(";")[0]?.trim().toLowerCase() ?? "";
  return base === "application/json" || (base.startsWith("application/") && base.endsWith("+json"));
}

function bomError(): HttpError {
  return new HttpError(400, "request body starts with a byte order mark (U+FEFF): send JSON without one", {
    subcode: BodyErrorCode.malformedJson,
  });
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `request body exceeds ${maxBytes} bytes`, { subcode: BodyErrorCode.tooLarge });
}

/** V8's message already says where; add line and column when it gives only a position. */
function describeJsonError(message: string, text: string): string {
  const m = /at position (\d+)/.exec(message);
  if (m && !/line \d+/.test(message)) {
    const pos = Number(m[1]);
    const before = text.slice(0, pos);
    const line = before.split("\n").length;
    const column = pos - before.lastIndexOf("\n");
    return `${message} (line ${line} column ${column})`;
  }
  return message;
}
