import assert from "node:assert/strict";
import { HttpError } from "./errors.ts";
import { routeTable } from "./routes.ts";

function thrown(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error("nothing thrown");
}

Deno.test("routeTable: exact paths, prefixes, HEAD from GET, 405 with Allow, the service's 404", async () => {
  const route = routeTable([
    { path: "/state", methods: { GET: () => new Response("list"), POST: () => new Response("post") } },
    {
      path: "/state/",
      prefix: true,
      methods: { DELETE: (req) => new Response(`delete ${new URL(req.url).pathname}`) },
    },
    { path: "/health", methods: { GET: () => new Response("OK"), HEAD: () => new Response(null, { status: 204 }) } },
  ], (req, path) => new HttpError(404, `no route for ${req.method} ${path}`));
  const text = async (method: string, url: string) => await (await route(new Request(url, { method }))).text();

  assert.equal(await text("GET", "http://x/state?all=1"), "list");
  assert.equal(await text("POST", "http://x/state"), "post");
  assert.equal(await text("DELETE", "http://x/state/a%20b/c"), "delete /state/a%20b/c");
  assert.equal((await route(new Request("http://x/state", { method: "HEAD" }))).status, 200, "HEAD answered by GET");
  assert.equal((await route(new Request("http://x/health", { method: "HEAD" }))).status, 204, "its own HEAD");

  const wrong = thrown(() => route(new Request("http://x/state", { method: "PUT" })));
  assert.equal(wrong.status, 405);
  assert.equal(wrong.message, "method PUT not allowed on /state");
  assert.equal(wrong.headers.allow, "GET, HEAD, POST");
  assert.equal(thrown(() => route(new Request("http://x/state/a/b"))).headers.allow, "DELETE");

  const missing = thrown(() => route(new Request("http://x/stat")));
  assert.equal(missing.status, 404);
  assert.equal(missing.message, "no route for GET /stat");
  assert.equal(
    thrown(() => routeTable([])(new Request("http://x/a", { method: "POST" }))).message,
    "not found: POST /a",
  );
});

Deno.test("routeTable refuses a path listed twice", () => {
  const twice = { path: "/a", methods: { GET: () => new Response() } };
  assert.throws(() => routeTable([twice, twice]), /route \/a is listed twice/);
});
