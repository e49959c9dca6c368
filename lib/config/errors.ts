/**
 * The two ways start-up can be refused before any connection is made; both exit 2.
 * @module
 */

/** Every invalid or missing variable/flag at once, each with the form it expects. */
export class ConfigError extends Error {
  /**
   * The error of a refused configuration.
   * @param problems each problem found, naming its variable or flag
   */
  constructor(readonly problems: string[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** A command line that cannot be understood (unknown command or flag, missing argument). */
export class UsageError extends Error {
  /**
   * The error of a command line that cannot be understood.
   * @param hint what to run instead, e.g. `event-router --help`
   */
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = "UsageError";
  }
}
