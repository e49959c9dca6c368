/**
 * Where each configuration field comes from, as one table per service: its environment variables (the name, then
 * aliases the original tools spelled differently) and its flag. {@link readSources} turns a table, the parsed flags
 * and the environment into the raw values the service's schema checks, and the label each problem is reported under.
 * @module
 */
import { type Env, pickEnv } from "./parse.ts";

/** The sources of one field. */
export interface Source {
  /** Environment variables, first set wins: the documented name first, aliases after it. */
  env?: string | readonly string[];
  /** The command-line flag (without `--`); a flag given wins over the environment. */
  flag?: string;
  /** The flag is a switch: given, it reads as "true". */
  boolean?: true;
}

/** How {@link readSources} labels a value taken from the environment. */
export interface SourceOptions {
  /** `KCL_PORT (--port)` instead of `KCL_PORT`, for services whose every setting has both forms. */
  mentionFlag?: boolean;
}

/**
 * The raw value of every field of `table` and its label: `--flag` when the flag was given, else the first
 * environment variable set (or the documented name when none is).
 *
 * @example
 * ```ts
 * const { raw, labels } = readSources({ port: { env: "KCL_PORT", flag: "port" } }, values, env, { mentionFlag: true });
 * const config = parseConfig(schema, raw, labels);
 * ```
 */
export function readSources<K extends string>(
  table: Record<K, Source>,
  flags: Record<string, unknown>,
  env: Env,
  options: SourceOptions = {},
): { raw: Record<K, unknown>; labels: Record<K, string> } {
  const raw = {} as Record<K, unknown>;
  const labels = {} as Record<K, string>;
  for (const key of Object.keys(table) as K[]) {
    const src = table[key];
    const flagValue = src.flag === undefined ? undefined : flags[src.flag];
    if (flagValue !== undefined && flagValue !== false) {
      raw[key] = typeof flagValue === "boolean" ? String(flagValue) : flagValue;
      labels[key] = `--${src.flag}`;
      continue;
    }
    const names: readonly string[] = src.env === undefined ? [] : typeof src.env === "string" ? [src.env] : src.env;
    raw[key] = pickEnv(env, ...names);
    const name = names.find((n) => pickEnv(env, n) !== undefined) ?? names[0];
    labels[key] = name === undefined
      ? `--${src.flag}`
      : options.mentionFlag && src.flag !== undefined
      ? `${name} (--${src.flag})`
      : name;
  }
  return { raw, labels };
}

/** The flag definitions of a table, for `parseFlags` and help texts. */
export function flagsOf(table: Record<string, Source>): Record<string, { type: "string" | "boolean" }> {
  const flags: Record<string, { type: "string" | "boolean" }> = {};
  for (const src of Object.values(table)) {
    if (src.flag !== undefined) flags[src.flag] = { type: src.boolean ? "boolean" : "string" };
  }
  return flags;
}
