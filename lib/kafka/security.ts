/**
 * How a service reaches its Kafka cluster, as plain data (it crosses to the producer worker): librdkafka's
 * `security.protocol`, TLS material and SASL credentials. {@link brokerSecurity} turns it into what the project's
 * own connections use; the kafkajs consumer gets the same settings through `kafkajs/security.ts`.
 * @module
 */
import type { Clock } from "../clock.ts";
import {
  ClientCredentialsTokens,
  oauthBearerMechanism,
  type TokenFetch,
  type TokenSource,
} from "./sasl/oauthbearer.ts";
import { plainMechanism } from "./sasl/plain.ts";
import { scramMechanism } from "./sasl/scram.ts";
import type { BrokerSecurity } from "./wire/connection.ts";

/** `*_KAFKA_SECURITY_PROTOCOL`. */
export type SecurityProtocol = "PLAINTEXT" | "SSL" | "SASL_PLAINTEXT" | "SASL_SSL";

/** `*_KAFKA_SASL_MECHANISM`. */
export type SaslMechanismName = "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER";

/** TLS settings: PEM text, read from the configured files at start-up. */
export interface KafkaTlsConfig {
  /** CAs to trust; the system store when absent. */
  caCerts?: string[];
  /** Client certificate chain and its decrypted key (mutual TLS). */
  cert?: string;
  /** The client certificate's private key. */
  key?: string;
  /** `https` (default): the broker's name must match its certificate; `none`: only the chain is checked. */
  verifyHostname: boolean;
}

/** SASL settings. */
export type KafkaSaslConfig =
  | { mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"; username: string; password: string }
  | { mechanism: "OAUTHBEARER"; tokenUrl: string; clientId: string; clientSecret: string; scope?: string };

/** A service's Kafka security settings. */
export interface KafkaSecurityConfig {
  /** `*_KAFKA_SECURITY_PROTOCOL`: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
  protocol: SecurityProtocol;
  /** Set for SSL and SASL_SSL. */
  tls?: KafkaTlsConfig;
  /** Set for SASL_PLAINTEXT and SASL_SSL. */
  sasl?: KafkaSaslConfig;
}

/** What the OAUTHBEARER token source is built with. */
export interface TokenSourceDeps {
  clock?: Clock;
  fetch?: TokenFetch;
}

/**
 * The OAUTHBEARER token source of `config` (undefined for other mechanisms). A service makes one and hands it to all
 * its clients (wire connections, the cluster probe, the kafkajs consumer), so one token serves them all.
 */
export function tokenSource(config: KafkaSecurityConfig, deps: TokenSourceDeps = {}): TokenSource | undefined {
  const sasl = config.sasl;
  if (sasl?.mechanism !== "OAUTHBEARER") return undefined;
  return new ClientCredentialsTokens({
    url: sasl.tokenUrl,
    clientId: sasl.clientId,
    clientSecret: sasl.clientSecret,
    scope: sasl.scope,
    clock: deps.clock,
    fetch: deps.fetch,
  });
}

/** Options of {@link brokerSecurity}. */
export interface BrokerSecurityDeps extends TokenSourceDeps {
  /** The service's token source (see {@link tokenSource}); made here when absent. */
  tokens?: TokenSource;
}

/**
 * The TLS and SASL objects the wire connections use. Every connection made with the result shares one OAUTHBEARER
 * token source, so tokens are fetched once and renewed before they expire.
 *
 * @example
 * ```ts
 * const producer = new WireProducer({ brokers, clientId, logger, security: brokerSecurity(config.kafkaSecurity) });
 * ```
 */
export function brokerSecurity(config: KafkaSecurityConfig, deps: BrokerSecurityDeps = {}): BrokerSecurity {
  const out: BrokerSecurity = {};
  if (config.tls !== undefined) {
    out.tls = {
      caCerts: config.tls.caCerts,
      cert: config.tls.cert,
      key: config.tls.key,
      skipHostnameCheck: !config.tls.verifyHostname,
    };
  }
  const sasl = config.sasl;
  if (sasl !== undefined) {
    switch (sasl.mechanism) {
      case "PLAIN":
        out.sasl = plainMechanism(sasl.username, sasl.password);
        break;
      case "SCRAM-SHA-256":
        out.sasl = scramMechanism("sha256", sasl.username, sasl.password);
        break;
      case "SCRAM-SHA-512":
        out.sasl = scramMechanism("sha512", sasl.username, sasl.password);
        break;
      case "OAUTHBEARER":
        out.sasl = oauthBearerMechanism(deps.tokens ?? tokenSource(config, deps)!);
        break;
    }
  }
  return out;
}
