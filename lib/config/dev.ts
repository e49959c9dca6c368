/**
 * The flags of `event-router dev`, checked before anything starts: each port, the submit interval, and that no two
 * services were given the same port.
 * @module
 */
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { duration, port, withDefault } from "./fields.ts";
import { parseFlags } from "./flags.ts";
import { parseConfig } from "./parse.ts";

/** What `dev` runs with. */
export interface DevConfig {
  /** Router HTTP port (`--router-port`, default 8080; 0: any free port). */
  routerPort: number;
  /** kcl-proxy HTTP port (`--kcl-port`, default 8081). */
  kclPort: number;
  /** httpbroker HTTP port (`--broker-port`, default 3090). */
  brokerPort: number;
  /** httpbroker submit interval (`--interval`, default 5s). */
  intervalMs: number;
  /** Generate sample traffic every second (`--traffic`). */
  traffic: boolean;
  /** No activity lines (`--quiet`). */
  quiet: boolean;
  /** Debug logs (`--debug`). */
  debug: boolean;
}

/** The flags of `dev`, for parseFlags. */
export const DEV_FLAGS = {
  traffic: { type: "boolean" },
  quiet: { type: "boolean" },
  "router-port": { type: "string" },
  "kcl-port": { type: "string" },
  "broker-port": { type: "string" },
  interval: { type: "string" },
  debug: { type: "boolean" },
} as const;

const schema = z.object({
  routerPort: withDefault("a port number", port, 8080),
  kclPort: withDefault("a port number", port, 8081),
  brokerPort: withDefault("a port number", port, 3090),
  intervalMs: withDefault("a duration such as 5s", duration, 5000),
});

/** Parses `dev`'s command line; throws UsageError for unknown flags and ConfigError listing every bad value (exit 2). */
export function parseDevArgs(args: string[]): DevConfig {
  const { values } = parseFlags(args, DEV_FLAGS, "dev");
  const str = (v: unknown) => typeof v === "string" ? v : undefined;
  const cfg = parseConfig(schema, {
    routerPort: str(values["router-port"]),
    kclPort: str(values["kcl-port"]),
    brokerPort: str(values["broker-port"]),
    intervalMs: str(values.interval),
  }, { routerPort: "--router-port", kclPort: "--kcl-port", brokerPort: "--broker-port", intervalMs: "--interval" });
  // Two services cannot share a port (0 means any free port, always distinct).
  const given = [["--router-port", cfg.routerPort], ["--kcl-port", cfg.kclPort], [
    "--broker-port",
    cfg.brokerPort,
  ]] as const;
  const clashes = given.filter(([flag, p]) => p !== 0 && given.some(([other, q]) => other !== flag && q === p));
  if (clashes.length > 0) {
    throw new ConfigError([`${clashes.map(([flag]) => flag).join(", ")}: the same port ${clashes[0]![1]} twice`]);
  }
  return { ...cfg, traffic: values.traffic === true, quiet: values.quiet === true, debug: values.debug === true };
}
