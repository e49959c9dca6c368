import assert from "node:assert/strict";
import { formatSseEvent, readSseStream, type SseEvent, SseParser } from "./sse.ts";

function parseAll(chunks: string[]): { events: SseEvent[]; retries: number[]; comments: string[] } {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const p = new SseParser({
    onEvent: (e) => events.push(e),
    onRetry: (ms) => retries.push(ms),
    onComment: (c) => comments.push(c),
  });
  for (const c of chunks) p.feed(c);
  p.end();
  return { events, retries, comments };
}

Deno.test("SseParser", async (t) => {
  await t.step("joins multi-line data with LF and defaults the type to message", () => {
    const { events } = parseAll(["data: YHOO\ndata: +2\ndata: 10\n\n"]);
    assert.deepEqual(events, [{ type: "message", data: "YHOO\n+2\n10", lastEventId: "" }]);
  });

  await t.step("accepts CR, LF and CRLF line ends, also split across chunks", () => {
    const { events } = parseAll(["event: a\r", "\ndata: 1\r\r", "data: 2\n", "\n", "data: 3\r\n\r\n"]);
    assert.deepEqual(events.map((e) => [e.type, e.data]), [["a", "1"], ["message", "2"], ["message", "3"]]);
  });

  await t.step("treats colon lines as comments and reports them", () => {
    const { events, comments } = parseAll([": heartbeat\n\n", ":x\ndata: y\n\n"]);
    assert.deepEqual(comments, ["heartbeat", "x"]);
    assert.deepEqual(events.map((e) => e.data), ["y"]);
  });

  await t.step("strips exactly one leading space of a value", () => {
    const { events } = parseAll(["data:no-space\n\n", "data:  two\n\n"]);
    assert.deepEqual(events.map((e) => e.data), ["no-space", " two"]);
  });

  await t.step("a field without colon has an empty value; `data` alone adds an empty line", () => {
    const { events } = parseAll(["data\ndata\n\n", "data:\n\n"]);
    assert.deepEqual(events.map((e) => e.data), ["\n", ""]);
  });

  await t.step("id persists across events, an id with NUL is ignored, and an empty id resets it", () => {
    const { events } = parseAll(["id: 7\ndata: a\n\n", "data: b\n\n", "id: x\0y\ndata: c\n\n", "id\ndata: d\n\n"]);
    assert.deepEqual(events.map((e) => e.lastEventId), ["7", "7", "7", ""]);
  });

  await t.step("retry must be all digits", () => {
    const { retries } = parseAll(["retry: 1500\n\n", "retry: 15x\n\n", "retry: -1\n\n", "retry:\n\n"]);
    assert.deepEqual(retries, [1500]);
  });

  await t.step("an event without data is not dispatched and its type is reset", () => {
    const { events } = parseAll(["event: lonely\n\n", "data: z\n\n"]);
    assert.deepEqual(events.map((e) => e.type), ["message"]);
  });

  await t.step("an unterminated last event is discarded at end of stream", () => {
    const { events } = parseAll(["data: done\n\n", "data: partial\n"]);
    assert.deepEqual(events.map((e) => e.data), ["done"]);
  });

  await t.step("unknown fields are ignored and a leading BOM is stripped", () => {
    const { events } = parseAll(["\uFEFFfoo: bar\ndata: ok\n\n"]);
    assert.deepEqual(events.map((e) => e.data), ["ok"]);
  });

  await t.step("readSseStream decodes UTF-8 split inside a character and returns the last id", async () => {
    const bytes = new TextEncoder().encode('id: 42\nevent: clickstream\ndata: {"appId":"é"}\n\n');
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
        c.close();
      },
    });
    const events: SseEvent[] = [];
    const last = await readSseStream(stream, { onEvent: (e) => events.push(e) });
    assert.equal(last, "42");
    assert.deepEqual(events, [{ type: "clickstream", data: '{"appId":"é"}', lastEventId: "42" }]);
  });

  await t.step("formatSseEvent round-trips through the parser", () => {
    const text = formatSseEvent({ event: "clickstream", id: "9", data: "a\nb" });
    const { events } = parseAll([text]);
    assert.deepEqual(events, [{ type: "clickstream", data: "a\nb", lastEventId: "9" }]);
  });
});
