/**
 * `host:port` addresses (Kafka bootstrap servers, Flapjack's Redis `--server`): the one parser, with IPv6 literals
 * in brackets (`[::1]:9092`). Checking gives a reason a person can act on; splitting is for addresses already checked.
 * @module
 */

/** A host and a port; an IPv6 host without its brackets. */
export interface HostPort {
  host: string;
  port: number;
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/;

/**
 * Why `entry` is not a `host:port` (`missing port`, `invalid host "a b"`, `port 70000 out of range 1-65535`), or
 * null when it is one.
 *
 * @example
 * ```ts
 * hostPortProblem("kafka-1:9092"); // null
 * hostPortProblem("kafka-1"); // "missing port"
 * ```
 */
export function hostPortProblem(entry: string): string | null {
  if (entry === "") return "empty entry";
  const colon = entry.lastIndexOf(":");
  if (colon === -1 || entry.endsWith("]")) return "missing port";
  const host = entry.slice(0, colon);
  const port = entry.slice(colon + 1);
  if (host === "") return "missing host";
  if (!HOST_NAME.test(host) && !IPV6_LITERAL.test(host)) return `invalid host ${JSON.stringify(host)}`;
  if (!/^[0-9]{1,5}$/.test(port)) return `invalid port ${JSON.stringify(port)}`;
  const n = Number(port);
  if (n < 1 || n > 65535) return `port ${n} out of range 1-65535`;
  return null;
}

/**
 * Splits a `host:port` that {@link hostPortProblem} accepted; throws for one it would not.
 *
 * @example
 * ```ts
 * splitHostPort("[::1]:9092"); // { host: "::1", port: 9092 }
 * ```
 */
export function splitHostPort(entry: string): HostPort {
  const problem = hostPortProblem(entry);
  if (problem !== null) throw new Error(`not a host:port: ${JSON.stringify(entry)} (${problem})`);
  const colon = entry.lastIndexOf(":");
  return { host: entry.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(entry.slice(colon + 1)) };
}
