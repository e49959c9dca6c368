/**
 * The Kafka security settings every service shares, named after librdkafka's properties: `<PREFIX>KAFKA_SECURITY_PROTOCOL`
 * and friends in the environment, `--kafka-security-protocol` and friends as flags. Secrets may come from files
 * (`<NAME>_FILE`, the container-secrets convention; as flags only `--...-file`, so no secret sits in a process list).
 * Every problem is reported with the service's other configuration errors, before anything connects.
 * @module
 */
import { createPrivateKey } from "node:crypto";
import { readPemFile } from "./tls_files.ts";
import type {
  KafkaSaslConfig,
  KafkaSecurityConfig,
  KafkaTlsConfig,
  SaslMechanismName,
  SecurityProtocol,
} from "../kafka/security.ts";
import type { Env } from "./parse.ts";

/** One setting: its env suffix (after the prefix), its flag, and whether it is a secret. */
interface Setting {
  suffix: string;
  flag: string;
  secret?: true;
  /** What the help text says. */
  help: string;
}

/** The settings, keyed by field. */
export const KAFKA_SECURITY_SETTINGS = {
  protocol: {
    suffix: "KAFKA_SECURITY_PROTOCOL",
    flag: "kafka-security-protocol",
    help: "PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL",
  },
  mechanism: {
    suffix: "KAFKA_SASL_MECHANISM",
    flag: "kafka-sasl-mechanism",
    help: "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER",
  },
  username: { suffix: "KAFKA_SASL_USERNAME", flag: "kafka-sasl-username", help: "user for PLAIN and SCRAM" },
  password: {
    suffix: "KAFKA_SASL_PASSWORD",
    flag: "kafka-sasl-password",
    secret: true,
    help: "password for PLAIN and SCRAM",
  },
  tokenUrl: {
    suffix: "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL",
    flag: "kafka-sasl-oauthbearer-token-endpoint-url",
    help: "OIDC token endpoint (client-credentials grant)",
  },
  clientId: {
    suffix: "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
    flag: "kafka-sasl-oauthbearer-client-id",
    help: "OIDC client id",
  },
  clientSecret: {
    suffix: "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
    flag: "kafka-sasl-oauthbearer-client-secret",
    secret: true,
    help: "OIDC client secret",
  },
  scope: { suffix: "KAFKA_SASL_OAUTHBEARER_SCOPE", flag: "kafka-sasl-oauthbearer-scope", help: "OIDC scope" },
  caLocation: {
    suffix: "KAFKA_SSL_CA_LOCATION",
    flag: "kafka-ssl-ca-location",
    help: "PEM file of CAs to trust (default: system store)",
  },
  certLocation: {
    suffix: "KAFKA_SSL_CERTIFICATE_LOCATION",
    flag: "kafka-ssl-certificate-location",
    help: "client certificate (PEM)",
  },
  keyLocation: { suffix: "KAFKA_SSL_KEY_LOCATION", flag: "kafka-ssl-key-location", help: "client key (PEM)" },
  keyPassword: {
    suffix: "KAFKA_SSL_KEY_PASSWORD",
    flag: "kafka-ssl-key-password",
    secret: true,
    help: "password of an encrypted client key",
  },
  endpointIdentification: {
    suffix: "KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM",
    flag: "kafka-ssl-endpoint-identification-algorithm",
    help: "https (default: the broker's name must match its certificate) or none",
  },
} as const satisfies Record<string, Setting>;

type Key = keyof typeof KAFKA_SECURITY_SETTINGS;

/** The flags of the settings, for parseFlags (secrets only as `--<flag>-file`). */
export const KAFKA_SECURITY_FLAGS: Record<string, { type: "string" }> = Object.fromEntries(
  Object.values(KAFKA_SECURITY_SETTINGS).map((
    s: Setting,
  ) => [s.secret ? `${s.flag}-file` : s.flag, { type: "string" }]),
);

/** Help lines for the settings, for a command's help text. */
export function kafkaSecurityHelp(prefix: string): string {
  return Object.values(KAFKA_SECURITY_SETTINGS).map((s: Setting) => {
    const env = `${prefix}${s.suffix}${s.secret ? " (or _FILE)" : ""}`;
    return `  ${env.padEnd(52)} ${s.help}`;
  }).join("\n");
}

const PROTOCOLS: readonly SecurityProtocol[] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
const MECHANISMS: readonly SaslMechanismName[] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/** What {@link loadKafkaSecurity} found: the settings, or the problems to list with the service's others. */
export type KafkaSecurityResult = { config: KafkaSecurityConfig; problems: [] } | {
  config: undefined;
  problems: string[];
};

/**
 * Reads the settings for `prefix` (`ER_`, `KCL_`) from `env` and the parsed `flags` (flags win), reading the files
 * they name with `readFile`. Never throws for bad input: it returns every problem found, each naming the variable or
 * flag and never a secret's value.
 *
 * @example
 * ```ts
 * const { config, problems } = loadKafkaSecurity("KCL_", Deno.env.toObject(), values);
 * ```
 */
export function loadKafkaSecurity(
  prefix: string,
  env: Env,
  flags: Record<string, unknown>,
  readFile: (path: string) => string = Deno.readTextFileSync,
): KafkaSecurityResult {
  const problems: string[] = [];
  const name = (key: Key) => `${prefix}${KAFKA_SECURITY_SETTINGS[key].suffix}`;
  /** The value of a setting and how the user named it, from the flag, the variable or (secrets) the file. */
  const get = (key: Key): { value: string; label: string } | undefined => {
    const s: Setting = KAFKA_SECURITY_SETTINGS[key];
    const envName = name(key);
    const fileFlag = flags[`${s.flag}-file`];
    const flag = s.secret ? undefined : flags[s.flag];
    if (typeof flag === "string" && flag.trim() !== "") return { value: flag.trim(), label: `--${s.flag}` };
    const direct = env[envName];
    const fromFile = typeof fileFlag === "string" && fileFlag !== ""
      ? fileFlag
      : s.secret
      ? env[`${envName}_FILE`]
      : undefined;
    const fileLabel = typeof fileFlag === "string" && fileFlag !== "" ? `--${s.flag}-file` : `${envName}_FILE`;
    if (direct !== undefined && direct !== "" && fromFile !== undefined && fromFile !== "") {
      problems.push(`${envName} and ${fileLabel}: both are set; give the secret one way`);
      return undefined;
    }
    if (fromFile !== undefined && fromFile !== "") {
      try {
        // Files from secret mounts usually end with a newline that is not part of the secret.
        return { value: readFile(fromFile).replace(/\r?\n$/, ""), label: fileLabel };
      } catch (err) {
        problems.push(`${fileLabel}: cannot read ${JSON.stringify(fromFile)}: ${(err as Error).message}`);
        return undefined;
      }
    }
    if (direct === undefined || direct.trim() === "") return undefined;
    return { value: s.secret ? direct : direct.trim(), label: envName };
  };

  const protocolRaw = get("protocol");
  let protocol: SecurityProtocol = "PLAINTEXT";
  if (protocolRaw !== undefined) {
    const p = protocolRaw.value.toUpperCase() as SecurityProtocol;
    if (PROTOCOLS.includes(p)) protocol = p;
    else {problems.push(
        `${protocolRaw.label}: ${JSON.stringify(protocolRaw.value)} is invalid (expected ${PROTOCOLS.join(", ")})`,
      );}
  }
  const usesSasl = protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL";
  const usesTls = protocol === "SSL" || protocol === "SASL_SSL";

  let sasl: KafkaSaslConfig | undefined;
  const mechanismRaw = get("mechanism");
  const saslKeys: Key[] = ["username", "password", "tokenUrl", "clientId", "clientSecret", "scope"];
  if (!usesSasl) {
    for (const key of ["mechanism", ...saslKeys] as Key[]) {
      const v = key === "mechanism" ? mechanismRaw : get(key);
      if (v !== undefined) {
        problems.push(`${v.label}: needs ${name("protocol")} SASL_SSL or SASL_PLAINTEXT (it is ${protocol})`);
      }
    }
  } else if (mechanismRaw === undefined) {
    problems.push(`${name("mechanism")}: is required with ${protocol} (${MECHANISMS.join(", ")})`);
  } else {
    const mechanism = mechanismRaw.value.toUpperCase() as SaslMechanismName;
    const need = (key: Key) => {
      const v = get(key);
      if (v === undefined) problems.push(`${name(key)}: is required with SASL mechanism ${mechanism}`);
      return v?.value ?? "";
    };
    if (!MECHANISMS.includes(mechanism)) {
      problems.push(
        `${mechanismRaw.label}: ${JSON.stringify(mechanismRaw.value)} is invalid (expected ${MECHANISMS.join(", ")})`,
      );
    } else if (mechanism === "OAUTHBEARER") {
      const tokenUrl = need("tokenUrl");
      if (tokenUrl !== "" && !/^https?:\/\/[^\s/]+/.test(tokenUrl)) {
        problems.push(`${name("tokenUrl")}: ${JSON.stringify(tokenUrl)} is not an http(s) URL`);
      }
      sasl = { mechanism, tokenUrl, clientId: need("clientId"), clientSecret: need("clientSecret") };
      const scope = get("scope");
      if (scope !== undefined) sasl.scope = scope.value;
    } else {
      sasl = { mechanism, username: need("username"), password: need("password") };
    }
  }

  let tls: KafkaTlsConfig | undefined;
  const tlsKeys: Key[] = ["caLocation", "certLocation", "keyLocation", "keyPassword", "endpointIdentification"];
  if (!usesTls) {
    for (const key of tlsKeys) {
      const v = get(key);
      if (v !== undefined) problems.push(`${v.label}: needs ${name("protocol")} SSL or SASL_SSL (it is ${protocol})`);
    }
  } else {
    tls = { verifyHostname: true };
    const pem = (key: Key, kind: "certificate" | "private key"): string | undefined => {
      const path = get(key);
      return path === undefined ? undefined : readPemFile(path, kind, problems, readFile);
    };
    const ca = pem("caLocation", "certificate");
    if (ca !== undefined) tls.caCerts = [ca];
    const cert = pem("certLocation", "certificate");
    const key = pem("keyLocation", "private key");
    const keyPassword = get("keyPassword");
    if (key !== undefined && cert === undefined && get("certLocation") === undefined) {
      problems.push(`${name("keyLocation")}: a client key needs its certificate (${name("certLocation")})`);
    } else if (cert !== undefined && key === undefined && get("keyLocation") === undefined) {
      problems.push(`${name("certLocation")}: a client certificate needs its key (${name("keyLocation")})`);
    } else if (cert !== undefined && key !== undefined) {
      const decrypted = decryptKey(key, keyPassword?.value);
      if (typeof decrypted === "string") {
        tls.cert = cert;
        tls.key = decrypted;
      } else problems.push(`${name("keyLocation")}: ${decrypted.problem}`);
    }
    const algorithm = get("endpointIdentification");
    if (algorithm !== undefined) {
      const a = algorithm.value.toLowerCase();
      if (a === "none") tls.verifyHostname = false;
      else if (a !== "https") {
        problems.push(`${algorithm.label}: ${JSON.stringify(algorithm.value)} is invalid (expected https or none)`);
      }
    }
  }
  if (problems.length > 0) return { config: undefined, problems };
  const config: KafkaSecurityConfig = { protocol };
  if (tls !== undefined) config.tls = tls;
  if (sasl !== undefined) config.sasl = sasl;
  return { config, problems: [] };
}

/** The key as unencrypted PKCS#8 PEM (what TLS stacks take), or why not; never echoes the password. */
function decryptKey(pem: string, password: string | undefined): string | { problem: string } {
  const encrypted = /ENCRYPTED/.test(pem);
  if (!encrypted) return pem;
  if (password === undefined) return { problem: "the key is encrypted; set the key password (..._SSL_KEY_PASSWORD)" };
  try {
    return createPrivateKey({ key: pem, format: "pem", passphrase: password }).export({ type: "pkcs8", format: "pem" })
      .toString();
  } catch {
    return { problem: "cannot decrypt the key with the key password given" };
  }
}
