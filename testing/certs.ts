/**
 * Certificates for TLS tests, made by `openssl` when the test runs (no key is ever committed): a CA, a server
 * certificate for 127.0.0.1/localhost, one for another host name, a client certificate, and a second CA nobody
 * trusts with a server certificate of its own.
 * @module
 */

/** The PEM texts and their files. */
export interface TestCerts extends AsyncDisposable {
  dir: string;
  ca: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  /** Valid, but for `wrong.example` only: a host-name mismatch on 127.0.0.1. */
  wrongHostCert: string;
  wrongHostKey: string;
  clientCert: string;
  clientKey: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** Signed by a CA that is not `ca`. */
  untrustedCert: string;
  untrustedKey: string;
  close(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error("openssl is not installed; apt-get install -y openssl");
    throw err;
  }
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** Makes a fresh set in a temporary directory; `close()` (or `await using`) removes it. */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "er-certs-" });
  const key = (name: string) => openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name]);
  const ca = async (name: string, cn: string) => {
    await key(`${name}.key`);
    await openssl(dir, [
      "req",
      "-x509",
      "-new",
      "-key",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
    ]);
  };
  const leaf = async (name: string, caName: string, cn: string, ext: string) => {
    await key(`${name}.key`);
    await openssl(dir, ["req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${caName}.pem`,
      "-CAkey",
      `${caName}.key`,
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ]);
  };
  try {
    await ca("ca", "event-router test CA");
    await ca("other-ca", "untrusted test CA");
    await leaf("server", "ca", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    await leaf("wrong-host", "ca", "wrong.example", "subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n");
    await leaf("client", "ca", "event-router client", "extendedKeyUsage=clientAuth\n");
    await leaf("untrusted", "other-ca", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    const close = () => Deno.remove(dir, { recursive: true }).catch(() => {});
    return {
      dir,
      ca: await read("ca.pem"),
      caFile: `${dir}/ca.pem`,
      serverCert: await read("server.pem"),
      serverKey: await read("server.key"),
      wrongHostCert: await read("wrong-host.pem"),
      wrongHostKey: await read("wrong-host.key"),
      clientCert: await read("client.pem"),
      clientKey: await read("client.key"),
      clientCertFile: `${dir}/client.pem`,
      clientKeyFile: `${dir}/client.key`,
      untrustedCert: await read("untrusted.pem"),
      untrustedKey: await read("untrusted.key"),
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
}
