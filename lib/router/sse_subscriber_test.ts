import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { silentLogger } from "../log.ts";
import { FakeHouston } from "../../testing/houston.ts";
import { ApiKeyToken } from "./houston_client.ts";
import { SseSubscriber } from "./sse_subscriber.ts";

/** Waits (real time, bounded) for `cond`; the subscriber's network I/O is real even though its clock is not. */
async function eventually(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("SseSubscriber reconnects after 1 s doubling to 30 s, then at the server's retry, with Last-Event-ID", async () => {
  const houston = await FakeHouston.start({ apiKey: "k" });
  const clock = new ManualClock(1_000_000);
  let attempts = 0;
  const counted = (input: string, init: RequestInit) => {
    attempts++;
    return fetch(input, init);
  };
  const appIds: string[] = [];
  const connectedSince: number[] = [];
  const sse = new SseSubscriber({
    url: houston.sseUrl,
    tokens: new ApiKeyToken("k"),
    clock,
    logger: silentLogger,
    fetch: counted,
    onClickstream: (id) => appIds.push(id),
    onConnected: (since) => connectedSince.push(since),
  });
  try {
    await houston.down();
    sse.start();
    await eventually(() => attempts === 1 && clock.pending === 1, "the first failed attempt");
    // 1 s, 2 s, 4 s, ... capped at 30 s.
    for (const delay of [1000, 2000, 4000, 8000, 16000, 30000, 30000]) {
      const before = attempts;
      await clock.advance(delay - 1);
      assert.equal(attempts, before, `no attempt before ${delay} ms`);
      await clock.advance(1);
      await eventually(() => attempts === before + 1 && clock.pending === 1, `attempt after ${delay} ms`);
    }
    await houston.up();
    await clock.advance(30000);
    await eventually(() => sse.connected, "the connection");
    assert.deepEqual(connectedSince, [1_000_000]);
    houston.push({ retry: 5000, data: "ignored" });
    houston.pushClickstream("app-9", "id-7");
    await eventually(() => appIds.length === 1, "the clickstream event");
    assert.deepEqual(appIds, ["app-9"]);
    const cutAt = clock.now();
    houston.cutStreams();
    await eventually(() => !sse.connected && clock.pending === 1, "the disconnect");
    const before = attempts;
    await clock.advance(4999);
    assert.equal(attempts, before);
    await clock.advance(1);
    await eventually(() => sse.connected, "the reconnect at the server's retry");
    assert.equal(houston.sseRequests.at(-1)?.lastEventId, "id-7");
    assert.equal(connectedSince.at(-1), cutAt);
  } finally {
    await sse.stop();
    await houston.close();
  }
});
