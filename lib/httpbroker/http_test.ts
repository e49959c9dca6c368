/**
 * The broker's HTTP API through a real server on port 0: the seed's example, validation (each bad input a specific
 * 4xx with nothing cached), bulk all-or-nothing, GET/DELETE, ops routes.
 * @module
 */
import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { silentLogger } from "../log.ts";
import { createRegistry } from "../metrics.ts";
import { createBrokerHandler } from "./http.ts";
import { createBrokerMetrics } from "./metrics.ts";
import { StateStore } from "./state_store.ts";
import { SEED_EVENT } from "../../tests/_fixtures/seed_check_event.ts";

/** The seed's curl body exactly as printed, including its missing comma after "summary". */
const SEED_BODY_AS_PRINTED = `{
    "entity": "foo-app-01",
    "check": "PING",
    "type": "service",
    "tags": "apps",
    "state": "OK",
    "summary": "3 ms round trip"
    "ttl": 30
  }`;

// 2015-04-20 04:26:27 UTC, the seed's response time (1429505587).
const SEED_NOW_MS = 1429505587_000;

interface Served {
  url: string;
  store: StateStore;
  ready: { redis: boolean };
  close(): Promise<void>;
}

function serve(): Served {
  const store = new StateStore();
  const registry = createRegistry();
  const metrics = createBrokerMetrics(registry, () => store.size);
  const ready = { redis: true };
  const handler = createBrokerHandler({
    store,
    clock: new ManualClock(SEED_NOW_MS),
    logger: silentLogger,
    metrics,
    registry,
    ready: () => ({ ...ready }),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    store,
    ready,
    close: () => server.shutdown(),
  };
}

async function post(url: string, body: BodyInit, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/state`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get("content-type") ?? "" };
}

Deno.test("httpbroker POST /state answers the seed's example with the Caching state line", async () => {
  const s = serve();
  try {
    const r = await post(s.url, JSON.stringify(SEED_EVENT));
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain/);
    assert.equal(
      r.text,
      'Caching state: {"entity":"foo-app-01","check":"PING","type":"service","state":"ok",' +
        '"summary":"3 ms round trip","tags":["apps"],"time":1429505587,"ttl":30}\n',
    );
    const cached = s.store.get("foo-app-01:PING");
    assert.deepEqual(cached?.tags, ["apps"]);
    assert.equal(cached?.state, "ok");
    assert.equal(cached?.time, 1429505587);
  } finally {
    await s.close();
  }
});

Deno.test("httpbroker POST /state applies defaults and keeps a given time", async () => {
  const s = serve();
  try {
    const r = await post(s.url, JSON.stringify({ entity: "e", check: "c", state: "Critical", time: 1000 }));
    assert.equal(r.status, 200);
    assert.equal(
      r.text,
      'Caching state: {"entity":"e","check":"c","type":"service","state":"critical","summary":"","time":1000,"ttl":300}\n',
    );
  } finally {
    await s.close();
  }
});

Deno.test("httpbroker POST /state keeps non-ASCII text intact and refuses U+FFFD, which marks corrupted text", async () => {
  const s = serve();
  try {
    const summary = "snowman \u2603, rocket \u{1F680}";
    const r = await post(s.url, JSON.stringify({ entity: "h\u00f4te", check: "c", state: "ok", summary }));
    assert.equal(r.status, 200, r.text);
    assert.equal(s.store.get("h\u00f4te:c")?.summary, summary);
    assert.match(r.text, /"summary":"snowman \u2603, rocket \u{1F680}"/u);
    // A replacement character cannot be told from invalid UTF-8 once decoded: refused in any accepted field, and a
    // bulk request holding one is refused whole.
    const good = { entity: "e", check: "ok-one", state: "ok" };
    for (
      const body of [
        { entity: "e", check: "c", state: "ok", summary: "bad \uFFFD" },
        { entity: "e", check: "c", state: "ok", tags: ["t\uFFFD"] },
        [good, { entity: "e\uFFFD", check: "c", state: "ok" }],
      ]
    ) {
      const bad = await post(s.url, JSON.stringify(body));
      assert.equal(bad.status, 400, bad.text);
      assert.match(JSON.parse(bad.text).message, /not valid UTF-8 \(or contains U\+FFFD/);
    }
    assert.equal(s.store.size, 1, "nothing else cached");
  } finally {
    await s.close();
  }
});

Deno.test("httpbroker POST /state refuses a byte order mark and a whitespace-only body with clear 400s", async () => {
  const s = serve();
  try {
    const bom = await post(s.url, "\uFEFF" + JSON.stringify({ entity: "e", check: "c", state: "ok" }));
    assert.equal(bom.status, 400, bom.text);
    assert.match(JSON.parse(bom.text).message, /byte order mark \(U\+FEFF\)/);
    // Without a Content-Length the body is streamed through another reader; the answer is the same.
    const bytes = new TextEncoder().encode("\uFEFF" + JSON.stringify({ entity: "e", check: "c", state: "ok" }));
    const chunkedBom = await post(s.url, ReadableStream.from([bytes]));
    assert.equal(chunkedBom.status, 400, chunkedBom.text);
    assert.match(JSON.parse(chunkedBom.text).message, /byte order mark \(U\+FEFF\)/);
    const blank = await post(s.url, "   \n");
    assert.equal(blank.status, 400, blank.text);
    assert.match(JSON.parse(blank.text).message, /malformed JSON: Unexpected end of JSON input/);
    assert.equal(s.store.size, 0);
  } finally {
    await s.close();
  }
});

Deno.test("httpbroker POST /state rejects the seed body as printed (missing comma) with the position", async () => {
  const s = serve();
  try {
    const r = await post(s.url, SEED_BODY_AS_PRINTED);
    assert.equal(r.status, 400);
    const body = JSON.parse(r.text);
    assert.equal(body.error_code, 40001);
    const pos = SEED_BODY_AS_PRINTED.indexOf('"ttl"');
    assert.match(body.message, new RegExp(`position ${pos}`));
    assert.match(body.message, /line 8 column 5/);
    assert.equal(s.store.size, 0);
  } finally {
    await s.close();
  }
});

Deno.test("httpbroker POST /state rejects bad input with a specific 4xx and caches nothing", async (t) => {
  const s = serve();
  try {
    const bad = async (body: string, status: number, expect: RegExp) => {
      const r = await post(s.url, body);
      assert.equal(r.status, status, r.text);
      const parsed = JSON.parse(r.text);
      assert.match(parsed.message, expect);
      assert.equal(s.store.size, 0, "nothing cached");
      return parsed;
    };
    await t.step("unknown state", async () => {
      const b = await bad(JSON.stringify({ entity: "e", check: "c", state: "fine" }), 400, /not one of ok, warning/);
      assert.equal(b.details[0].path, "state");
    });
    await t.step("missing entity", async () => {
      const b = await bad(JSON.stringify({ check: "c", state: "ok" }), 400, /entity is required/);
      assert.equal(b.details[0].path, "entity");
    });
    await t.step("empty check", async () => {
      await bad(JSON.stringify({ entity: "e", check: "", state: "ok" }), 400, /check must not be empty/);
    });
    await t.step("wrong types, every field listed", async () => {
      const b = await bad(
        JSON.stringify({ entity: 1, check: "c", state: "ok", ttl: "30", tags: [1], time: 1.5 }),
        400,
        /entity must be a string/,
      );
      const paths = b.details.map((d: { path: string }) => d.path).sort();
      assert.deepEqual(paths, ["entity", "tags", "time", "ttl"]);
    });
    await t.step("unknown fields are ignored (as Go's decoder does), wrong types of known ones are not", async () => {
      const r = await post(s.url, JSON.stringify({ entity: "e", check: "c", state: "ok", colour: "red", sumary: "x" }));
      assert.equal(r.status, 200, r.text);
      assert.doesNotMatch(r.text, /colour|sumary/);
      assert.equal(s.store.size, 1);
      await fetch(`${s.url}/state/e/c`, { method: "DELETE" }).then((res) => res.body?.cancel());
      await bad(JSON.stringify({ entity: "e", check: "c", state: "ok", initial_failure_delay: "30" }), 400, /delay/);
    });
    await t.step("not an object", async () => {
      await bad(JSON.stringify("ok"), 400, /an event must be a JSON object/);
    });
    await t.step("2 MiB body", async () => {
      const huge = JSON.stringify({ entity: "e", check: "c", state: "ok", summary: "x".repeat(2 * 1024 * 1024) });
      const b = await bad(huge, 413, /exceeds 1048576 bytes/);
      assert.equal(b.error_code, 41301);
    });
    await t.step("empty body", async () => {
      const b = await bad("", 400, /empty/);
      assert.equal(b.error_code, 40002);
    });
    await t.step("bulk mixing good and bad is rejected whole, with indexes", async () => {
      const b = await bad(
        JSON.stringify([
          { entity: "e1", check: "c", state: "ok" },
          { entity: "e2", check: "c", state: "bogus" },
          { entity: "e3", check: "c", state: "ok" },
          { entity: "e4", state: "ok", extra: 1 },
        ]),
        400,
        /item 1: state "bogus"/,
      );
      assert.deepEqual(
        b.details.map((d: { index: number; path: string }) => `${d.index}:${d.path}`).sort(),
        ["1:state", "3:check"],
      );
    });
    await t.step("invalid UTF-8", async () => {
      const bytes = new TextEncoder().encode(JSON.stringify({ entity: "e\u00e9", check: "c", state: "ok" }));
      // Cut the two-byte "é" in half: a lone lead byte followed by '"'.
      const broken = bytes.filter((_, i) => i !== bytes.indexOf(0xa9));
      const res = await fetch(`${s.url}/state`, { method: "POST", body: broken });
      assert.equal(res.status, 400);
      const b = await res.json();
      assert.match(b.message, /not valid UTF-8/);
      assert.equal(b.error_code, 40001);
      assert.equal(s.store.size, 0, "nothing cached");
    });
    await t.step("empty array", async () => {
      await bad("[]", 400, /at least one event/);
    });
  } finally {
    await s.close();
  }
});

Deno.test("httpbroker POST /state accepts a bulk array; JSON answer on Accept: application/json", async () => {
  const s = serve();
  try {
    const events = [
      { entity: "a", check: "x", state: "ok" },
      { entity: "b", check: "y", state: "WARNING", tags: ["t1", "t2"], details: "d", perfdata: "p=1" },
    ];
    const text = await post(s.url, JSON.stringify(events));
    assert.equal(text.status, 200);
    assert.equal(text.text.split("\n").filter((l) => l.startsWith("Caching state: ")).length, 2);
    const json = await post(s.url, JSON.stringify(events), { accept: "application/json" });
    assert.equal(json.status, 200);
    assert.deepEqual(JSON.parse(json.text), { cached: 2 });
    assert.equal(s.store.size, 2);
    // Without a JSON content type (curl -d without -H), the original accepted it, and so do we.
    const res = await fetch(`${s.url}/state`, { method: "POST", body: JSON.stringify(events[0]) });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await s.close();
  }
});

Deno.test("httpbroker GET /state returns the cache keyed entity:check; DELETE forgets one", async () => {
  const s = serve();
  try {
    await post(s.url, JSON.stringify([{ entity: "web/01", check: "HTTP 200", state: "ok", ttl: -1 }, SEED_EVENT]));
    const all = await (await fetch(`${s.url}/state`)).json();
    assert.deepEqual(Object.keys(all).sort(), ["foo-app-01:PING", "web/01:HTTP 200"]);
    assert.equal(all["foo-app-01:PING"].ttl, 30);
    assert.equal(all["web/01:HTTP 200"].ttl, -1);

    const del = await fetch(`${s.url}/state/${encodeURIComponent("web/01")}/${encodeURIComponent("HTTP 200")}`, {
      method: "DELETE",
    });
    assert.equal(del.status, 200);
    assert.deepEqual(await del.json(), { deleted: "web/01:HTTP 200" });
    assert.equal(s.store.get("web/01:HTTP 200"), undefined);

    const again = await fetch(`${s.url}/state/web%2F01/HTTP%20200`, { method: "DELETE" });
    assert.equal(again.status, 404);
    assert.match((await again.json()).message, /no cached state for web\/01:HTTP 200/);
    assert.equal(s.store.size, 1);
  } finally {
    await s.close();
  }
});

Deno.test("httpbroker ops routes: health, ready 503 while redis is down, metrics by code", async () => {
  const s = serve();
  try {
    assert.equal(await (await fetch(`${s.url}/health`)).text(), "OK");
    const ok = await fetch(`${s.url}/ready`);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    s.ready.redis = false;
    const down = await fetch(`${s.url}/ready`);
    assert.equal(down.status, 503);
    assert.deepEqual(await down.json(), { ready: false, checks: { redis: false } });
    await post(s.url, JSON.stringify(SEED_EVENT));
    await post(s.url, "{");
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /httpbroker_requests_total\{code="200"\} [1-9]/);
    assert.match(metrics, /httpbroker_requests_total\{code="400"\} 1/);
    assert.match(metrics, /httpbroker_states_cached 1/);
    const notFound = await fetch(`${s.url}/nope`);
    assert.equal(notFound.status, 404);
    await notFound.body?.cancel();
    const wrong = await fetch(`${s.url}/state`, { method: "PUT", body: "{}" });
    assert.equal(wrong.status, 405);
    await wrong.body?.cancel();
  } finally {
    await s.close();
  }
});
