/**
 * Config loading shared by every service: errors, field builders, env helpers, flag parsing.
 * @module
 */
export * from "./errors.ts";
export * from "./fields.ts";
export * from "./parse.ts";
export * from "./flags.ts";
