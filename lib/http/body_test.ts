import assert from "node:assert/strict";
import { createLogger } from "../log.ts";
import { readJsonBody } from "./body.ts";
import { errorResponse, HttpError, withErrorBodies } from "./errors.ts";

const json = { "content-type": "application/json" };

async function rejection(req: Request, maxBytes = 64): Promise<HttpError> {
  try {
    await readJsonBody(req, { maxBytes });
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error("expected readJsonBody to reject");
}

Deno.test("readJsonBody", async (t) => {
  await t.step("parses a JSON body", async () => {
    const req = new Request("http://x/", { method: "POST", headers: json, body: '{"a":[1,2]}' });
    assert.deepEqual(await readJsonBody(req, { maxBytes: 64 }), { a: [1, 2] });
  });

  await t.step("rejects a wrong content type with 415 naming it", async () => {
    const err = await rejection(
      new Request("http://x/", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }),
    );
    assert.equal(err.status, 415);
    assert.equal(err.errorCode, 41501);
    assert.match(err.message, /text\/plain/);
  });

  await t.step("accepts +json types and charset parameters", async () => {
    const req = new Request("http://x/", {
      method: "POST",
      headers: { "content-type": "application/vnd.x+json; charset=utf-8" },
      body: "1",
    });
    assert.equal(await readJsonBody(req, { maxBytes: 64 }), 1);
  });

  await t.step("rejects an oversized body with 413 from Content-Length", async () => {
    const err = await rejection(new Request("http://x/", { method: "POST", headers: json, body: "x".repeat(65) }));
    assert.equal(err.status, 413);
  });

  await t.step("rejects an oversized streamed body without Content-Length", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        if (pulled > 100) return c.close(); // bounded: the reader must stop long before this
        c.enqueue(new TextEncoder().encode("[1,1,1,1,1,1,1,1,1,1,"));
      },
    });
    const err = await rejection(new Request("http://x/", { method: "POST", headers: json, body }));
    assert.equal(err.status, 413);
    assert.ok(pulled < 10, `read ${pulled} chunks before giving up`);
  });

  await t.step("refuses a leading byte order mark with the same 400 as the Request.json() path", async () => {
    const body = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"a":1}')]);
    const err = await rejection(new Request("http://x/", { method: "POST", headers: json, body }));
    assert.equal(err.status, 400);
    assert.equal(err.errorCode, 40001);
    assert.match(err.message, /byte order mark \(U\+FEFF\)/);
  });

  await t.step("rejects an empty body with 400", async () => {
    const err = await rejection(new Request("http://x/", { method: "POST", headers: json, body: "  " }));
    assert.equal(err.status, 400);
    assert.equal(err.errorCode, 40002);
  });

  await t.step("rejects malformed JSON with 400 naming the position", async () => {
    const err = await rejection(
      new Request("http://x/", { method: "POST", headers: json, body: '{\n "a": 1\n "b": 2}' }),
    );
    assert.equal(err.status, 400);
    assert.match(err.message, /malformed JSON/);
    assert.match(err.message, /line 3 column 2/);
  });

  await t.step("rejects invalid UTF-8 with 400", async () => {
    const err = await rejection(
      new Request("http://x/", { method: "POST", headers: json, body: new Uint8Array([0x22, 0xff, 0x22]) }),
    );
    assert.equal(err.status, 400);
  });
});

Deno.test("errorResponse and withErrorBodies produce the JSON error body", async () => {
  const res = errorResponse(
    new HttpError(403, "topic not allowed", {
      details: [{ path: "KCL-TOPIC", message: "not in allow-list" }],
      subcode: 3,
    }),
  );
  assert.equal(res.status, 403);
  assert.deepEqual(await res.json(), {
    error_code: 40303,
    message: "topic not allowed",
    details: [{ path: "KCL-TOPIC", message: "not in allow-list" }],
  });
  const errors: string[] = [];
  const logger = createLogger({ write: (l) => errors.push(l) });
  const statuses: number[] = [];
  const handler = withErrorBodies(
    () => Promise.reject(new Error("secret internals")),
    logger,
    (status) => statuses.push(status),
  );
  const res500 = await handler(new Request("http://x/"));
  assert.equal(res500.status, 500);
  assert.doesNotMatch(await res500.text(), /secret/);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /"level":"error","msg":"request failed","error":"secret internals"/);
  // Thrown synchronously, thrown HttpErrors, and answers: each answered and counted.
  const sync = withErrorBodies(
    () => {
      throw new HttpError(404, "nope");
    },
    logger,
    (status) => statuses.push(status),
  );
  assert.equal((await sync(new Request("http://x/"))).status, 404);
  const fine = withErrorBodies(() => new Response("ok"), logger, (status) => statuses.push(status));
  assert.equal(await (await fine(new Request("http://x/"))).text(), "ok");
  assert.deepEqual(statuses, [500, 404, 200]);
  assert.equal(errors.length, 1, "an HttpError is an answer, not a logged failure");
});

Deno.test("readJsonBody takes a body with Content-Length in one piece, with the same errors", async (t) => {
  // A real server, so the requests carry the Content-Length their client declared.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    try {
      return Response.json({ ok: await readJsonBody(req, { maxBytes: 64 }) });
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return Response.json({ status: err.status, code: err.errorCode, message: err.message });
    }
  });
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
  const post = async (body: string) => {
    const res = await fetch(url, { method: "POST", headers: json, body });
    return await res.json();
  };
  try {
    await t.step("parses it", async () => {
      assert.deepEqual(await post('{"a":[1,2]}'), { ok: { a: [1, 2] } });
    });
    await t.step("413 when the declared length is over the limit", async () => {
      assert.deepEqual(await post("x".repeat(65)), {
        status: 413,
        code: 41301,
        message: "request body exceeds 64 bytes",
      });
    });
    await t.step("400 empty and malformed, with the position", async () => {
      assert.equal((await post(" ")).code, 40002);
      const bad = await post('{\n "a": 1\n "b": 2}');
      assert.equal(bad.code, 40001);
      assert.match(bad.message, /malformed JSON: .*line 3 column 2/);
    });
  } finally {
    await server.shutdown();
  }
  await t.step("a Content-Length smaller than the body (built in-process) still cannot pass the limit", async () => {
    const req = new Request("http://x/", {
      method: "POST",
      headers: { ...json, "content-length": "2" },
      body: `[${"1,".repeat(40)}1]`,
    });
    assert.equal((await rejection(req)).status, 413);
  });
});
