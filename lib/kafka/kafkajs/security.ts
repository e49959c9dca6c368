/**
 * The shared Kafka security settings in kafkajs' terms (its `ssl` and `sasl` client options), so the router's
 * consumer group connects exactly as the project's own producer does.
 * @module
 */
import type { TokenFetch } from "../sasl/oauthbearer.ts";
import type { KafkaConfig, SASLOptions } from "kafkajs";
import type { Clock } from "../../clock.ts";
import { ClientCredentialsTokens } from "../sasl/oauthbearer.ts";
import type { KafkaSecurityConfig } from "../security.ts";

/** kafkajs' `ssl` and `sasl` options for `config`. */
export function kafkajsSecurity(
  config: KafkaSecurityConfig,
  deps: { clock?: Clock; fetch?: TokenFetch } = {},
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
        const tokens = new ClientCredentialsTokens({
          url: sasl.tokenUrl,
          clientId: sasl.clientId,
          clientSecret: sasl.clientSecret,
          scope: sasl.scope,
          clock: deps.clock,
          fetch: deps.fetch,
        });
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
