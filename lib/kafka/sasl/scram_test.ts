/**
 * The SCRAM client against RFC 7677's published SCRAM-SHA-256 exchange (user "user", password "pencil"): the same
 * client-final message, acceptance of the server's real signature, refusal of a forged one.
 * @module
 */
import assert from "node:assert/strict";
import { SaslError } from "./mechanism.ts";
import { saslName, scramMechanism } from "./scram.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

// RFC 7677, section 3.
const CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO";
const CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL =
  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

Deno.test("SCRAM-SHA-256 reproduces RFC 7677's exchange and verifies the server signature", async () => {
  const exchange = scramMechanism("sha256", "user", "pencil", { nonce: () => CLIENT_NONCE }).exchange();
  assert.equal(text.decode(await exchange.start()), CLIENT_FIRST);
  assert.equal(text.decode((await exchange.next(utf8.encode(SERVER_FIRST)))!), CLIENT_FINAL);
  assert.equal(await exchange.next(utf8.encode(SERVER_FINAL)), null);
});

Deno.test("SCRAM refuses a forged server signature, a foreign nonce, weak iterations and server errors", async () => {
  const start = async () => {
    const e = scramMechanism("sha256", "user", "pencil", { nonce: () => CLIENT_NONCE }).exchange();
    await e.start();
    return e;
  };
  const forged = await start();
  await forged.next(utf8.encode(SERVER_FIRST));
  await assert.rejects(forged.next(utf8.encode("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")), SaslError);
  await assert.rejects(
    (await start()).next(utf8.encode("r=someoneElse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")),
    /nonce does not extend ours/,
  );
  await assert.rejects(
    (await start()).next(utf8.encode(SERVER_FIRST.replace("i=4096", "i=1"))),
    /asks for 1 iterations/,
  );
  await assert.rejects((await start()).next(utf8.encode("e=invalid-proof")), /the server refused: invalid-proof/);
});

Deno.test("SCRAM-SHA-512 runs the same exchange with 64-byte keys, and user names are escaped", async () => {
  const e = scramMechanism("sha512", "a=b,c", "pw", { nonce: () => "abc" }).exchange();
  assert.equal(text.decode(await e.start()), "n,,n=a=3Db=2Cc,r=abc");
  const final = text.decode((await e.next(utf8.encode("r=abcdef,s=c2FsdA==,i=4096")))!);
  assert.match(final, /^c=biws,r=abcdef,p=[A-Za-z0-9+/]{86}==$/); // 64 bytes of proof
  assert.equal(saslName("x"), "x");
});
