/**
 * Turns raw env/flag values into a typed config, reporting every problem at once under the name the user wrote
 * (`ER_BOOTSTRAP_SERVERS`, `--interval`), never just the first.
 * @module
 */
import type { z } from "zod";
import { ConfigError } from "./errors.ts";

/** Environment variables as a plain record (commands/ pass `Deno.env.toObject()`). */
export type Env = Record<string, string | undefined>;

/** The first of `names` that is set in `env` (aliases for variables the original spelled differently). */
export function pickEnv(env: Env, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== "") return v;
  }
  return undefined;
}

/**
 * Parses `input` with `schema`. `labels` maps each top-level key to how the user names it; issues on other paths
 * use the path itself.
 *
 * @example
 * ```ts
 * const cfg = parseConfig(schema, { brokers: env.ER_BOOTSTRAP_SERVERS }, { brokers: "ER_BOOTSTRAP_SERVERS" });
 * ```
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  input: Record<string, unknown>,
  labels: Record<string, string>,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.length > 0 ? String(issue.path[0]) : "";
    const name = labels[key] ?? (issue.path.length > 0 ? issue.path.join(".") : "config");
    return `${name}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/**
 * Runs `parse` and adds `more` problems (found by another loader, such as the Kafka security settings) to the ones
 * it reports, so the user sees every problem in one message.
 */
export function withMoreProblems<T>(more: string[], parse: () => T): T {
  let value: T;
  try {
    value = parse();
  } catch (err) {
    if (err instanceof ConfigError && more.length > 0) throw new ConfigError([...err.problems, ...more]);
    throw err;
  }
  if (more.length > 0) throw new ConfigError(more);
  return value;
}
