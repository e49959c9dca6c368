/**
 * Where the httpbroker's Redis is and how to log in to it: Flapjack's `host:port`, or `redis://` and `rediss://`
 * (TLS) URLs with a user, a password and a database; the password may come from `REDIS_PASSWORD` or
 * `REDIS_PASSWORD_FILE` instead, so it need not appear on a command line.
 * @module
 */
import type { Env } from "./parse.ts";
import { readPemFile } from "./tls_files.ts";
import { hostPortProblem, splitHostPort } from "../host_port.ts";

/** A Redis to connect to (plain data: it is posted to the Redis worker). */
export interface RedisTarget {
  /** Redis's host. */
  host: string;
  /** Redis's port. */
  port: number;
  /** The database index used. */
  database: number;
  /** An ACL user (Redis 6+); absent: `default`. */
  username?: string;
  /** The password (`REDIS_PASSWORD`, `_FILE`, or the URL's); never logged. */
  password?: string;
  /** TLS (`rediss://`), trusting `ca` (PEM) or the system store. */
  tls?: { ca?: string };
}

/** What the flags and environment give. */
export interface RedisSettings {
  /** `--server`: `host:port`, `redis://[user[:password]@]host[:port][/db]` or `rediss://…`. */
  server?: string;
  /** `--database`. */
  database?: string;
  /** `--redis-tls-ca`: a PEM file of CAs. */
  tlsCa?: string;
}

const DEFAULT_SERVER = "localhost:6380";

/**
 * The Redis target and every problem found, each naming its flag or variable and never the password. The database
 * comes from the URL or `--database`, whichever is given (both is a problem); the password from the URL,
 * `REDIS_PASSWORD` or `REDIS_PASSWORD_FILE` (more than one is a problem).
 *
 * @example
 * ```ts
 * const { target, problems } = loadRedisTarget({ server: "rediss://flapjack@redis:6380/2" }, Deno.env.toObject());
 * ```
 */
export function loadRedisTarget(
  settings: RedisSettings,
  env: Env,
  readFile: (path: string) => string = Deno.readTextFileSync,
): { target: RedisTarget | undefined; problems: string[] } {
  const problems: string[] = [];
  const server = settings.server ?? DEFAULT_SERVER;
  const parsed = parseServer(server, problems);

  let database = parsed?.database;
  if (settings.database !== undefined) {
    const n = /^\d{1,9}$/.test(settings.database) ? Number(settings.database) : NaN;
    if (Number.isNaN(n)) problems.push(`--database: ${JSON.stringify(settings.database)} is not an integer ≥ 0`);
    else if (database !== undefined) {
      problems.push("--database: the database is also in --server's URL; give it one way");
    } else database = n;
  }

  const passwords: { label: string; value: string }[] = [];
  if (parsed?.password !== undefined) {
    passwords.push({ label: "the password in --server's URL", value: parsed.password });
  }
  const direct = env["REDIS_PASSWORD"];
  if (direct !== undefined && direct !== "") passwords.push({ label: "REDIS_PASSWORD", value: direct });
  const file = env["REDIS_PASSWORD_FILE"];
  if (file !== undefined && file !== "") {
    try {
      // Files from secret mounts usually end with a newline that is not part of the secret.
      passwords.push({ label: "REDIS_PASSWORD_FILE", value: readFile(file).replace(/\r?\n$/, "") });
    } catch (err) {
      problems.push(`REDIS_PASSWORD_FILE: cannot read ${JSON.stringify(file)}: ${(err as Error).message}`);
    }
  }
  if (passwords.length > 1) {
    problems.push(`${passwords.map((p) => p.label).join(" and ")}: both are set; give the password one way`);
  }

  let ca: string | undefined;
  if (settings.tlsCa !== undefined && settings.tlsCa !== "") {
    if (parsed !== undefined && !parsed.tls) {
      problems.push("--redis-tls-ca: needs a rediss:// URL in --server (TLS)");
    } else {
      ca = readPemFile({ value: settings.tlsCa, label: "--redis-tls-ca" }, "certificate", problems, readFile);
    }
  }
  if (parsed === undefined || problems.length > 0) return { target: undefined, problems };
  const target: RedisTarget = { host: parsed.host, port: parsed.port, database: database ?? 0 };
  if (parsed.username !== undefined) target.username = parsed.username;
  if (passwords[0] !== undefined) target.password = passwords[0].value;
  if (parsed.tls) target.tls = ca === undefined ? {} : { ca };
  return { target, problems };
}

/** How a target is shown in logs: the URL without its password. */
export function describeRedisTarget(t: RedisTarget): string {
  const user = t.username === undefined ? "" : `${encodeURIComponent(t.username)}@`;
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `${t.tls ? "rediss" : "redis"}://${user}${host}:${t.port}/${t.database}`;
}

interface ParsedServer {
  host: string;
  port: number;
  tls: boolean;
  database?: number;
  username?: string;
  password?: string;
}

function parseServer(server: string, problems: string[]): ParsedServer | undefined {
  if (!server.includes("://")) {
    // Flapjack's own form.
    const problem = hostPortProblem(server);
    if (problem === null) return { ...splitHostPort(server), tls: false };
    if (/^port \d+ out of range/.test(problem)) {
      problems.push(`--server: ${problem}`);
      return undefined;
    }
  }
  if (!/^rediss?:\/\//i.test(server)) {
    problems.push(
      "--server: expected host:port, redis://[user[:password]@]host[:port][/db] or rediss://… " +
        `(got ${JSON.stringify(redact(server))})`,
    );
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    problems.push(`--server: ${JSON.stringify(redact(server))} is not a valid URL`);
    return undefined;
  }
  if (url.hostname === "") {
    problems.push("--server: the URL has no host");
    return undefined;
  }
  const tls = url.protocol.toLowerCase() === "rediss:";
  const port = url.port === "" ? 6379 : portOf(url.port, problems);
  if (port === undefined) return undefined;
  const parsed: ParsedServer = { host: unbracket(url.hostname), port, tls };
  const path = url.pathname.replace(/^\//, "");
  if (path !== "") {
    if (!/^\d{1,9}$/.test(path)) {
      problems.push(`--server: the URL's path must be a database number, got ${JSON.stringify(path)}`);
      return undefined;
    }
    parsed.database = Number(path);
  }
  if (url.search !== "" || url.hash !== "") {
    problems.push("--server: the URL takes no query or fragment; use --redis-tls-ca and REDIS_PASSWORD for settings");
    return undefined;
  }
  if (url.username !== "") parsed.username = decodeURIComponent(url.username);
  if (url.password !== "") parsed.password = decodeURIComponent(url.password);
  return parsed;
}

function portOf(text: string, problems: string[]): number | undefined {
  const port = Number(text);
  if (port >= 1 && port <= 65535) return port;
  problems.push(`--server: port ${text} out of range 1..65535`);
  return undefined;
}

function unbracket(host: string): string {
  return host.replace(/^\[|\]$/g, "");
}

/** The value with anything that may hold a password (whatever comes before an `@`) replaced, for error messages. */
function redact(server: string): string {
  return server.replace(/^([a-z]+:\/\/)?[^@]*@/i, "$1***@");
}
