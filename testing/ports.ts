/**
 * Free TCP ports on 127.0.0.1 for servers the tests spawn (redis-server cannot be told to pick its own port).
 * @module
 */

/**
 * Returns a TCP port that was free a moment ago. Another process may still take it before the caller binds, so
 * callers that spawn servers retry with a new port when the bind fails.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}
