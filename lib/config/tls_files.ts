/**
 * PEM files named by settings: reading them with problems that name the setting, and the certificate and key an HTTPS
 * listener serves, checked before anything listens (a pair that does not match, or a certificate out of its
 * validity period, would otherwise show only as failed handshakes at the clients).
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";

/** A setting's value and how the user named it (`ER_TLS_CERT_FILE`, `--tls-cert`). */
export interface GivenSetting {
  value: string;
  label: string;
}

/** The certificate chain and key an HTTPS listener serves (PEM texts, what `Deno.serve` takes). */
export interface ServerTls {
  /** The certificate chain, leaf first. */
  cert: string;
  /** The certificate's private key. */
  key: string;
}

/** Ways to read files and tell the time; tests pass their own. */
export interface TlsFileDeps {
  readFile?: (path: string) => string;
  now?: () => number;
}

const PEM = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  "private key": /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
} as const;

/**
 * Reads the PEM file `path` names, or adds a problem naming the setting (never the content) and returns undefined.
 *
 * @example
 * ```ts
 * const ca = readPemFile({ value: "/etc/ca.pem", label: "ER_KAFKA_SSL_CA_LOCATION" }, "certificate", problems);
 * ```
 */
export function readPemFile(
  path: GivenSetting,
  kind: keyof typeof PEM,
  problems: string[],
  readFile: (path: string) => string = Deno.readTextFileSync,
): string | undefined {
  let text: string;
  try {
    text = readFile(path.value);
  } catch (err) {
    problems.push(`${path.label}: cannot read ${JSON.stringify(path.value)}: ${(err as Error).message}`);
    return undefined;
  }
  if (!PEM[kind].test(text)) {
    problems.push(`${path.label}: ${JSON.stringify(path.value)} holds no PEM ${kind}`);
    return undefined;
  }
  return text;
}

/**
 * The HTTPS settings of a listener: both files or neither (plain HTTP). Every problem is returned, each naming the
 * setting: one file without the other, unreadable or not PEM, a key that does not belong to the certificate, an
 * encrypted key, a certificate that expired or is not valid yet.
 *
 * @example
 * ```ts
 * const { config, problems } = loadServerTls(
 *   { value: "/tls/cert.pem", label: "KCL_TLS_CERT_FILE" },
 *   { value: "/tls/key.pem", label: "KCL_TLS_KEY_FILE" },
 * );
 * ```
 */
export function loadServerTls(
  cert: GivenSetting | undefined,
  key: GivenSetting | undefined,
  deps: TlsFileDeps = {},
): { config: ServerTls | undefined; problems: string[] } {
  const problems: string[] = [];
  if (cert === undefined && key === undefined) return { config: undefined, problems };
  if (cert === undefined || key === undefined) {
    const [given, missing] = cert === undefined ? [key!, "certificate"] : [cert, "key"];
    problems.push(`${given.label}: HTTPS needs both a certificate and a key; the ${missing} file is not set`);
    return { config: undefined, problems };
  }
  const certText = readPemFile(cert, "certificate", problems, deps.readFile);
  const keyText = readPemFile(key, "private key", problems, deps.readFile);
  if (certText === undefined || keyText === undefined) return { config: undefined, problems };
  let x509: X509Certificate;
  try {
    // The first certificate is the server's own; the rest of the chain is served as it is.
    x509 = new X509Certificate(certText);
  } catch (err) {
    problems.push(`${cert.label}: ${JSON.stringify(cert.value)} is not a valid certificate: ${(err as Error).message}`);
    return { config: undefined, problems };
  }
  if (/ENCRYPTED/.test(keyText)) {
    problems.push(`${key.label}: the key is encrypted; give the listener an unencrypted key file`);
    return { config: undefined, problems };
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(keyText))) {
      problems.push(`${key.label}: the key does not belong to the certificate in ${cert.label}`);
    }
  } catch (err) {
    problems.push(`${key.label}: ${JSON.stringify(key.value)} is not a valid private key: ${(err as Error).message}`);
  }
  const now = (deps.now ?? Date.now)();
  const notAfter = Date.parse(x509.validTo);
  const notBefore = Date.parse(x509.validFrom);
  if (notAfter < now) problems.push(`${cert.label}: the certificate expired on ${new Date(notAfter).toISOString()}`);
  if (notBefore > now) {
    problems.push(`${cert.label}: the certificate is not valid before ${new Date(notBefore).toISOString()}`);
  }
  return problems.length > 0 ? { config: undefined, problems } : { config: { cert: certText, key: keyText }, problems };
}
