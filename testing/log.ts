/**
 * The logger tests give to the code under test: silent unless `ER_TEST_LOG=1` (or `debug`) asks to see it.
 * @module
 */
import { createLogger, type Logger, silentLogger } from "../lib/log.ts";

/** A logger for the code under test; set `ER_TEST_LOG=1` to print its lines, `ER_TEST_LOG=debug` for debug lines. */
export function testLogger(): Logger {
  const setting = Deno.env.get("ER_TEST_LOG");
  if (setting === undefined || setting === "" || setting === "0") return silentLogger;
  return createLogger({ debug: setting === "debug" });
}
