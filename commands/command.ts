/**
 * The shape of a subcommand: its help text and a `run` that wires lib/ pieces together and returns an exit code.
 * @module
 */
import type { Env } from "../lib/config/parse.ts";

/** One subcommand of the dispatcher. */
export interface Command {
  /** As typed: `start`, `receiver httpbroker`. */
  name: string;
  /** One line for the root help. */
  summary: string;
  /** Full `--help` text. */
  help: string;
  /** Runs the command; resolves to the process exit code. Throws UsageError/ConfigError for exit 2. */
  run(args: string[], env: Env): Promise<number>;
}
