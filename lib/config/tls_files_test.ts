/**
 * The HTTPS files of a listener, checked against certificates openssl made for this run: a good pair loads; each
 * problem (one file alone, unreadable, not PEM, a key of another certificate, expired, not yet valid) is named
 * by its setting without showing the key.
 * @module
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { makeTestCerts } from "../../testing/certs.ts";
import { loadServerTls } from "./tls_files.ts";

Deno.test("loadServerTls loads a matching pair and names every problem by its setting", async (t) => {
  await using certs = await makeTestCerts();
  const files: Record<string, string> = {
    "/cert.pem": certs.serverCert,
    "/key.pem": certs.serverKey,
    "/other.key": certs.clientKey,
    "/notes.txt": "not a certificate",
  };
  const readFile = (path: string) => {
    const text = files[path];
    if (text === undefined) throw new Error(`No such file or directory: ${path}`);
    return text;
  };
  const cert = { value: "/cert.pem", label: "KCL_TLS_CERT_FILE" };
  const key = { value: "/key.pem", label: "KCL_TLS_KEY_FILE" };
  const validTo = Date.parse(new X509Certificate(certs.serverCert).validTo);

  await t.step("a matching pair within its validity", () => {
    const { config, problems } = loadServerTls(cert, key, { readFile });
    assert.deepEqual(problems, []);
    assert.equal(config?.cert, certs.serverCert);
    assert.equal(config?.key, certs.serverKey);
  });
  await t.step("neither file: plain HTTP, no problem", () => {
    assert.deepEqual(loadServerTls(undefined, undefined, { readFile }), { config: undefined, problems: [] });
  });
  const cases: [string, Parameters<typeof loadServerTls>, RegExp][] = [
    [
      "a key alone",
      [undefined, key, { readFile }],
      /^KCL_TLS_KEY_FILE: HTTPS needs both .* certificate file is not set/,
    ],
    ["a certificate alone", [cert, undefined, { readFile }], /^KCL_TLS_CERT_FILE: .* the key file is not set/],
    [
      "an unreadable file",
      [{ ...cert, value: "/missing.pem" }, key, { readFile }],
      /^KCL_TLS_CERT_FILE: cannot read "\/missing.pem"/,
    ],
    ["not PEM", [{ ...cert, value: "/notes.txt" }, key, { readFile }], /holds no PEM certificate/],
    [
      "the key of another certificate",
      [cert, { ...key, value: "/other.key" }, { readFile }],
      /^KCL_TLS_KEY_FILE: the key does not belong to the certificate in KCL_TLS_CERT_FILE$/,
    ],
    [
      "an expired certificate",
      [cert, key, { readFile, now: () => validTo + 1000 }],
      /^KCL_TLS_CERT_FILE: the certificate expired on \d{4}-/,
    ],
    ["a certificate not valid yet", [cert, key, { readFile, now: () => 0 }], /is not valid before \d{4}-/],
  ];
  for (const [name, args, expected] of cases) {
    await t.step(name, () => {
      const { config, problems } = loadServerTls(...args);
      assert.equal(config, undefined);
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0]!, expected);
      assert.ok(!problems[0]!.includes("PRIVATE KEY"));
    });
  }
});
