/**
 * Command-line flags with `node:util`'s parseArgs, turning its errors into {@link UsageError}s that name the flag
 * and suggest the closest known one.
 * @module
 */
import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";

/** One flag's definition. */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
}

/**
 * The root command's persistent flags (cobra's): accepted before the command name and handed on to every command,
 * whose parseFlags accepts them too. Only the router reads `--disable-sse`; the other commands ignore it.
 */
export const PERSISTENT_FLAGS: Record<string, FlagSpec> = { "disable-sse": { type: "boolean" } };

/** Parsed flags and the positional arguments left over. */
export interface ParsedFlags {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/**
 * Parses `args` strictly. Unknown flags and missing flag values throw {@link UsageError} with a suggestion.
 *
 * @example
 * ```ts
 * const { values } = parseFlags(["--port", "3090"], { port: { type: "string" } }, "receiver httpbroker");
 * ```
 */
export function parseFlags(
  args: string[],
  spec: Record<string, FlagSpec>,
  command: string,
  opts: { allowPositionals?: boolean } = {},
): ParsedFlags {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...PERSISTENT_FLAGS, ...spec },
      strict: true,
      allowPositionals: opts.allowPositionals ?? false,
    });
    return { values: { ...values } as ParsedFlags["values"], positionals };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    const hint = `Run 'event-router ${command} --help' for usage.`;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const flag = /'([^']+)'/.exec(message)?.[1] ?? message;
      const name = flag.replace(/^-+/, "").split("=")[0] ?? "";
      const known = Object.keys(spec);
      const guess = closest(name, known);
      return fail(
        `unknown flag: ${flag} for "event-router ${command}"${guess ? `\nDid you mean this?\n\t--${guess}` : ""}`,
        hint,
      );
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const arg = /'([^']+)'/.exec(message)?.[1] ?? "";
      return fail(`unexpected argument ${JSON.stringify(arg)} for "event-router ${command}"`, hint);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      return fail(`${message.split(".")[0]} for "event-router ${command}"`, hint);
    }
    throw err;
  }
}

function fail(message: string, hint: string): never {
  throw new UsageError(message, hint);
}

/** The candidate closest to `input` when it is close enough to be a likely typo (edit distance or prefix). */
export function closest(input: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(input) && input.length >= 2 ? 1 : editDistance(input, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(input.length / 3));
  return bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min(
        (prev[j] as number) + 1,
        (prev[j - 1] as number) + 1,
        diag + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}
