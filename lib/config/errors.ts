/**
 * The two ways start-up can be refused before any connection is made; both exit 2.
 * @module
 */

/** Every invalid or missing variable/flag at once, each with the form it expects. */
export class ConfigError extends Error {
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
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = "UsageError";
  }
}
