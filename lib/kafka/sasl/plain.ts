/**
 * SASL PLAIN (RFC 4616): one message `authzid NUL authcid NUL passwd`, sent only over TLS in practice.
 * @module
 */
import { SaslError, type SaslMechanism } from "./mechanism.ts";

const utf8 = new TextEncoder();

/**
 * The PLAIN mechanism for `username` and `password` (no authorization identity, as Kafka clients send it).
 *
 * @example
 * ```ts
 * const mechanism = plainMechanism("api-key", "api-secret");
 * ```
 */
export function plainMechanism(username: string, password: string): SaslMechanism {
  if (username.includes("\0") || password.includes("\0")) throw new SaslError("PLAIN credentials must not contain NUL");
  return {
    name: "PLAIN",
    exchange: () => ({
      start: () => Promise.resolve(utf8.encode(`\0${username}\0${password}`)),
      // Kafka answers PLAIN with an empty message on success; there is nothing more to send.
      next: () => Promise.resolve(null),
    }),
  };
}
