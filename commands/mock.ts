/**
 * `event-router mock "<Name:topic,...>"`: the router with a built-in Houston that gives every app the listed
 * integrations; no Houston variables, SSE off.
 * @module
 */
import { loadRouterConfig } from "../lib/config/router.ts";
import type { Env } from "../lib/config/parse.ts";
import { kafkaSecurityHelp } from "../lib/config/kafka_security.ts";
import type { Command } from "./command.ts";
import { runRouter } from "./start.ts";

/** The `mock` command. */
export const mockCommand: Command = {
  name: "mock",
  summary: "run event-router with a mock houston, takes a list of integrations to enable",
  help: `run event-router with a mock houston: every app id gets the integrations listed

Usage:
  event-router mock "<Name:topic>[,<Other Name:topic>...]" [flags]

Example:
  event-router mock "S3 Event Logs:s3-event-logs,Segment:segment"

Names may contain spaces; the topic follows the last colon. Takes the same flags and ER_* variables as
'event-router start' except the Houston and SSE ones (see 'event-router start --help').

Flags:
      --retry               retry failed produces through the retry topic, then dead-letter them to S3
      --disable-cache-ttl   accepted for compatibility (the mock source never changes)
      --kafka-compression   codec of produced batches (ER_KAFKA_COMPRESSION)
      --debug               debug logs
  -h, --help                help for this command

Kafka security (each also a flag: ER_KAFKA_SASL_USERNAME is --kafka-sasl-username; secrets only as
--<name>-file or <NAME>_FILE, a file holding the value):
${kafkaSecurityHelp("ER_")}
`,
  async run(args: string[], env: Env): Promise<number> {
    const config = loadRouterConfig(args, env, "mock");
    return await runRouter(config);
  },
};
