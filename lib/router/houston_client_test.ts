import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { silentLogger } from "../log.ts";
import { FakeHouston } from "../../testing/houston.ts";
import { ApiKeyToken, HoustonClient, HoustonError, jwtExpiry, LoginToken } from "./houston_client.ts";

const SEGMENT = { name: "Segment", topic: "segment", enabled: true };
const OFF = { name: "Off", topic: "off", enabled: false };

Deno.test("HoustonClient looks up enabled integrations with the API key", async () => {
  const houston = await FakeHouston.start({ apiKey: "key-1" });
  try {
    houston.setIntegrations("app-1", [SEGMENT, OFF]);
    const client = new HoustonClient({ url: houston.url, tokens: new ApiKeyToken("key-1") });
    assert.deepEqual(await client.lookup("app-1"), [{ name: "Segment", topic: "segment" }]);
    assert.deepEqual(await client.lookup("unknown"), []);
    // The app id is a JSON string literal, so quotes cannot break out of the query.
    const evil = 'x") { secrets } sources(id: "y';
    houston.setIntegrations(evil, [SEGMENT]);
    assert.deepEqual(await client.lookup(evil), [{ name: "Segment", topic: "segment" }]);
    assert.equal(houston.lookupsByApp.get(evil), 1);
  } finally {
    await houston.close();
  }
});

Deno.test("HoustonClient treats 500, GraphQL errors, a wrong key and no server as failures", async () => {
  const houston = await FakeHouston.start({ apiKey: "key-1" });
  try {
    houston.setDefault([SEGMENT]);
    const client = new HoustonClient({ url: houston.url, tokens: new ApiKeyToken("key-1") });
    houston.mode = "error500";
    await assert.rejects(client.lookup("a"), /500/);
    houston.mode = "graphqlError";
    await assert.rejects(client.lookup("a"), /database unavailable/);
    houston.mode = "ok";
    const wrong = new HoustonClient({ url: houston.url, tokens: new ApiKeyToken("nope") });
    await assert.rejects(wrong.lookup("a"), (e) => e instanceof HoustonError && e.unauthorized);
    await houston.down();
    await assert.rejects(client.lookup("a"), /request to Houston failed/);
  } finally {
    await houston.close();
  }
});

Deno.test("LoginToken logs in once, reuses the token, refreshes before exp and after a rejection", async () => {
  const houston = await FakeHouston.start({ username: 'u"1', password: "p", tokenTtlSec: 3600 });
  try {
    houston.setDefault([SEGMENT]);
    const clock = new ManualClock(Date.now());
    const tokens = new LoginToken({ url: houston.url, username: 'u"1', password: "p", clock, logger: silentLogger });
    const client = new HoustonClient({ url: houston.url, tokens });
    await Promise.all([client.lookup("a"), client.lookup("b"), client.lookup("c")]);
    assert.equal(houston.logins, 1);
    const first = await tokens.token();
    const exp = jwtExpiry(first);
    assert.ok(exp !== undefined && exp > Date.now());
    await clock.advance(3600_000 - 120_000);
    await client.lookup("a");
    assert.equal(houston.logins, 1);
    await clock.advance(61_000); // within a minute of exp
    await client.lookup("a");
    assert.equal(houston.logins, 2);
    houston.revokeTokens();
    assert.deepEqual(await client.lookup("a"), [{ name: "Segment", topic: "segment" }]);
    assert.equal(houston.logins, 3);
    const bad = new LoginToken({ url: houston.url, username: "x", password: "y", clock, logger: silentLogger });
    await assert.rejects(bad.token(), /bad credentials/);
  } finally {
    await houston.close();
  }
});

Deno.test("LoginToken does not log in per lookup when tokens arrive already expired (clock skew)", async () => {
  const houston = await FakeHouston.start({ username: "u", password: "p", tokenTtlSec: 3600 });
  try {
    houston.setDefault([SEGMENT]);
    // This host's clock runs two hours ahead of Houston's: every token's exp is in our past on arrival.
    const clock = new ManualClock(Date.now() + 2 * 3600_000);
    const tokens = new LoginToken({ url: houston.url, username: "u", password: "p", clock, logger: silentLogger });
    const client = new HoustonClient({ url: houston.url, tokens });
    for (let i = 0; i < 20; i++) await client.lookup(`app-${i}`);
    assert.equal(houston.logins, 1);
    await clock.advance(31_000); // past the minimum reuse: one fresh login, then reuse again
    for (let i = 0; i < 5; i++) await client.lookup(`app-${i}`);
    assert.equal(houston.logins, 2);
  } finally {
    await houston.close();
  }
});

Deno.test("HoustonClient refuses an answer larger than 4 MiB, with or without a declared length", async () => {
  const huge = JSON.stringify({ data: { filler: "x".repeat(5 * 1024 * 1024) } });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname === "/chunked") {
      // A stream has no length: the limit must be enforced while reading.
      const body = new Blob([huge]).stream();
      return new Response(body, { headers: { "content-type": "application/json" } });
    }
    return new Response(huge, { headers: { "content-type": "application/json" } });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    for (const path of ["/sized", "/chunked"]) {
      const client = new HoustonClient({ url: `${base}${path}`, tokens: new ApiKeyToken("k") });
      await assert.rejects(
        client.lookup("a"),
        (e) => e instanceof HoustonError && /exceeds 4194304 bytes/.test(e.message),
      );
    }
  } finally {
    await server.shutdown();
  }
});
