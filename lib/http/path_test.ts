import assert from "node:assert/strict";
import { pathOf } from "./path.ts";

Deno.test("pathOf agrees with URL.pathname on the URLs Deno.serve hands a handler", () => {
  for (
    const url of [
      "http://127.0.0.1:8080/state",
      "http://127.0.0.1:8080/state?x=1",
      "http://h/state/a%20b/c#frag",
      "http://h/events?x=/y#z?w",
      "http://h/",
      "https://[::1]:3090/metrics",
    ]
  ) {
    assert.equal(pathOf(url), new URL(url).pathname, url);
  }
  assert.equal(pathOf("http://h"), "/");
});
