/**
 * The client side of a SASL mechanism as Kafka runs it (SaslAuthenticate, KIP-152): the client sends a first
 * message, then answers each server challenge until the mechanism is done.
 * @module
 */

/** One authentication exchange of a mechanism; a new one is made for every connection. */
export interface SaslExchange {
  /** The client's first message. */
  start(): Promise<Uint8Array>;
  /**
   * Answers a server message: the next client message, or `null` when the exchange is complete (the server's
   * final message was accepted). Throws {@link SaslError} when the server's message is wrong.
   */
  next(server: Uint8Array): Promise<Uint8Array | null>;
}

/** A SASL mechanism: its Kafka name and a factory of exchanges. */
export interface SaslMechanism {
  /** As sent in SaslHandshake: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER`. */
  readonly name: string;
  exchange(): SaslExchange;
}

/** The server's side of an exchange was wrong, or the server refused the client. Never carries a secret. */
export class SaslError extends Error {
  override name = "SaslError";
}
