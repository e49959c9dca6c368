/**
 * The shared Kafka security settings in kafkajs' terms (its `ssl` and `sasl` client options), so the router's
 * consumer group connects exactly as the project's own producer does.
 * @module
 */
import type { KafkaConfig, SASLOptions } from "kafkajs";
import { type BrokerSecurityDeps, type KafkaSecurityConfig, tokenSource } from "../security.ts";

/** kafkajs' `ssl` and `sasl` options for `config`; OAUTHBEARER takes its tokens from `deps.tokens` when given. */
export function kafkajsSecurity(
  config: KafkaSecurityConfig,
  deps: BrokerSecurityDeps = {},
): Pick<KafkaConfig, "ssl" | "sasl"> {
  const out: Pick<KafkaConfig, "ssl" | "sasl"> = {};
  const tls = config.tls;
  if (tls !== undefined) {
    out.ssl = {
      ...(tls.caCerts !== undefined ? { ca: tls.caCerts } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
      // `none`: the chain is still checked against the CAs; only the name is not.
      ...(tls.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
    };
  }
  const sasl = config.sasl;
  if (sasl !== undefined) {
    let options: SASLOptions;
    switch (sasl.mechanism) {
      case "PLAIN":
        options = { mechanism: "plain", username: sasl.username, password: sasl.password };
        break;
      case "SCRAM-SHA-256":
        options = { mechanism: "scram-sha-256", username: sasl.username, password: sasl.password };
        break;
      case "SCRAM-SHA-512":
        options = { mechanism: "scram-sha-512", username: sasl.username, password: sasl.password };
        break;
      case "OAUTHBEARER": {
        const tokens = deps.tokens ?? tokenSource(config, deps)!;
        options = {
          mechanism: "oauthbearer",
          oauthBearerProvider: async () => ({ value: (await tokens.token()).value }),
        };
        break;
      }
    }
    out.sasl = options;
  }
  return out;
}
