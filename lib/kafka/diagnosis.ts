/**
 * What an operator should check when no Kafka broker accepts a service, told from the error it met. Both the wire
 * client's messages and kafkajs's are recognised, so the router's consumer and every probe give the same advice.
 * @module
 */

/** One kind of failure: how to recognise it, and what to check. */
interface Diagnosis {
  test: RegExp;
  check: (brokers: string) => string;
}

const DIAGNOSES: Diagnosis[] = [
  {
    test: /SASL|authentication|credentials|OAUTHBEARER|token/i,
    check: () =>
      "the broker refused our credentials: check the SASL mechanism, user and password (or token) against the " +
      "listener's configuration",
  },
  {
    test: /TLS|SSL|certificate|handshake|self[- ]signed|unable to verify/i,
    check: () =>
      "TLS failed: check that this listener speaks TLS and that the CA setting trusts the broker's certificate",
  },
  {
    test: /ENOTFOUND|EAI_AGAIN|failed to lookup|name or service not known|no address associated|dns/i,
    check: (brokers) => `a broker host name does not resolve: check the addresses in ${brokers}`,
  },
  {
    test: /refused|ECONNREFUSED/i,
    check: (brokers) =>
      `nothing accepts connections there: check the addresses in ${brokers} and that Kafka is running`,
  },
  {
    // An HTTP server, a TLS listener reached without TLS, or any other protocol: its first bytes read as an
    // absurd Kafka frame size, or as a frame that does not decode.
    test: /impossible response size|malformed response|unexpected|not a kafka/i,
    check: (brokers) =>
      `the address answers, but not as Kafka does: is each address in ${brokers} a Kafka listener (not an HTTP ` +
      "or other port)? A TLS listener reached without TLS settings looks like this too",
  },
  {
    test: /no response within|timed? ?out|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/i,
    check: (brokers) =>
      `no Kafka answer in time: check that each address in ${brokers} is a reachable Kafka listener (firewall, ` +
      "advertised listeners) and that the security settings (TLS, SASL) match it",
  },
];

/**
 * What to check, given why no broker accepted the service.
 *
 * @param cause the error message met (never holds a secret: addresses, mechanisms and broker messages only)
 * @param brokersSetting how the operator sets the broker list, e.g. `KCL_BOOTSTRAP_SERVERS`
 *
 * @example
 * ```ts
 * kafkaCheck("cannot connect to 127.0.0.1:9092: Connection refused (os error 111)", "ER_BOOTSTRAP_SERVERS");
 * // "nothing accepts connections there: check the addresses in ER_BOOTSTRAP_SERVERS and that Kafka is running"
 * ```
 */
export function kafkaCheck(cause: string, brokersSetting = "the broker list"): string {
  const d = DIAGNOSES.find((d) => d.test.test(cause));
  return d?.check(brokersSetting) ??
    `check the addresses in ${brokersSetting}, that Kafka is running, and that the security settings (TLS, SASL) ` +
      "match the listener";
}
