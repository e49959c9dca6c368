/**
 * Unit tests of the webhook URL check as the handler uses it: remembered when allowed, refused every time otherwise.
 * @module
 */
import assert from "node:assert/strict";
import { HttpError } from "../http/errors.ts";
import { WebhookUrls } from "./auth.ts";

Deno.test("WebhookUrls remembers allowed URLs and refuses the others on every request", () => {
  const urls = new WebhookUrls(new Set(["hooks.example"]));
  assert.equal(urls.check("http://HOOKS.example/x"), "http://hooks.example/x");
  assert.equal(urls.check("http://HOOKS.example/x"), "http://hooks.example/x");
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => urls.check("http://evil.test/x"),
      (err: unknown) => err instanceof HttpError && err.status === 400,
    );
    assert.throws(() => urls.check("ftp://hooks.example/x"), HttpError);
  }
  // Past the bound the cache starts over; answers stay the same.
  for (let i = 0; i < 1100; i++) assert.equal(urls.check(`http://hooks.example/${i}`), `http://hooks.example/${i}`);
  assert.equal(urls.check("http://HOOKS.example/x"), "http://hooks.example/x");
  assert.throws(() => urls.check("http://u:p@hooks.example/x"), HttpError);
});
