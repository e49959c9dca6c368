/**
 * Router edge cases found in review: an SSE server that asks for `retry: 0` and hangs up, and an SSE line that
 * never ends.
 * @module
 */
import assert from "node:assert/strict";
import { systemClock } from "../lib/clock.ts";
import { createLogger } from "../lib/log.ts";
import { ApiKeyToken } from "../lib/router/houston_client.ts";
import { SseSubscriber } from "../lib/router/sse_subscriber.ts";
import { testLogger, waitUntil } from "../testing/harness.ts";

function sseServer(respond: (n: number) => ReadableStream<Uint8Array> | string) {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    requests++;
    return new Response(respond(requests), { headers: { "content-type": "text/event-stream" } });
  });
  return {
    url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/broadcast`,
    get requests() {
      return requests;
    },
    close: () => server.shutdown(),
  };
}

Deno.test("an SSE server answering `retry: 0` and hanging up is not reconnected to in a tight loop", async () => {
  const server = sseServer(() => "retry: 0\n\n");
  const sse = new SseSubscriber({
    url: server.url,
    tokens: new ApiKeyToken("k"),
    clock: systemClock,
    logger: testLogger(),
    onClickstream: () => {},
  });
  sse.start();
  try {
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(server.requests >= 2, `reconnected ${server.requests - 1} times`);
    assert.ok(server.requests <= 10, `${server.requests} connections in one second`);
  } finally {
    await sse.stop();
    await server.close();
  }
});

Deno.test("an SSE line longer than the limit drops the stream and reconnects instead of buffering it", async () => {
  let sent = 0;
  const server = sseServer((n) => {
    if (n > 1) return 'event: clickstream\ndata: {"appId":"after"}\n\n';
    // A line that never ends: 16 KiB chunks until the client gives up (bounded so a failing test ends).
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ > 2_000) return c.close();
        c.enqueue(new TextEncoder().encode(sent === 1 ? "data: " : "x".repeat(16 * 1024)));
      },
    });
  });
  const lines: string[] = [];
  const apps: string[] = [];
  const sse = new SseSubscriber({
    url: server.url,
    tokens: new ApiKeyToken("k"),
    clock: systemClock,
    logger: createLogger({ write: (l) => lines.push(l) }),
    onClickstream: (appId) => apps.push(appId),
    initialBackoffMs: 10,
    maxLineBytes: 64 * 1024,
  });
  sse.start();
  try {
    await waitUntil(() => apps.includes("after"), 10_000, "the subscriber to reconnect and read the next event");
    assert.ok(lines.some((l) => l.includes("65536")), lines.join("\n"));
    assert.ok(sent < 1000, `the client read ${sent} chunks of one line before giving up`);
  } finally {
    await sse.stop();
    await server.close();
  }
});
