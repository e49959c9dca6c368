/**
 * zod field builders for values that arrive as strings (env variables, flags) and must become typed config.
 * Each names the form it expects, so a config error tells a person what to write.
 * @module
 */
import { z } from "zod";
import { parseDuration } from "../duration.ts";
import { hostPortProblem } from "../host_port.ts";

/** Raw values as they come from env or flags. */
export type RawValue = string | boolean | undefined;

type Parse<T> = (raw: string) => T;

function isMissing(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === "string" && v.trim() === "");
}

function build<T>(form: string, parse: Parse<T>, whenMissing: { value: T } | "required") {
  // `.optional()` first: zod 4 refuses an absent key before a transform can supply its default.
  return z.unknown().optional().transform((v, ctx): T => {
    if (isMissing(v)) {
      if (whenMissing === "required") {
        ctx.addIssue({ code: "custom", message: `is required (${form})` });
        return z.NEVER;
      }
      return whenMissing.value;
    }
    const text = typeof v === "string" ? v.trim() : String(v);
    try {
      return parse(text);
    } catch (err) {
      const why = err instanceof Error && err.message !== "" ? `: ${err.message}` : "";
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is invalid${why} (expected ${form})` });
      return z.NEVER;
    }
  });
}

/** A required value. */
export function required<T>(form: string, parse: Parse<T>) {
  return build<T>(form, parse, "required");
}

/** A value with a default when unset or empty. */
export function withDefault<T>(form: string, parse: Parse<T>, value: T) {
  return build<T>(form, parse, { value });
}

/** A value that may be absent. */
export function optional<T>(form: string, parse: Parse<T>) {
  return build<T | undefined>(form, parse, { value: undefined });
}

// Parsers -----------------------------------------------------------------------------------------------------

/** Any non-empty string. */
export const text: Parse<string> = (s) => s;

/** How log lines are written: `json` (one object per line) or `text` (Go's `log` layout). */
export const logFormat: Parse<"text" | "json"> = (s) => {
  if (s !== "text" && s !== "json") throw new Error("must be text or json");
  return s;
};

/** An integer within bounds. */
export function integer(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): Parse<number> {
  return (s) => {
    if (!/^[+-]?\d+$/.test(s)) throw new Error("not an integer");
    const n = Number(s);
    if (n < min || n > max) throw new Error(`out of range ${min}..${max}`);
    return n;
  };
}

/** true/false, 1/0, yes/no, on/off. */
export const boolean: Parse<boolean> = (s) => {
  const v = s.toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new Error("not a boolean");
};

/** A Go-style duration, in milliseconds. */
export const duration: Parse<number> = (s) => {
  const ms = parseDuration(s);
  if (ms < 0) throw new Error("must not be negative");
  return ms;
};

/** A TCP port number. */
export const port: Parse<number> = integer(0, 65535);

/** `host:port,host:port` as a list. */
export const hostPortList: Parse<string[]> = (s) => {
  const parts = s.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0) throw new Error("empty list");
  for (const p of parts) {
    const problem = hostPortProblem(p);
    if (problem !== null) throw new Error(`bad entry ${JSON.stringify(p)}: ${problem} (expected host:port)`);
  }
  return parts;
};

/** An absolute http(s) URL. */
export const httpUrl: Parse<string> = (s) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error("not a URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("scheme must be http or https");
  return u.toString();
};
