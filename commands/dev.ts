/**
 * `event-router dev`: the whole product on this machine in one process with embedded defaults, for a newcomer's
 * first minute. Prints where everything is and ready-to-paste commands, then what moves.
 * @module
 */
import type { Command } from "./command.ts";
import { parseDevArgs } from "../lib/config/dev.ts";
import { createLogger, errorMessage } from "../lib/log.ts";
import { waitForSignal } from "../lib/http/shutdown.ts";
import { DEV_INTEGRATIONS, DEV_KCL_IDENTITY, DEV_TOPICS } from "./dev/defaults.ts";
import type { Sandbox } from "./dev/sandbox.ts";

const HELP = `run every service on this machine with an embedded Kafka-protocol cluster

Starts, in one process: a 3-broker Kafka-protocol cluster (librdkafka's mock cluster), the router in mock mode
(every app gets ${DEV_INTEGRATIONS}), the kcl-proxy with a freshly generated API key, and the httpbroker
against a spawned redis-server (skipped with a note when redis-server is not installed). Prints the addresses, the
API key and commands to paste, then one line per routed event, proxied batch and broker submission.

Usage:
  event-router dev [flags]

Flags:
      --traffic              generate sample clickstream events, user events and check states every second
      --quiet                do not print activity lines
      --router-port int      router HTTP port (default 8080; 0 = any free port)
      --kcl-port int         kcl-proxy HTTP port (default 8081; 0 = any free port)
      --broker-port int      httpbroker HTTP port (default 3090; 0 = any free port)
      --interval duration    httpbroker submit interval (default 5s)
      --debug                debug logs
  -h, --help                 help for dev

Needs librdkafka (apt-get install -y librdkafka1); redis-server is optional (apt-get install -y redis-server).
`;

/** The flag that sets each service's port, for the note when it had to move. */
const PORT_FLAGS: Record<string, string> = {
  router: "--router-port",
  "kcl-proxy": "--kcl-port",
  httpbroker: "--broker-port",
};

const encoder = new TextEncoder();
const print = (line: string) => void Deno.stdout.writeSync(encoder.encode(line + "\n"));

/** Serves on the preferred port, or on any free port when it is taken (said in the banner). */
function serve(port: number, handler: (req: Request) => Promise<Response>): Deno.HttpServer<Deno.NetAddr> {
  const options = { hostname: "127.0.0.1", onListen: () => {} };
  try {
    return Deno.serve({ ...options, port }, handler);
  } catch (err) {
    if (!(err instanceof Deno.errors.AddrInUse)) throw err;
    return Deno.serve({ ...options, port: 0 }, handler);
  }
}

/** The banner: where everything is and commands to paste. */
export function devBanner(sandbox: Sandbox, ports: Record<string, number>, intervalMs: number): string {
  const bs = sandbox.bootstrapServers;
  const r = `http://127.0.0.1:${ports.router}`;
  const k = `http://127.0.0.1:${ports["kcl-proxy"]}`;
  const b = ports.httpbroker === undefined ? undefined : `http://127.0.0.1:${ports.httpbroker}`;
  const lines = [
    "event-router dev: every service on this machine. Ctrl-C stops everything.",
    "",
    `  Kafka bootstrap servers  ${bs}`,
    `  router (mock)            ${r}  consumes "${DEV_TOPICS.ingestion}" → ${DEV_TOPICS.integrations.join(", ")}`,
    `  kcl-proxy                ${k}  client ${DEV_KCL_IDENTITY.clientId}, realm ${DEV_KCL_IDENTITY.realm}, topics ${
      DEV_KCL_IDENTITY.topics.join(",")
    }`,
    `  kcl-proxy API key        ${sandbox.apiKey}`,
    b === undefined
      ? `  httpbroker               not started: ${sandbox.brokerSkipped}`
      : `  httpbroker               ${b}  Redis 127.0.0.1:${sandbox.redisPort}, queue "events", every ${
        intervalMs / 1000
      }s`,
    "",
    "Try:",
    `  echo 'app-1|{"appId":"app-1","messageId":"m-1","event":"Signed Up"}' | kcat -b ${bs} -P -t ${DEV_TOPICS.ingestion} -K'|'`,
    `  curl -s ${r}/integrations`,
    `  curl -s -X POST ${k}/events -H 'content-type: application/json' -H 'x-api-key: ${sandbox.apiKey}' -H 'x-app-id: ${DEV_KCL_IDENTITY.clientId}' -H 'x-realm: ${DEV_KCL_IDENTITY.realm}' -H 'kcl-topic: ${DEV_TOPICS.kcl}' -d '{"sourceSystem":"demo","sourceSystemId":"hello","authId":42,"priority":30,"data":{}}'`,
  ];
  if (b !== undefined) {
    lines.push(
      `  curl -s -X POST ${b}/state -H 'content-type: application/json' -d '{"entity":"foo-app-01","check":"PING","state":"ok","summary":"3 ms round trip","ttl":30}'`,
      `  curl -s ${b}/state`,
    );
  }
  lines.push(`  curl -s ${k}/metrics`, "");
  return lines.join("\n");
}

/** The `dev` command. */
export const devCommand: Command = {
  name: "dev",
  summary: "run every service on this machine with an embedded Kafka-protocol cluster",
  help: HELP,
  async run(args, _env) {
    const cfg = parseDevArgs(args);
    const debug = cfg.debug;
    // Services log warnings only, so the activity lines stay readable; --debug shows everything.
    const logger = createLogger({ debug, minLevel: debug ? "debug" : "warn" });

    // Loaded here rather than at the top: every command's process imports this file for the help list.
    const [{ startSandbox }, { LibrdkafkaMissingError }] = await Promise.all([
      import("./dev/sandbox.ts"),
      import("../testing/mock_cluster.ts"),
    ]);
    let sandbox: Sandbox;
    try {
      sandbox = await startSandbox({
        logger,
        print,
        quiet: cfg.quiet,
        ports: { router: cfg.routerPort, kcl: cfg.kclPort, broker: cfg.brokerPort },
        brokerIntervalMs: cfg.intervalMs,
      });
    } catch (err) {
      if (err instanceof LibrdkafkaMissingError) {
        console.error(`event-router dev needs librdkafka: apt-get install -y librdkafka1\n(${err.message})`);
        return 1;
      }
      throw err;
    }
    const servers = sandbox.services.map((s) => ({ name: s.name, server: serve(s.port, s.handler) }));
    const ports: Record<string, number> = {};
    for (const [i, { name, server }] of servers.entries()) {
      ports[name] = server.addr.port;
      const wanted = sandbox.services[i]!.port;
      if (wanted !== 0 && server.addr.port !== wanted) {
        print(
          `note: port ${wanted} (${PORT_FLAGS[name] ?? name}) is taken; ${name} listens on ${server.addr.port} instead`,
        );
      }
    }
    print(devBanner(sandbox, ports, cfg.intervalMs));
    if (cfg.traffic) {
      sandbox.startTraffic({ kcl: ports["kcl-proxy"] as number, broker: ports.httpbroker });
      print("Sample traffic: 3 clickstream events, 4 user events and 1 check state every second.\n");
    }

    const reason = await waitForSignal(["SIGINT", "SIGTERM"]);
    print(`\n${reason}: stopping…`);
    let code = 0;
    try {
      await Promise.all(servers.map(({ server }) => server.shutdown()));
      await sandbox.stop();
    } catch (err) {
      console.error(`dev: shutdown failed: ${errorMessage(err)}`);
      code = 1;
    }
    print("stopped.");
    return code;
  },
};
